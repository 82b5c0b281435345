"""``optplace generate``: write reproducible instance sets from the generator families."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate instance files from a family (see --list)",
        description="Write COUNT instances of a family (seeds S..S+COUNT-1) to DIR and update DIR/manifest.json.",
    )
    parser.add_argument("--family", "-f", default="hetero", help="generator family (default: hetero, seed-like)")
    parser.add_argument("--count", "-n", type=int, default=1, help="number of instances (default 1)")
    parser.add_argument("--seed", "-s", type=int, default=0, help="seed of the first instance (default 0)")
    parser.add_argument("--out", "-o", default=None, metavar="DIR", help="output folder")
    parser.add_argument("--apps", type=int, default=None, metavar="N", help="applications (default: the family's)")
    parser.add_argument(
        "--accelerators", type=int, default=None, metavar="N", help="accelerators (default: from apps_per_accelerator)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="override a generator knob; VALUE is JSON when it parses, else a string (repeatable)",
    )
    parser.add_argument(
        "--profiles",
        default=None,
        metavar="FILE",
        help="profiles document (optplace calibrate --out) merged over the zoo's profiles of every instance",
    )
    parser.add_argument("--list", action="store_true", help="list the families and knobs, then exit")
    parser.set_defaults(handler=run_generate)


def parse_knobs(items: list[str]) -> dict:
    knobs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KNOB=VALUE, got {item!r}")
        try:
            knobs[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            knobs[key.strip()] = value
    return knobs


def run_generate(args: argparse.Namespace) -> int:
    from optplace.commands.table import format_table
    from optplace.generate import DEFAULT_KNOBS, list_families, write_set

    if args.list:
        print(format_table(["family", "description"], [(f.name, f.description) for f in list_families()]))
        print()
        print(format_table(["knob", "default"], [(k, json.dumps(v)) for k, v in DEFAULT_KNOBS.items()]))
        return 0
    if args.out is None:
        print("error: --out DIR is required", file=sys.stderr)
        return 2
    if args.count < 1:
        print("error: --count must be at least 1", file=sys.stderr)
        return 2
    try:
        knobs = parse_knobs(args.set)
        profiles = None
        if args.profiles:
            from optplace.profiles import load_profiles

            loaded = load_profiles(args.profiles)
            profiles = loaded.model_copy(update={"provenance": {**loaded.provenance, "source": args.profiles}})
        paths = write_set(
            args.out,
            family=args.family,
            count=args.count,
            seed=args.seed,
            n_apps=args.apps,
            n_accelerators=args.accelerators,
            command=_command(args),
            profiles=profiles,
            **knobs,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    logging.getLogger("optplace.cli").info("wrote %d instances and %s/manifest.json", len(paths), args.out)
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line equivalent of ``args`` (when called through ``main([...])``)."""
    parts = ["optplace", "generate", "--family", args.family, "--count", str(args.count), "--seed", str(args.seed)]
    if args.apps is not None:
        parts += ["--apps", str(args.apps)]
    if args.accelerators is not None:
        parts += ["--accelerators", str(args.accelerators)]
    for item in args.set:
        parts += ["--set", item]
    if args.profiles:
        parts += ["--profiles", str(args.profiles)]
    parts += ["--out", str(args.out)]
    return shlex.join(parts)
