"""Habits every optplace command keeps: defaults and exit statuses in --help, -v/-q, '-' for stdin, quiet on a closed pipe."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from optplace.cli import build_parser, main
from tests.conftest import INSTANCES, ROOT

TINY = INSTANCES / "tiny" / "ps_one_per_gpu.json"


def commands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, nested ones ('import k8s') included."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, command in action.choices.items():
                    found[f"{prefix}{name}"] = command
                    walk(command, f"{prefix}{name} ")

    walk(build_parser(), "")
    return found


@pytest.mark.parametrize("name", sorted(commands()))
def test_help_shows_exit_statuses_and_defaults(name: str) -> None:
    """Each command's --help lists its exit statuses, and every option with a default shows it."""
    parser = commands()[name]
    text = " ".join(parser.format_help().split())
    assert "exit status: 0" in text
    for action in parser._actions:
        shows_default = action.default not in (None, False, [], argparse.SUPPRESS)
        if action.option_strings and action.help and shows_default and not isinstance(action, argparse._CountAction):
            assert "default" in (action.help or "") or f"(default: {action.default})" in text, action.dest


def test_every_option_has_help() -> None:
    """No option is left without a help text (--seed and --threads included)."""
    for name, parser in commands().items():
        for action in parser._actions:
            assert not action.option_strings or action.help, (name, action.option_strings)


def test_verbosity_is_read_before_and_after_the_command(monkeypatch) -> None:
    """-v/-q count the same wherever they stand, nested commands too: args.verbosity is verbose minus quiet."""
    seen = []
    parser = build_parser()
    monkeypatch.setattr("optplace.cli.build_parser", lambda: parser)

    def record(parent: argparse.ArgumentParser) -> None:
        for action in parent._actions:
            if isinstance(action, argparse._SubParsersAction):
                for command in action.choices.values():
                    command.set_defaults(handler=lambda args: seen.append(args.verbosity) or 0)
                    record(command)

    record(parser)
    main(["-qq", "methods"])
    main(["methods", "-v"])
    main(["-v", "methods", "-vq", "-v"])
    main(["-q", "import", "-q", "k8s", "n.json", "p.json", "--models", "m.json", "-v"])
    assert seen == [-2, 1, 2, -1]


def test_solve_reads_stdin_and_warns_on_stderr() -> None:
    """`optplace solve -` reads the instance from stdin; the objectives warning is one line on stderr, -qq hides it."""
    command = [sys.executable, "-m", "optplace", "solve", "-", "-m", "first_fit", "--objective", "min_accelerators"]
    out = subprocess.run(command, input=TINY.read_text(), capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "hosted" in out.stdout
    assert out.stderr.startswith("warning: objectives ['min_accelerators'] without host_all make hosting nothing")
    quiet = subprocess.run([*command, "-qq"], input=TINY.read_text(), capture_output=True, text=True, cwd=ROOT)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_closed_stdout_ends_quietly() -> None:
    """Writing to a pipe nobody reads (| head) ends with status 141 and no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        out = subprocess.run(
            [sys.executable, "-m", "optplace", "generate", "--list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert out.returncode == 141
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr
