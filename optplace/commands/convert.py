"""``optplace convert``: operations-research benchmark files as placement instance files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("orlib-gap", "gap-single", "bpp")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert OR-Library GAP or BPPLIB bin-packing files into placement instances",
        description=(
            "Write one placement instance per problem: 'orlib-gap' reads an OR-Library GAP file "
            "(several problems), 'gap-single' one problem without the leading count (Yagiura type C), "
            "'bpp' a BPPLIB bin-packing file. See optplace/convert.py for the mapping."
        ),
    )
    parser.add_argument("file", help="input file")
    parser.add_argument("--from", dest="source", required=True, choices=FORMATS, help="input format")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    parser.add_argument(
        "--sense",
        choices=("max", "min"),
        default=None,
        help="GAP only: maximise profit or minimise cost (default: max for gap1-gap12, min otherwise)",
    )
    parser.add_argument(
        "--optima",
        default=None,
        metavar="CSV",
        help="known optima (OR-Library's file,problem,...,optimum or instance,optimum) recorded in each "
        "instance's provenance (default: an optima.csv beside the input file, if present)",
    )
    parser.set_defaults(handler=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from optplace import convert
    from optplace.io import dump_instance

    source = Path(args.file)
    out = Path(args.out)
    try:
        optima_path = Path(args.optima) if args.optima else source.with_name("optima.csv")
        optima = convert.read_optima(optima_path) if optima_path.exists() else {}
        if args.source == "bpp":
            problem = convert.read_bpp(source)
            provenance: dict = {"source": str(source)}
            known = optima.get((source.stem, 1))
            if known is not None:
                provenance["known_optimum"] = {"min_accelerators": known, "source": str(optima_path)}
            instances = [convert.bpp_to_instance(problem, provenance=provenance)]
        else:
            problems = (
                convert.read_orlib_gap(source) if args.source == "orlib-gap" else [convert.read_gap_single(source)]
            )
            sense = args.sense or convert.gap_sense(source)
            instances = []
            for index, problem in enumerate(problems, start=1):
                provenance = {"source": str(source), "problem": index}
                known = optima.get((source.stem, index))
                if known is not None:
                    provenance["known_optimum"] = {
                        ("max_value" if sense == "max" else "min_cost"): known,
                        "source": str(optima_path),
                    }
                instances.append(convert.gap_to_instance(problem, sense, provenance=provenance))
    except convert.ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
        for instance in instances:
            path = out / f"{instance.name}.json"
            dump_instance(instance, path)
            print(path)
    except OSError as error:
        print(f"error: cannot write to {out}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0
