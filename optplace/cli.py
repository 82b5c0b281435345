"""The ``optplace`` command line: one subcommand per module in ``optplace.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines ``register(subparsers)`` adding one or more subcommands whose parser sets
# ``handler`` (a function taking the parsed args and returning an exit code).
COMMAND_MODULES = [
    "optplace.commands.solve",
    "optplace.commands.generate",
    "optplace.commands.batch",
    "optplace.commands.report",
    "optplace.commands.convert",
    "optplace.commands.serve",
    "optplace.commands.validate",
    "optplace.commands.simulate",
    "optplace.commands.calibrate",
    "optplace.commands.k8s",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optplace",
        description="Place DNN inference applications on shared accelerators under latency SLOs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def _version() -> str:
    from optplace import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
