"""Regret greedy: the application with the fewest options goes first."""

from __future__ import annotations

from optplace import solve
from tests.heuristics.builders import app, build


def test_the_constrained_application_goes_first():
    """'flexible' may use either GPU, 'picky' only gpu1 (allowed type); each GPU fits one app (rho 0.5 each).

    Arrival-order first-fit puts flexible on gpu1 and leaves picky out; regret sees picky has a single
    option (infinite regret), places it on gpu1 first, then flexible on gpu2.
    """
    instance = build(
        [("gpu1", "gpu"), ("gpu2", "big")],
        {"A": {"gpu": {"service_time_ms": 100}, "big": {"service_time_ms": 100}}},
        [app("flexible", "A", 5), app("picky", "A", 5, allowed_accelerator_types=["gpu"])],
        disciplines={"gpu": "ps", "big": "ps"},
        objectives=["max_hosted"],
    )
    assert solve(instance, "first_fit").hosted == 1
    assert solve(instance, "regret_greedy").placement() == {"picky": "gpu1", "flexible": "gpu2"}


def test_regret_sends_each_app_to_its_efficient_type():
    """Under max_hosted alone, desirability is the share of capacity used (load / 0.8 cap).

    n: GPU 0.125, edgeTPU 0.25 -> regret 0.125; m: edgeTPU 0.061, GPU 0.1625 -> regret 0.101.
    n goes first to gpu1, then m to tpu1.
    """
    from optplace.domain import Objective
    from tests.heuristics.test_greedy import mixed

    instance = mixed().model_copy(update={"objectives": [Objective.MAX_HOSTED]})
    assert solve(instance, "regret_greedy").placement() == {"m": "tpu1", "n": "gpu1"}


def test_regret_serves_min_accelerators():
    """With min_accelerators second, opening a device is the desirability: both share gpu1 (rho 0.23)."""
    from tests.heuristics.test_greedy import mixed

    result = solve(mixed(), "regret_greedy")
    assert result.placement() == {"m": "gpu1", "n": "gpu1"} and result.objectives["min_accelerators"] == 1
