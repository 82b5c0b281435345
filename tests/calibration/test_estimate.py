"""Calibration recovers the parameters of simulated logs within its confidence intervals."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from optplace.calibration import fit_models, read_log
from optplace.calibration.estimate import Fitted, ModelFit, _alone
from tests.calibration.conftest import NETWORK_MS, TRUTH, edgetpu_instance, simulated_log


def _fits(path, **kwargs) -> dict[str, ModelFit]:
    return {f.model: f for f in fit_models([read_log(path)], **kwargs)}


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_service_scv_switch_fixed_and_memory(tmp_path, seed):
    """From a simulated FCFS log each true parameter lies inside its 95% interval, and intervals are tight."""
    fits = _fits(simulated_log(tmp_path, edgetpu_instance(), requests=3000, seed=seed), seed=seed)
    assert set(fits) == set(TRUTH)
    for model, (service, scv, switch, memory) in TRUTH.items():
        fit = fits[model]
        assert fit.service_time_ms.covers(service), (model, fit.service_time_ms)
        assert fit.service_time_scv.covers(scv), (model, fit.service_time_scv)
        assert fit.switch_overhead_ms.covers(switch), (model, fit.switch_overhead_ms)
        # The network delay is constant, so its interval is a point up to rounding.
        assert fit.fixed_overhead_ms.covers(NETWORK_MS, tolerance=1e-6), (model, fit.fixed_overhead_ms)
        assert fit.memory_mb.value == memory
        assert fit.service_time_ms.ci_high - fit.service_time_ms.ci_low < 0.05 * service
        assert fit.switch_overhead_ms.ci_high - fit.switch_overhead_ms.ci_low < 0.15 * switch
        assert fit.switch_overhead_ms.shown and fit.fixed_overhead_ms.shown


@pytest.mark.slow
def test_interval_coverage_is_near_nominal(tmp_path):
    """Over 30 independent simulated logs the 95% intervals cover the truth about 95% of the time."""
    hits, total = 0, 0
    for seed in range(30):
        path = simulated_log(tmp_path, edgetpu_instance(), requests=600, seed=100 + seed)
        for model, fit in _fits(path, seed=seed, resamples=200).items():
            service, scv, switch, _ = TRUTH[model]
            for estimate, truth in (
                (fit.service_time_ms, service),
                (fit.service_time_scv, scv),
                (fit.switch_overhead_ms, switch),
            ):
                hits += estimate.covers(truth)
                total += 1
    assert 0.88 <= hits / total <= 1.0, hits / total


def test_pairs_and_profile_fields(tmp_path):
    """Per-pair switches are fitted where there are enough; the profile folds the fixed overhead in."""
    fits = _fits(simulated_log(tmp_path, edgetpu_instance(), requests=3000, seed=0))
    big = fits["big"]
    assert [(p.from_model, p.to_model) for p in big.switch_pairs] == [("small", "big")]
    assert big.switch_pairs[0].switch_overhead_ms.covers(TRUTH["big"][2])
    profile = big.profile()
    assert profile["service_time_ms"] == pytest.approx(big.service_time_ms.value + NETWORK_MS, rel=1e-5)
    # The variance is kept: SCV scales with (s / (s + fixed))^2.
    ratio = big.service_time_ms.value / (big.service_time_ms.value + big.fixed_overhead_ms.value)
    assert profile["service_time_scv"] == pytest.approx(big.service_time_scv.value * ratio**2, rel=1e-4)
    assert profile["switch_overhead_ms"] == pytest.approx(big.switch_overhead_ms.value, rel=1e-5)
    assert profile["memory_mb"] == 100.0


def test_ps_discipline_fits_no_switch(tmp_path):
    """A processor-sharing type gets its service time from every request and no switch overhead."""
    instance = edgetpu_instance({"big": 10.0, "small": 20.0}, discipline="ps")
    fits = _fits(simulated_log(tmp_path, instance, requests=2000, seed=3), disciplines={"tpu": "ps"})
    for model, fit in fits.items():
        assert fit.discipline == "ps"
        assert fit.switch_overhead_ms is None and fit.switch_pairs == []
        assert fit.service_time_ms.covers(TRUTH[model][0])
        assert fit.fixed_overhead_ms is not None and fit.fixed_overhead_ms.covers(NETWORK_MS, tolerance=1e-6)


def test_log_without_split_uses_requests_that_were_alone(tmp_path):
    """Without queue/service columns, requests alone on the device give service + fixed overhead."""
    path = simulated_log(tmp_path, edgetpu_instance({"big": 2.0}), requests=3000, seed=4)
    stripped = tmp_path / "latency_only.csv"
    with path.open() as source, stripped.open("w", newline="") as target:
        reader = csv.DictReader(source)
        writer = csv.writer(target)
        writer.writerow(["timestamp_s", "model", "accelerator", "latency_ms"])
        for row in reader:
            writer.writerow([row["timestamp_s"], row["model"], row["accelerator"], row["latency_ms"]])
    fit = _fits(stripped)["big"]
    assert fit.fixed_overhead_ms is None
    assert any("inside the service time" in note for note in fit.notes)
    assert fit.service_time_ms.covers(TRUTH["big"][0] + NETWORK_MS)
    assert fit.service_time_ms.n < 3000  # only requests that had the device to themselves


def test_alone_marks_non_overlapping_requests():
    """A request is alone exactly when no other request's stay overlaps its own."""
    arrival = np.array([0.0, 1.0, 5.0, 20.0, 21.0])
    completion = np.array([2.0, 4.0, 6.0, 30.0, 22.0])
    assert _alone(arrival, completion).tolist() == [False, False, True, False, False]


def test_all_switched_observations_are_flagged(tmp_path):
    """Rounds of isolated runs where every run follows another model cannot separate s and o."""
    path = tmp_path / "rounds.csv"
    path.write_text(
        "model,process_type,response_time\n"
        + "".join(f"A,Sequential,{10 + i % 3}\nB,Sequential,{20 + i % 2}\n" for i in range(20))
    )
    fits = _fits(path)
    assert fits["A"].switch_overhead_ms is None
    assert "cannot be told apart" in fits["A"].notes[0]
    assert fits["A"].service_time_ms.value == pytest.approx(np.mean([10 + i % 3 for i in range(20)][1:]), rel=0.05)


def test_small_samples_get_no_interval():
    """Fewer than ten observations give a point estimate without an interval, never a fake one."""
    fit = Fitted(value=1.0, n=3, method="none")
    assert not fit.shown and not fit.covers(1.0)


def test_calibration_is_reproducible(tmp_path):
    """The same logs and seed give the same intervals."""
    path = simulated_log(tmp_path, edgetpu_instance(), requests=500, seed=7)
    assert fit_models([read_log(path)], seed=1) == fit_models([read_log(path)], seed=1)
