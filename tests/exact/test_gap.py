"""Contract: every exact method reaches the published OR-Library GAP optima (gap1-gap3) on the converted instances."""

from __future__ import annotations

from pathlib import Path

import pytest

from optplace.io import load_instance
from optplace.registry import list_methods
from optplace.result import Status
from optplace.solve import solve

ORLIB = Path(__file__).resolve().parents[2] / "instances" / "orlib"
EXACT = [m.name for m in list_methods() if m.kind == "exact"]
TIME_LIMIT_S = 30.0


def gap_cases():
    for path in sorted(ORLIB.glob("gap*.json")):
        marks = [] if path.stem.startswith("gap1-") else [pytest.mark.slow]
        for method in EXACT:
            yield pytest.param(method, path, id=f"{method}-{path.stem}", marks=marks)


def solve_or_skip(method: str, path: Path):
    instance = load_instance(path)
    result = solve(instance, method, {"time_limit_s": TIME_LIMIT_S, "threads": 1})
    if result.status == Status.ERROR and "support" in result.message:
        pytest.skip(f"{method} does not support this objective: {result.message}")
    return instance, result


def test_there_is_an_exact_method():
    """The registry has at least one exact method, so the contract below is not vacuous."""
    assert "configuration" in EXACT


@pytest.mark.parametrize(("method", "path"), list(gap_cases()))
def test_exact_method_reaches_the_published_gap_optimum(method, path):
    """The verified placement scores the published optimum, with a valid bound and every job hosted."""
    instance, result = solve_or_skip(method, path)
    optimum = instance.provenance["known_optimum"]["max_value"]
    assert result.status.has_solution, result.message
    assert result.hosted == len(instance.applications)
    assert not result.violations
    assert result.objective == pytest.approx(optimum)
    if result.bound is not None:
        assert result.bound >= optimum - 1e-6
