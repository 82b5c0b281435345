import sys

from optplace.cli import main

sys.exit(main())
