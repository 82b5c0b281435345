"""The online experiment: timelines from traces, the policies, and the time-stepped driver."""

from __future__ import annotations

import numpy as np
import pytest

from optplace.online import GreedyArrivals, Replanning, SeedLoop, View, run
from optplace.online.timeline import alibaba_timeline, azure_timeline, intensity, seed_timeline
from optplace.simulation import ApplicationSimulation, Estimate
from tests.migration.builders import app, cluster, gpu_node

TEMPLATES = cluster(
    [gpu_node("n1", ["g1"], memory_mb=5000), gpu_node("n2", ["g2"], memory_mb=5000)],
    [app("t0", "m0", rate_rps=6.0), app("t1", "m1", rate_rps=8.0), app("t2", "m2", rate_rps=5.0)],
)


def test_intensity_counts_the_window_before_each_time():
    """intensity() counts timestamps in [t - window, t)."""
    stamps = np.array([0.0, 1.0, 1.5, 4.0, 9.0])
    assert intensity(stamps, np.array([1.0, 2.0, 5.0, 10.0]), 2.0).tolist() == [1, 3, 1, 1]


def test_seed_timeline_is_reproducible_and_in_the_seed_rate_range():
    """Same seed, same timeline; rates stay within 5-10 req/s; lives lie inside the horizon."""
    first = seed_timeline(TEMPLATES, minutes=5, seed=3)
    again = seed_timeline(TEMPLATES, minutes=5, seed=3)
    assert [d.application.name for d in first.demands] == [d.application.name for d in again.demands]
    assert first.steps == 30 and len(first.demands) > 5
    for d in first.demands:
        assert 0 <= d.arrive_step < d.depart_step <= first.steps
        assert np.all(
            (d.rates_rps[d.arrive_step : d.depart_step] >= 5) & (d.rates_rps[d.arrive_step : d.depart_step] <= 10)
        )
        assert d.application.rate_rps == d.rates_rps[d.arrive_step]


def test_azure_timeline_follows_the_trace_intensity(tmp_path):
    """A trace with a burst in its second half doubles (clipped) the rate there, from offset 0."""
    stamps = np.concatenate([np.arange(0, 300, 2.0), np.arange(300, 600, 0.5)])
    trace = tmp_path / "trace.csv"
    trace.write_text("TIMESTAMP\n" + "\n".join(f"{t:.3f}" for t in stamps) + "\n")
    timeline = azure_timeline(TEMPLATES, [trace], minutes=10, smoothing_s=60, clip=(0.1, 10.0))
    assert [d.arrive_step for d in timeline.demands] == [0, 10, 20] and timeline.steps == 60
    factors = timeline.demands[0].rates_rps / TEMPLATES.applications[0].rate_rps
    assert factors.max() / factors.min() == pytest.approx(4.0, rel=0.2)  # 2 req/s against 0.5 req/s


def test_alibaba_pairs_become_applications_with_compressed_lives(tmp_path):
    """(group, model) pairs are applications; an hour of trace compressed into six minutes."""
    rows = [
        ("2024-12-03 00:00:00", "G1", "MA"),
        ("2024-12-03 00:30:00", "G1", "MA"),
        ("2024-12-03 00:20:00", "G2", "MB"),
        ("2024-12-03 00:40:00", "G3", "MA"),
        ("2024-12-03 02:00:00", "G4", "MA"),  # outside the window
    ]
    trace = tmp_path / "lora.csv"
    trace.write_text("gmt_create,groupId,checkpoint_model_version_id\n" + "\n".join(",".join(r) for r in rows) + "\n")
    timeline = alibaba_timeline(TEMPLATES, trace, hours=1, minutes=6, step_s=10, pad_min=5)
    lives = {d.application.name: (d.arrive_step, d.depart_step, d.application.model) for d in timeline.demands}
    # 10 trace-minutes per experiment minute: 00:00 - 5 min clips to step 0; 00:35 is 210 s, step 21.
    assert lives == {"G1-MA": (0, 22, "m0"), "G2-MB": (9, 16, "m1"), "G3-MA": (21, 28, "m0")}


def measured(name: str, accelerator: str, mean_ms: float, slo_ms: float = 500.0) -> ApplicationSimulation:
    value = Estimate(value=mean_ms, ci_low=None, ci_high=None)
    return ApplicationSimulation(
        application=name,
        accelerator=accelerator,
        node="n",
        requests=100,
        mean_ms=value,
        p50_ms=value,
        p95_ms=value,
        p99_ms=value,
        frontend_mean_ms=0.0,
        accelerator_mean_ms=mean_ms,
        statistic="mean",
        slo_ms=slo_ms,
        simulated_ms=value,
        predicted_ms=None,
        meets_slo=mean_ms <= slo_ms,
        violation_significant=False,
    )


def test_seed_loop_moves_the_worst_measured_violator_and_greedy_never_moves():
    """With two late applications measured, the seed loop moves the later one (by mean / SLO)."""
    running = TEMPLATES.model_copy(update={"applications": [a.model_copy() for a in TEMPLATES.applications[:2]]})
    view = View(
        step=5,
        instance=running,
        placement={"t0": "g1", "t1": "g1"},
        arrivals=[],
        departures=[],
        measured={"t0": measured("t0", "g1", 600.0), "t1": measured("t1", "g1", 900.0)},
    )
    decision = SeedLoop().decide(view)
    assert decision.moves == 1 and decision.placement == {"t0": "g1", "t1": "g2"}
    assert GreedyArrivals().decide(view).placement == {"t0": "g1", "t1": "g1"}


def test_every_policy_runs_a_timeline_and_keeps_the_books():
    """A short timeline under each policy: hosted <= active, violating <= hosted, greedy never moves."""
    timeline = seed_timeline(TEMPLATES, minutes=2, seed=1, mean_interarrival_s=8)
    for policy in (GreedyArrivals(), SeedLoop(), Replanning(max_moves=1, headroom=0.1, incumbent_weight=2)):
        result = run(timeline, policy, warmup_s=1.0)
        assert len(result.records) == timeline.steps
        assert all(r.violating <= r.hosted <= r.active for r in result.records)
        totals = result.totals()
        assert totals["app_minutes_hosted"] <= totals["app_minutes_demanded"]
        assert totals["app_minutes_hosted"] > 0
        if policy.name == "greedy":
            assert totals["moves"] == 0 and totals["evictions"] == 0
