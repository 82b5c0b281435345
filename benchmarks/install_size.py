"""Install size of the light core against the full install: fresh virtual environments, ``du``.

Creates three environments in a temporary folder (or ``--keep DIR``): ``pip install .`` (the light
core: library and CLI with HiGHS and OR-Tools), ``pip install ".[all]"`` (server, batch, pyomo) and
``pip install ".[dev]"`` (what the README installs: everything plus the test tools), and reports
the size of each environment and of its largest packages. Needs the package index (network or a
local mirror); takes minutes.

Run from the repository root::

    python benchmarks/install_size.py

Results go to ``benchmarks/results/install_size.md`` and ``install_size.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = {"core": ".", "all": ".[all]", "dev": ".[dev]"}


def size_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


def install(folder: Path, target: str) -> dict:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, target], check=True, cwd=ROOT)
    site = next((folder / "lib").glob("python3*/site-packages"))
    packages = sorted(((size_mb(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)[:6]
    listed = subprocess.run(
        [str(folder / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True, text=True
    )
    return {
        "environment_mb": round(size_mb(folder), 1),
        "distributions": len(json.loads(listed.stdout)),
        "largest": [{"package": name, "mb": round(mb, 1)} for mb, name in packages],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", default=None, metavar="DIR", help="create the environments in DIR and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(args.keep or scratch)
        rows = {name: install(base / f"venv-{name}", target) for name, target in VARIANTS.items()}
    lines = [
        "# Install size: light core vs extras",
        "",
        f"Fresh virtual environments, `du -sk`; Python {platform.python_version()}, {platform.platform()}.",
        "",
        "| install | command | environment MB | distributions | largest packages (MB) |",
        "| --- | --- | ---: | ---: | --- |",
        *(
            f'| {name} | `pip install "{VARIANTS[name]}"` | {row["environment_mb"]:.0f} | {row["distributions"]} | '
            + ", ".join(f"{p['package']} {p['mb']:.0f}" for p in row["largest"])
            + " |"
            for name, row in rows.items()
        ),
        "",
        "Command: python benchmarks/install_size.py",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "install_size.md").write_text(text + "\n")
    (RESULTS / "install_size.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
