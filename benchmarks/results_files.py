"""Writing a benchmark's results: the Markdown table and the JSON rows, side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(out: str | Path, text: str, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """``out``.md gets ``text``; ``out``.json gets ``{"meta": meta, "rows": rows}``."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".md").write_text(text)
    path.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
