"""Plain-text tables for the commands; they live in :mod:`optplace.tables` (``SolveResult.summary`` uses them too)."""

from optplace.tables import format_table, interval, number

__all__ = ["format_table", "interval", "number"]
