"""The seed's online policies place tiny instances exactly as derived by hand."""

from __future__ import annotations

from optplace import solve
from tests.heuristics.builders import app, build


def two_gpus():
    """Two identical GPUs (PS, cap 0.8); models A and B take 20 ms; every app runs 10 req/s (rho 0.2).

    SLOs are 1 s, so only the cap binds: three apps on one GPU give rho 0.6 and R = 20 / 0.4 = 50 ms.
    """
    return build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {"A": {"gpu": {"service_time_ms": 20}}, "B": {"gpu": {"service_time_ms": 20}}},
        [app("x", "A", 10), app("y", "B", 10), app("z", "A", 10)],
    )


def test_first_fit_stacks_on_the_first_accelerator():
    """First-fit: x, y, z all fit gpu1 (rho 0.2, 0.4, 0.6 <= 0.8), so gpu2 stays idle."""
    assert solve(two_gpus(), "first_fit").placement() == {"x": "gpu1", "y": "gpu1", "z": "gpu1"}


def test_breadth_first_prefers_same_model_then_idle():
    """Breadth-first: x -> gpu1 (idle); y has no model twin, so the idle gpu2; z joins x's model A on gpu1."""
    assert solve(two_gpus(), "breadth_first").placement() == {"x": "gpu1", "y": "gpu2", "z": "gpu1"}


def test_breadth_first_falls_back_to_least_utilised():
    """With no twin and no idle GPU, the least utilised one: w (model C, 5 req/s) goes where rho is 0.2."""
    instance = build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {m: {"gpu": {"service_time_ms": 20}} for m in "ABC"},
        [app("x", "A", 10), app("z", "A", 10), app("y", "B", 10), app("w", "C", 5)],
    )
    # x -> gpu1 (idle); z shares A on gpu1 (rho 0.4); y -> gpu2 (idle, rho 0.2); w: least utilised is gpu2.
    assert solve(instance, "breadth_first").placement() == {"x": "gpu1", "z": "gpu1", "y": "gpu2", "w": "gpu2"}


def mixed():
    """One GPU (PS) and one edgeTPU (FCFS), GPU declared first; both apps at 10 req/s, SLO 1 s.

    Model M (mobilenet_v2): GPU 13 ms; edgeTPU 4.91 ms with a 10.43 ms switch.
    Model N: GPU 10 ms; edgeTPU 20 ms with a 20 ms switch.
    """
    return build(
        [("gpu1", "gpu"), ("tpu1", "tpu")],
        {
            "M": {"gpu": {"service_time_ms": 13}, "tpu": {"service_time_ms": 4.91, "switch_overhead_ms": 10.43}},
            "N": {"gpu": {"service_time_ms": 10}, "tpu": {"service_time_ms": 20, "switch_overhead_ms": 20}},
        },
        [app("m", "M", 10), app("n", "N", 10)],
    )


def test_least_utilization_increase_picks_the_cheaper_device():
    """m: GPU rise 0.13 vs edgeTPU 0.0491 -> tpu1. n: GPU rise 0.10 vs edgeTPU 0.3522 -> gpu1.

    n on the edgeTPU beside m: Lambda = 20, each class switches w.p. 1/2, so
    rho = (10 * 4.91 + 10 * 20 + 10 * 0.5 * 10.43 + 10 * 0.5 * 20) / 1000 = 0.40125, a rise of 0.35215.
    """
    assert solve(mixed(), "least_utilization_increase").placement() == {"m": "tpu1", "n": "gpu1"}


def test_first_fit_ignores_device_efficiency():
    """First-fit puts both on gpu1, the first in file order (rho 0.13 + 0.10 = 0.23)."""
    assert solve(mixed(), "first_fit").placement() == {"m": "gpu1", "n": "gpu1"}


def test_pinned_applications_are_placed_first():
    """A pinned app keeps its accelerator even when it arrives after one that would take its room."""
    instance = build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {"A": {"gpu": {"service_time_ms": 100}}},
        # alone rho 0.5; together rho 1.0: only one per GPU
        [app("early", "A", 5), app("pin", "A", 5, current_accelerator="gpu1", pinned=True)],
    )
    assert solve(instance, "first_fit").placement() == {"early": "gpu2", "pin": "gpu1"}


def test_min_migrations_keeps_current_placements():
    """Under min_migrations, apps that still fit where they run stay there before others are placed."""
    instance = build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {"A": {"gpu": {"service_time_ms": 100}}},
        [app("new", "A", 5), app("old", "A", 5, current_accelerator="gpu1")],
        objectives=["max_hosted", "min_migrations"],
    )
    result = solve(instance, "first_fit")
    assert result.placement() == {"new": "gpu2", "old": "gpu1"} and result.objectives["min_migrations"] == 0
