"""Offline ordered fits: orderings and fit rules give the hand-derived placements."""

from __future__ import annotations

import pytest

from optplace import SolveParams, solve
from optplace.cluster_state import ClusterState
from optplace.heuristics.fit import order_applications
from optplace.options import MethodOptionsError
from tests.heuristics.builders import app, build


def packing():
    """Two GPUs, s = 100 ms, SLO 1 s: load = rate / 10, only the 0.8 cap binds (R = 100/0.2 = 500 ms at 0.8).

    Loads: a 0.5, b 0.3, c 0.3, d 0.2, e 0.4 (total 1.7 > 1.6 of capacity: at most four fit).
    """
    return build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {"A": {"gpu": {"service_time_ms": 100}}},
        [app("a", "A", 5), app("b", "A", 3), app("c", "A", 3), app("d", "A", 2), app("e", "A", 4)],
        objectives=["max_hosted"],
    )


def order_names(instance, order):
    state = ClusterState(instance)
    return [state.app_names[a] for a in order_applications(state, order)]


def test_orderings():
    """load = decreasing lambda s; density = increasing load at equal priority; ties keep arrival order."""
    assert order_names(packing(), "load") == ["a", "e", "b", "c", "d"]
    assert order_names(packing(), "density") == ["d", "b", "c", "e", "a"]
    assert order_names(packing(), "arrival") == ["a", "b", "c", "d", "e"]


def test_first_fit_decreasing():
    """FFD: a 0.5 -> gpu1; e 0.4 -> gpu2 (0.9 on gpu1); b -> gpu1 (0.8); c -> gpu2 (0.7); d fits nowhere."""
    result = solve(packing(), "ordered_first_fit", SolveParams(options={"order": "load"}))
    assert result.placement() == {"a": "gpu1", "e": "gpu2", "b": "gpu1", "c": "gpu2"}


def test_worst_fit_decreasing():
    """Worst fit: a -> gpu1; e -> gpu2; b -> gpu2 (headroom 0.1 there vs 0.0); c -> gpu1 (0.8); d nowhere."""
    result = solve(packing(), "ordered_worst_fit", SolveParams(options={"order": "load"}))
    assert result.placement() == {"a": "gpu1", "e": "gpu2", "b": "gpu2", "c": "gpu1"}


def test_best_fit_by_density():
    """Best fit, smallest first: d, b, c fill gpu1 to 0.8 exactly; e -> gpu2; a (0.5) no longer fits."""
    result = solve(packing(), "ordered_best_fit", SolveParams(options={"order": "density"}))
    assert result.placement() == {"d": "gpu1", "b": "gpu1", "c": "gpu1", "e": "gpu2"}


def test_priority_order_hosts_the_important_application():
    """One GPU fits one of three identical apps; the priority order hosts the one with priority 5."""
    instance = build(
        [("gpu1", "gpu")],
        {"A": {"gpu": {"service_time_ms": 100}}},
        [app(n, "A", 2, 150, priority=p) for n, p in (("first", 1), ("important", 5), ("other", 2))],
    )
    for order in ("priority", "density"):
        result = solve(instance, "ordered_first_fit", SolveParams(options={"order": order}))
        assert result.placement() == {"important": "gpu1"}


def test_value_decides_the_accelerator():
    """Under max_value an app goes where it is worth most, not to the first accelerator that fits."""
    instance = build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {"A": {"gpu": {"service_time_ms": 10}}},
        [app("v", "A", 1, value_by_accelerator={"gpu1": 1.0, "gpu2": 3.0})],
        objectives=["max_value"],
    )
    assert solve(instance, "ordered_first_fit").placement() == {"v": "gpu2"}


def test_min_cost_prefers_the_cheaper_accelerator():
    """tiny/min_cost: both apps on 'cheap' cost 1 + 3 = 4, the optimum; 'pricey' alone also costs 4."""
    from tests.conftest import INSTANCES, load

    result = solve(load(INSTANCES / "tiny" / "min_cost.json"), "ordered_best_fit")
    assert result.objective == 4


def test_unknown_order_is_an_error():
    """An unknown options.order is rejected before the method runs, naming the field and the choices."""
    with pytest.raises(MethodOptionsError, match=r"options\.order: Input should be 'auto', 'arrival'") as caught:
        solve(packing(), "ordered_best_fit", SolveParams(options={"order": "random"}))
    assert caught.value.errors[0]["loc"] == ("order",)


@pytest.mark.parametrize("method", ["ordered_first_fit", "ordered_best_fit", "ordered_worst_fit"])
def test_min_accelerators_packs_tight(method):
    """tiny/min_accelerators: four apps of load 0.3 on two GPUs (two per GPU)."""
    from tests.conftest import INSTANCES, load

    assert solve(load(INSTANCES / "tiny" / "min_accelerators.json"), method).objective == 2
