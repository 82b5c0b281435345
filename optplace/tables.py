"""Plain-text tables for terminal output: the CLI and `SolveResult.summary()`."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align_right: set[int] | None = None) -> str:
    """Columns sized to content; numeric columns (by index in ``align_right``) right-aligned."""
    align_right = align_right or set()
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in align_right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def interval(estimate) -> str:
    """A simulated estimate as 'value ± half-width' (the value alone when it has no interval)."""
    if estimate.half_width is None:
        return f"{estimate.value:.1f}"
    return f"{estimate.value:.1f} ± {estimate.half_width:.1f}"
