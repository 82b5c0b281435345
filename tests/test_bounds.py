"""The trivial bound: its value per objective, its validity against brute force, and that solve() always reports it."""

from __future__ import annotations

import pytest

from optplace.bounds import objective_is_integral, round_bound, tighter, trivial_bound
from optplace.convert import BinPackingProblem, GapProblem, bpp_to_instance, gap_to_instance
from optplace.domain import Objective
from optplace.result import Status
from optplace.solve import solve
from tests.conftest import TINY, load
from tests.exact.conftest import brute_force, primary_of, random_instance

GAP = GapProblem("hand", costs=[[4, 9, 2], [6, 3, 8]], resources=[[5, 5, 5], [5, 5, 5]], capacities=[10, 10])


def test_gap_trivial_bound_is_every_job_on_its_best_agent():
    """min cost: 4 + 3 + 2 (cheapest agent per job); max profit: 6 + 9 + 8 (best agent per job)."""
    assert trivial_bound(gap_to_instance(GAP, "min")) == 9.0
    assert trivial_bound(gap_to_instance(GAP, "max")) == 23.0


def test_bin_packing_trivial_bound_is_the_volume_bound():
    """min accelerators under host_all: ceil(sum w / C), here ceil(1900 / 1000) = 2, and 3 for 2001 over 1000."""
    assert trivial_bound(bpp_to_instance(BinPackingProblem("b", 1000, [(400, 2), (550, 2)]))) == 2.0
    assert trivial_bound(bpp_to_instance(BinPackingProblem("b", 1000, [(667, 3)]))) == 3.0


def test_a_tight_exact_fill_is_not_rounded_up():
    """Three items of 1/3 each fill one bin exactly: the bound is 1, not 2 (floating point must not round it up)."""
    problem = BinPackingProblem("thirds", 999, [(333, 3)])
    assert trivial_bound(bpp_to_instance(problem)) == 1.0


@pytest.mark.parametrize("seed", range(12))
def test_trivial_bound_never_cuts_off_the_optimum(seed):
    """On random tiny instances (every discipline and latency term), the bound is on the right side of brute force."""
    for objective in (Objective.MAX_HOSTED, Objective.MIN_MIGRATIONS):
        instance = random_instance(seed).model_copy(update={"objectives": [objective]})
        _, key = brute_force(instance)
        optimum = primary_of(instance, key)
        bound = trivial_bound(instance)
        assert bound is not None
        assert bound >= optimum - 1e-9 if objective.maximize else bound <= optimum + 1e-9


@pytest.mark.parametrize("path", TINY, ids=[p.stem for p in TINY])
def test_every_result_with_a_solution_has_a_bound_at_least_as_tight_as_trivial(path):
    """Heuristics prove nothing themselves, yet solve() always reports the trivial bound or a tighter one."""
    instance = load(path)
    trivial = trivial_bound(instance)
    for method in ("first_fit", "ordered_best_fit", "local_search"):
        result = solve(instance, method, {"time_limit_s": 2})
        if result.status not in (Status.OPTIMAL, Status.FEASIBLE):
            continue
        assert result.bound is not None and trivial is not None
        assert tighter(result.bound, trivial, instance.objectives[0].maximize) == result.bound


def test_rounding_and_integrality():
    """Integral objectives round bounds towards the feasible side; a tenth of a unit of LP noise is kept out."""
    assert round_bound(57.99999999, True, True) == 58.0
    assert round_bound(57.8, True, True) == 57.0
    assert round_bound(20.2, False, True) == 21.0
    assert round_bound(20.2, False, False) == 20.2
    assert objective_is_integral(gap_to_instance(GAP, "min"), Objective.MIN_COST)
