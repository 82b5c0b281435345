"""Comparing placements under an instance's lexicographic objectives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from optplace.domain import Objective


def lexicographic_key(objectives: Sequence[Objective], values: Mapping[str, float]) -> tuple[float, ...]:
    """A tuple that sorts better placements higher (maximised objectives as-is, minimised negated)."""
    return tuple(values[o.value] if o.maximize else -values[o.value] for o in objectives)
