"""The ``optplace`` command line: one subcommand per module in ``optplace.commands``.

Habits every subcommand shares, set up here so that no command has to remember them:

* ``-v``/``-q`` (repeatable, before or after the subcommand) set ``args.verbosity`` (verbose count
  minus quiet count) and the level of the ``optplace`` logger on stderr: ``-qq`` errors only, ``-q``
  warnings, default information (progress), ``-v`` debug. Python warnings from optplace print as
  one ``warning: ...`` line. Results go to stdout; everything else goes to stderr.
* ``--help`` shows each option's default and the command's exit statuses (a command states its own
  in its epilog; the rest share :data:`DEFAULT_EXIT_STATUS`).
* A closed stdout (``optplace generate --list | head``) ends the command quietly with status 141,
  as a shell reports a process stopped by SIGPIPE; Ctrl-C ends it with 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import warnings

# Each module defines ``register(subparsers)`` adding one or more subcommands whose parser sets
# ``handler`` (a function taking the parsed args and returning an exit code).
COMMAND_MODULES = [
    "optplace.commands.solve",
    "optplace.commands.replan",
    "optplace.commands.validate_instance",
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

DEFAULT_EXIT_STATUS = "exit status: 0 success; 2 bad input or usage; 130 interrupted (Ctrl-C); 141 stdout closed."
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
_VERBOSITY_DEST = re.compile(r"^(level\d+_)?(verbose|quiet)$")
LOG_LEVELS = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to every option whose help does not already mention its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "default" in text
            or default in (None, False, [], argparse.SUPPRESS)
            or isinstance(action, argparse._CountAction | argparse._StoreConstAction | argparse._VersionAction)
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def _add_verbosity(parser: argparse.ArgumentParser, where: str) -> None:
    # Separate counters before and after the command: argparse parses a subcommand into a fresh
    # namespace, so one shared counter would forget the flags given before the command.
    group = parser.add_argument_group("output")
    group.add_argument(
        "-v", "--verbose", action="count", default=0, dest=f"{where}verbose", help="more detail on stderr (repeatable)"
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        dest=f"{where}quiet",
        help="less on stderr: -q warnings and errors only, -qq errors only",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optplace",
        description="Place DNN inference applications on shared accelerators under latency SLOs.",
        epilog=DEFAULT_EXIT_STATUS + " Run 'optplace COMMAND --help' for a command's own.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_verbosity(parser, "")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    _equip_commands(parser, depth=1)
    return parser


def _equip_commands(parser: argparse.ArgumentParser, depth: int) -> None:
    """Help format, exit statuses and -v/-q on every (sub)command, nested ones (import k8s) included."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for command in action.choices.values():
            command.formatter_class = HelpFormatter
            command.epilog = command.epilog or DEFAULT_EXIT_STATUS
            _add_verbosity(command, f"level{depth}_")
            _equip_commands(command, depth + 1)


def _verbosity(args: argparse.Namespace) -> int:
    """Verbose minus quiet counts, wherever on the command line they stood."""
    counts = {k: v for k, v in vars(args).items() if _VERBOSITY_DEST.match(k)}
    return sum(v for k, v in counts.items() if k.endswith("verbose")) - sum(
        v for k, v in counts.items() if k.endswith("quiet")
    )


def _version() -> str:
    from optplace import __version__

    return __version__


def configure_output(verbosity: int) -> None:
    """Route the ``optplace`` logger and optplace's warnings to stderr at the level ``verbosity`` asks for."""
    level = LOG_LEVELS[max(-2, min(1, verbosity))]
    logger = logging.getLogger("optplace")
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
        logger.propagate = False
    from optplace.exceptions import OptplaceWarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if level > logging.WARNING:
            return
        if issubclass(category, OptplaceWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)

    warnings.showwarning = show


class _StderrHandler(logging.Handler):
    """One plain line per record on whatever ``sys.stderr`` is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(record.getMessage(), file=sys.stderr)
        except Exception:
            self.handleError(record)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbosity = _verbosity(args)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    configure_output(args.verbosity)
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here rather than at exit
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, and keep Python's exit-time flush from complaining.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
