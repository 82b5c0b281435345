"""``optplace validate``: check an instance file and say what to fix (:mod:`optplace.instance_check`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

EXIT_STATUS = (
    "exit status: 0 the file is a valid instance (warnings may be printed); 1 it is not (or, with --strict, "
    "it has warnings); 2 it cannot be read or the arguments are wrong."
)
SHOWN_PER_CODE = 10  # text output lists this many findings of one kind, then counts the rest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check an instance file: every problem at once, with did-you-mean and unit warnings",
        description=(
            "Check an instance file against the schema and its cross-references in one pass, suggest the "
            "closest name for misspelt fields and unknown models, accelerator types and accelerators, and warn "
            "about numbers in the wrong unit (seconds for ms, GB for MB, per-minute rates), objectives that make "
            "hosting nothing optimal, and applications that fit nowhere even alone (with the numbers). "
            "See docs/cli.md."
        ),
        epilog=EXIT_STATUS,
    )
    parser.add_argument("instance", help="instance JSON file, or - for standard input")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (every finding)")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors (exit status 1)")
    parser.set_defaults(handler=run_validate_instance)


def run_validate_instance(args: argparse.Namespace) -> int:
    from optplace.instance_check import check_instance

    report = check_instance(args.instance)
    if any(f.code == "unreadable" for f in report.errors):
        print(f"error: {report.source}: {report.errors[0].message}", file=sys.stderr)
        return 2
    failed = not report.valid or (args.strict and bool(report.warnings))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    elif text := render(report, verbosity=args.verbosity):
        print(text)
    return 1 if failed else 0


def render(report, *, verbosity: int = 0) -> str:
    """Errors, then warnings, one line each (at most SHOWN_PER_CODE of a kind, all with -v), then a verdict.

    -q drops the verdict of a valid file, -qq the warnings too.
    """
    lines: list[str] = []
    sections = [("errors", report.errors)] + ([("warnings", report.warnings)] if verbosity > -2 else [])
    shown = SHOWN_PER_CODE if verbosity < 1 else len(report.findings)
    for title, findings in sections:
        if not findings:
            continue
        lines.append(f"{title}:")
        by_code: dict[str, int] = defaultdict(int)
        for finding in findings:
            by_code[finding.code] += 1
            if by_code[finding.code] <= shown:
                lines.append(f"  {finding.pointer or '/'}: {finding.message}")
        for code, count in by_code.items():
            if count > shown:
                lines.append(f"  ... and {count - shown} more {code} (-v or --json lists all)")
    counts = f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    if report.valid:
        instance = report.instance
        size = (
            f"{len(instance.applications)} applications, {len(instance.accelerators())} accelerators on "
            f"{len(instance.nodes)} nodes, {len(instance.models)} models"
        )
        verdict = f"{report.source}: valid instance ({size}); {counts}"
    else:
        verdict = f"{report.source}: not a valid instance; {counts}"
    if verbosity >= 0 or not report.valid:
        lines.append(verdict)
    return "\n".join(lines)
