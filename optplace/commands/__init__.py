"""CLI subcommands; each module adds its parsers in ``register(subparsers)``."""
