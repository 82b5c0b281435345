"""The simulator: stations against hand computation, the whole cluster against the analytic models."""

from __future__ import annotations

import numpy as np
import pytest

from optplace import latency
from optplace.domain import Instance
from optplace.simulation import (
    ArrivalProcess,
    arrival_times_ms,
    batch_estimate,
    fcfs_departures,
    load_trace,
    ps_departures,
    simulate,
)

# --- stations ------------------------------------------------------------------------------------


def _fcfs_by_loop(arrival, service, backend, switch):
    """The FCFS recursion written the slow, obvious way."""
    departure, last_end, last_backend = [], 0.0, None
    for a, s, b, o in zip(arrival, service, backend, switch):
        start = max(a, last_end)
        last_end = start + s + (o if last_backend is not None and b != last_backend else 0.0)
        last_backend = b
        departure.append(last_end)
    return np.array(departure)


def test_fcfs_departures_match_the_obvious_loop():
    """The prefix-sum Lindley solution equals a request-by-request loop, switches included."""
    rng = np.random.default_rng(1)
    arrival = np.cumsum(rng.exponential(10.0, 2000))
    backend = rng.integers(0, 3, 2000)
    service = rng.gamma(2.0, 4.0, 2000)
    switch = np.array([5.0, 7.0, 11.0])[backend]
    run = fcfs_departures(arrival, service, backend, switch)
    np.testing.assert_allclose(run.departure_ms, _fcfs_by_loop(arrival, service, backend, switch), rtol=1e-12)
    assert run.switched[1:].tolist() == (backend[1:] != backend[:-1]).tolist() and not run.switched[0]


def test_fcfs_departures_reject_unsorted_arrivals():
    """Stations need arrival-sorted input; anything else is misuse."""
    with pytest.raises(ValueError, match="sorted"):
        fcfs_departures(np.array([2.0, 1.0]), np.array([1.0, 1.0]))


def test_ps_departures_by_hand():
    """PS by hand: a batch of 1, 2, 3 ms jobs leaves at 3, 5, 6; a late arrival shares the rest."""
    np.testing.assert_allclose(ps_departures(np.zeros(3), np.array([1.0, 2.0, 3.0])), [3.0, 5.0, 6.0])
    # job 0 alone for 1 ms (1 ms of work left), then both at half speed: both finish at 3 ms
    np.testing.assert_allclose(ps_departures(np.array([0.0, 1.0]), np.array([2.0, 1.0])), [3.0, 3.0])
    # an idle gap resets nothing: jobs never overlap
    np.testing.assert_allclose(ps_departures(np.array([0.0, 5.0]), np.array([1.0, 1.0])), [1.0, 6.0])


def test_ps_departures_with_several_servers_by_hand():
    """With 2 cores, two jobs run at full speed; a third makes each go at 2/3 speed."""
    np.testing.assert_allclose(ps_departures(np.zeros(2), np.array([1.0, 3.0]), 2.0), [1.0, 3.0])
    # three 3 ms jobs on 2 cores: each gets 2/3 of a core, all leave at 4.5 ms
    np.testing.assert_allclose(ps_departures(np.zeros(3), np.full(3, 3.0), 2.0), [4.5, 4.5, 4.5])
    # half a core: a lone 1 ms job takes 2 ms
    np.testing.assert_allclose(ps_departures(np.zeros(1), np.ones(1), 0.5), [2.0])


def _ps_by_time_stepping(arrival, size, dt=1e-3):
    """Processor sharing by brute-force time stepping (slow; for tiny cases only)."""
    remaining, departure, t, i, n = {}, np.zeros(len(size)), 0.0, 0, len(size)
    while i < n or remaining:
        while i < n and arrival[i] <= t + 1e-12:
            remaining[i] = size[i]
            i += 1
        if remaining:
            share = dt / len(remaining)
            for j in list(remaining):
                remaining[j] -= share
                if remaining[j] <= 1e-12:
                    departure[j] = t + dt
                    del remaining[j]
        t += dt
    return departure


def test_ps_departures_match_time_stepping():
    """The virtual-time heap agrees with brute-force time stepping on a random small case."""
    rng = np.random.default_rng(4)
    arrival = np.round(np.cumsum(rng.exponential(1.0, 12)), 3)
    size = np.round(rng.uniform(0.2, 2.0, 12), 3)
    np.testing.assert_allclose(ps_departures(arrival, size), _ps_by_time_stepping(arrival, size), atol=0.01)


# --- stations against the analytic models ------------------------------------------------------


def _poisson_classes(rates_rps, count, seed):
    rng = np.random.default_rng(seed)
    total = float(np.sum(rates_rps))
    arrival = np.cumsum(rng.exponential(1000.0 / total, count))
    classes = rng.choice(len(rates_rps), size=count, p=np.asarray(rates_rps) / total)
    return arrival, classes


def test_md1_station_matches_the_formula():
    """A one-class FCFS station at rho 0.5 matches M/D/1 within 2% (300k requests)."""
    arrival, _ = _poisson_classes([50.0], 300_000, seed=2)
    run = fcfs_departures(arrival, np.full(arrival.size, 10.0))
    simulated = (run.departure_ms - arrival)[30_000:].mean()
    assert simulated == pytest.approx(latency.md1_response_ms(10.0, 0.5)[0], rel=0.02)


def test_ps_station_matches_the_exact_formula_not_the_additive_one():
    """Two GPU models at rho 0.6: simulated PS matches s/(1-rho) within 3%; the additive variant is off by more."""
    rates, s = np.array([30.0, 15.0]), np.array([10.8, 18.4])
    arrival, classes = _poisson_classes(rates, 200_000, seed=3)
    response = ps_departures(arrival, s[classes]) - arrival
    simulated = np.array([response[20_000:][classes[20_000:] == k].mean() for k in range(2)])
    exact = latency.ps_latency(rates, s).latency_ms
    additive = latency.ps_latency(rates, s, variant="additive").latency_ms
    np.testing.assert_allclose(simulated, exact, rtol=0.03)
    assert np.max(np.abs(additive / simulated - 1.0)) > 0.05


def test_fcfs_switch_station_matches_the_dependent_model():
    """The skewed switch mix at rho 0.8 (see test_latency): simulation lands within 3% of the dependent model."""
    rates = np.array([0.85, 0.15])
    s, o = np.array([19.23, 62.95]), np.array([24.63, 19.39])
    rates = rates * 0.8 / latency.fcfs_moments(rates, s, 0.0, o).utilization
    arrival, classes = _poisson_classes(rates, 1_500_000, seed=5)
    run = fcfs_departures(arrival, s[classes], classes, o[classes])
    keep = slice(150_000, None)
    response, kept = (run.departure_ms - arrival)[keep], classes[keep]
    simulated = np.array([response[kept == k].mean() for k in range(2)])
    dependent = latency.fcfs_latency(rates, s, 0.0, o, switch_variance="dependent").latency_ms
    np.testing.assert_allclose(simulated, dependent, rtol=0.03)
    assert run.switched[keep][kept == 0].mean() == pytest.approx(0.15, abs=0.01)


def test_fcfs_quantile_is_conservative_against_simulation():
    """The model v2 FCFS p95/p99 sit at or above the simulated ones on a two-model mix at rho 0.5."""
    rates = np.array([0.9, 0.1])
    s, o = np.array([4.91, 62.95]), np.array([10.43, 19.39])
    rates = rates * 0.5 / latency.fcfs_moments(rates, s, 0.0, o).utilization
    arrival, classes = _poisson_classes(rates, 1_000_000, seed=6)
    run = fcfs_departures(arrival, s[classes], classes, o[classes])
    response, kept = (run.departure_ms - arrival)[100_000:], classes[100_000:]
    for q in (0.95, 0.99):
        simulated = np.array([np.quantile(response[kept == k], q) for k in range(2)])
        predicted = latency.fcfs_quantile(q, rates, s, 0.0, o).latency_ms
        assert np.all(predicted >= 0.99 * simulated)
        assert np.all(predicted <= 1.1 * simulated)


# --- arrivals and statistics -------------------------------------------------------------------


def test_poisson_and_gamma_arrivals_have_the_rate_and_variability_asked_for():
    """Gamma interarrivals with SCV 4 keep the mean rate and show an SCV near 4; Poisson near 1."""
    rng = np.random.default_rng(7)
    for kind, scv in (("poisson", 1.0), ("gamma", 4.0), ("gamma", 0.25)):
        times = arrival_times_ms(20.0, 5_000_000.0, ArrivalProcess(kind=kind, scv=scv), rng)
        gaps = np.diff(times)
        assert times.size == pytest.approx(100_000, rel=0.03)
        assert np.all(gaps >= 0) and times[0] >= 0 and times[-1] < 5_000_000.0
        assert gaps.var() / gaps.mean() ** 2 == pytest.approx(scv, rel=0.1)


def test_trace_replay_keeps_the_rate_and_the_burstiness():
    """The shipped Azure trace, replayed at 50 req/s, keeps the rate on average and its bursty gaps."""
    stamps = load_trace()
    assert stamps.size == 8819 and np.all(np.diff(stamps) >= 0)
    process = ArrivalProcess.from_trace(stamps)
    times = arrival_times_ms(50.0, 40_000_000.0, process, np.random.default_rng(8))
    assert times.size == pytest.approx(2_000_000, rel=0.1)
    gaps = np.diff(times)
    assert gaps.var() / gaps.mean() ** 2 > 10.0  # far burstier than Poisson (SCV 1)


def test_arrival_process_rejects_bad_parameters():
    """Unknown kinds, non-positive SCVs and empty traces are refused with a message."""
    with pytest.raises(ValueError, match="kind"):
        ArrivalProcess(kind="bursty")
    with pytest.raises(ValueError, match="scv"):
        ArrivalProcess(kind="gamma", scv=0.0)
    with pytest.raises(ValueError, match="gaps"):
        ArrivalProcess(kind="trace", gaps_s=np.array([1.0]))


def test_load_trace_reads_plain_seconds(tmp_path):
    """A headerless one-column CSV of seconds is a valid trace."""
    path = tmp_path / "trace.csv"
    path.write_text("0.5\n0.1\n2.0\n")
    np.testing.assert_allclose(load_trace(path), [0.1, 0.5, 2.0])


def test_batch_estimate_interval_covers_a_known_mean():
    """The batch-means interval of iid N(10, 1) samples contains 10 and has the right width."""
    values = np.random.default_rng(9).normal(10.0, 1.0, 20_000)
    estimate = batch_estimate(values, "mean", batches=20)
    assert estimate.ci_low < 10.0 < estimate.ci_high
    assert estimate.half_width == pytest.approx(1.96 / np.sqrt(20_000), rel=0.5)
    assert batch_estimate(values[:5], "p95").ci_low is None


# --- the whole cluster -------------------------------------------------------------------------


def _instance(**changes) -> Instance:
    """GPU node and edgeTPU node; two apps share one mobilenet backend on the TPU with a third model."""
    doc = {
        "name": "sim",
        "settings": {"network_delay_ms": 10.0},
        "accelerator_types": [{"name": "gpu", "discipline": "ps"}, {"name": "tpu", "discipline": "fcfs"}],
        "nodes": [
            {
                "name": "nano",
                "memory_mb": 4096,
                "preprocess_cores": 2,
                "accelerators": [{"name": "gpu1", "type": "gpu"}],
            },
            {"name": "pi", "memory_mb": 4096, "accelerators": [{"name": "tpu1", "type": "tpu"}]},
        ],
        "models": [
            {"name": "resnet50", "profiles": {"gpu": {"service_time_ms": 29.4}}},
            {"name": "resnet18", "profiles": {"gpu": {"service_time_ms": 10.8, "service_time_scv": 0.2}}},
            {"name": "mobilenet_v2", "profiles": {"tpu": {"service_time_ms": 4.91, "switch_overhead_ms": 10.43}}},
            {"name": "inception_v3", "profiles": {"tpu": {"service_time_ms": 62.95, "switch_overhead_ms": 19.39}}},
        ],
        "applications": [
            {"name": "a", "model": "resnet50", "rate_rps": 10, "slo": {"latency_ms": 200}, "preprocess_ms": 24},
            {"name": "b", "model": "resnet18", "rate_rps": 20, "slo": {"latency_ms": 100, "statistic": "p95"}},
            {"name": "c", "model": "mobilenet_v2", "rate_rps": 15, "slo": {"latency_ms": 120}},
            {"name": "d", "model": "mobilenet_v2", "rate_rps": 15, "slo": {"latency_ms": 120}},
            {"name": "e", "model": "inception_v3", "rate_rps": 3, "slo": {"latency_ms": 300}},
        ],
    }
    doc.update(changes)
    return Instance.model_validate(doc)


PLACEMENT = {"a": "gpu1", "b": "gpu1", "c": "tpu1", "d": "tpu1", "e": "tpu1"}


def test_simulation_is_deterministic_for_a_seed():
    """The same seed reproduces the report exactly; another seed gives other numbers."""
    instance = _instance()
    first = simulate(instance, PLACEMENT, requests_per_app=3000, seed=11)
    again = simulate(instance, PLACEMENT, requests_per_app=3000, seed=11)
    other = simulate(instance, PLACEMENT, requests_per_app=3000, seed=12)
    strip = {"runtime_s"}
    assert first.model_dump(exclude=strip) == again.model_dump(exclude=strip)
    assert first.application("a").mean_ms.value != other.application("a").mean_ms.value


def test_simulated_cluster_agrees_with_the_evaluator():
    """Loads match the evaluator, shared backends never switch between themselves, means land near the model."""
    instance = _instance()
    report = simulate(instance, PLACEMENT, requests_per_app=60_000, seed=1)
    for acc in report.accelerators:
        assert acc.utilization == pytest.approx(acc.predicted_utilization, rel=0.03)
    tpu = next(a for a in report.accelerators if a.accelerator == "tpu1")
    # c and d share the mobilenet backend: only the 3 req/s inception class is "other" for them
    assert tpu.switch_fraction == pytest.approx(2 * (30 * 3) / 33**2, abs=0.01)
    c, d = report.application("c"), report.application("d")
    assert c.mean_ms.value == pytest.approx(d.mean_ms.value, rel=0.03)
    # the TPU queue in the dependent-switch model, plus the 10 ms network delay
    tpu_model = latency.fcfs_latency([30.0, 3.0], [4.91, 62.95], 0.0, [10.43, 19.39], switch_variance="dependent")
    for name, row in (("c", 0), ("d", 0), ("e", 1)):
        assert report.application(name).mean_ms.value == pytest.approx(tpu_model.latency_ms[row] + 10.0, rel=0.03)
    a = report.application("a")
    assert a.frontend_mean_ms >= 24.0
    # two cores: the pooled-PS formula s / (1 - rho) is conservative for the front end
    assert a.frontend_mean_ms <= 24.0 / (1.0 - 10 * 24 / 1000 / 2) + 0.5
    assert report.nodes[0].frontend_utilization == pytest.approx(0.12, rel=0.05)


def test_observed_violations_are_reported():
    """A tight SLO that the model already misses is also missed in simulation, with a significant interval."""
    instance = _instance(
        applications=[{"name": "e", "model": "inception_v3", "rate_rps": 10, "slo": {"latency_ms": 70}}]
    )
    report = simulate(instance, {"e": "tpu1"}, requests_per_app=20_000, seed=3)
    assert report.violations == ["e"]
    app = report.application("e")
    assert not app.meets_slo and app.violation_significant
    assert app.simulated_ms.value == app.mean_ms.value


def test_percentile_slo_is_simulated_in_its_statistic():
    """An application with a p95 SLO is judged by its simulated p95."""
    report = simulate(_instance(), PLACEMENT, requests_per_app=5000, seed=2)
    b = report.application("b")
    assert b.statistic == "p95" and b.simulated_ms == b.p95_ms


def test_duration_and_warmup_control_the_horizon():
    """duration_s fixes the measured horizon; only requests after the warm-up are measured."""
    report = simulate(_instance(), PLACEMENT, duration_s=100.0, warmup_s=20.0, seed=0)
    assert report.horizon_s == 100.0 and report.warmup_s == 20.0
    assert report.application("b").requests == pytest.approx(2000, rel=0.15)


def test_non_poisson_arrivals_run_end_to_end():
    """Gamma (SCV 4) arrivals make the same placement slower than Poisson arrivals."""
    instance = _instance()
    poisson = simulate(instance, PLACEMENT, requests_per_app=20_000, seed=4)
    bursty = simulate(instance, PLACEMENT, requests_per_app=20_000, seed=4, arrivals=ArrivalProcess("gamma", 4.0))
    assert "gamma" in bursty.arrivals
    assert bursty.application("e").mean_ms.value > poisson.application("e").mean_ms.value


def test_simulate_rejects_misuse():
    """Unknown names, a model without a profile on its accelerator, and conflicting sizes are errors."""
    instance = _instance()
    with pytest.raises(ValueError, match="unknown applications"):
        simulate(instance, {"zzz": "gpu1"})
    with pytest.raises(ValueError, match="unknown accelerators"):
        simulate(instance, {"a": "tpu9"})
    with pytest.raises(ValueError, match="no profile"):
        simulate(instance, {"a": "tpu1"})
    with pytest.raises(ValueError, match="give one of"):
        simulate(instance, PLACEMENT, requests_per_app=10, duration_s=1.0)
    with pytest.raises(ValueError, match="give one of"):
        simulate(instance, PLACEMENT, requests_per_accelerator=10, requests_per_app=10)
    with pytest.raises(ValueError, match="max_requests"):
        simulate(instance, PLACEMENT, requests_per_app=10, max_requests=0)


def test_requests_per_accelerator_and_max_requests_size_the_horizon():
    """The quietest used accelerator expects the asked requests; max_requests shrinks the whole run to fit."""
    instance = _instance()
    # gpu1 carries 10 + 20 = 30 req/s, tpu1 15 + 15 + 3 = 33 req/s: gpu1 is the quietest.
    report = simulate(instance, PLACEMENT, requests_per_accelerator=3000, seed=1)
    assert report.horizon_s == pytest.approx(3000 / 30.0)
    capped = simulate(instance, PLACEMENT, requests_per_accelerator=3000, max_requests=2000, seed=1)
    assert capped.horizon_s == pytest.approx(2000 / 63.0 / 1.1)
    assert capped.requests_simulated <= 2000 * 1.1


def test_empty_placement_gives_an_empty_report():
    """Nothing placed, nothing simulated."""
    report = simulate(_instance(), {}, requests_per_app=100)
    assert report.applications == [] and report.requests_simulated == 0 and report.violations == []


# --- the command -------------------------------------------------------------------------------


def test_simulate_command_with_a_given_placement(tmp_path, capsys):
    """`optplace simulate --placement` reads {application: accelerator} and prints the comparison table."""
    import json

    from optplace.cli import main

    instance_path = tmp_path / "instance.json"
    instance_path.write_text(_instance().model_dump_json())
    placement_path = tmp_path / "placement.json"
    placement_path.write_text(json.dumps(PLACEMENT))
    code = main(["simulate", str(instance_path), "--placement", str(placement_path), "--requests", "2000"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "predicted" in out and "tpu1" in out and "observed SLO violations: none" in out


def test_simulate_command_solves_first_and_prints_json(capsys):
    """Without a placement the command solves the instance, then simulates it (here with gamma arrivals)."""
    import json

    from optplace.cli import main
    from tests.conftest import INSTANCES

    path = INSTANCES / "seed" / "edgetpu_workload1.json"
    code = main(["simulate", str(path), "--requests", "2000", "--arrivals", "gamma", "--arrival-scv", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    assert report["applications"] and "gamma" in report["arrivals"]
    assert all(
        a["mean_ms"]["ci_low"] <= a["mean_ms"]["value"] <= a["mean_ms"]["ci_high"] for a in report["applications"]
    )


def test_simulate_command_rejects_a_bad_placement_file(tmp_path, capsys):
    """A placement file of the wrong shape is an error with exit status 2."""
    from optplace.cli import main

    instance_path = tmp_path / "instance.json"
    instance_path.write_text(_instance().model_dump_json())
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["simulate", str(instance_path), "--placement", str(bad)]) == 2
    assert "expected a solve result" in capsys.readouterr().err


def test_multicore_front_end_matches_the_exact_formula():
    """Simulated 2-core and half-core front ends match multicore_ps_latency within 3%."""
    pre = np.array([24.0, 20.0])
    for cores in (2.0, 0.5):
        rates = np.array([0.5, 0.5]) * 0.6 * cores * 1000.0 / 22.0
        arrival, classes = _poisson_classes(rates, 200_000, seed=10)
        response = ps_departures(arrival, pre[classes], cores) - arrival
        simulated = np.array([response[20_000:][classes[20_000:] == k].mean() for k in range(2)])
        np.testing.assert_allclose(simulated, latency.multicore_ps_latency(rates, pre, cores).latency_ms, rtol=0.03)


# --- textbook checks of what the SLO guard relies on ---------------------------------------------


def _one_accelerator(discipline: str, profiles: dict[str, dict], rates: dict[str, float]) -> Instance:
    """One accelerator, no front end, no network: the simulated response is the accelerator's alone."""
    return Instance.model_validate(
        {
            "name": "textbook",
            "settings": {"network_delay_ms": 0.0},
            "accelerator_types": [{"name": "acc", "discipline": discipline}],
            "nodes": [{"name": "n", "memory_mb": 4096, "accelerators": [{"name": "acc1", "type": "acc"}]}],
            "models": [{"name": m, "profiles": {"acc": p}} for m, p in profiles.items()],
            "applications": [
                {"name": f"app-{m}", "model": m, "rate_rps": r, "slo": {"latency_ms": 1000}} for m, r in rates.items()
            ],
        }
    )


def test_ps_mean_is_insensitive_to_service_variability():
    """M/G/1-PS at rho 0.6 with gamma service of SCV 3 and 0.5: each class's mean is s/(1-rho) within 3%."""
    instance = _one_accelerator(
        "ps",
        {
            "x": {"service_time_ms": 10.0, "service_time_scv": 3.0},
            "y": {"service_time_ms": 20.0, "service_time_scv": 0.5},
        },
        {"x": 30.0, "y": 15.0},
    )
    report = simulate(instance, {"app-x": "acc1", "app-y": "acc1"}, requests_per_app=100_000, seed=4)
    for name, s in (("app-x", 10.0), ("app-y", 20.0)):
        assert report.application(name).mean_ms.value == pytest.approx(s / (1 - 0.6), rel=0.03)


def test_mg1_fcfs_mean_matches_pollaczek_khinchine():
    """One class FCFS with gamma service (SCV 1) at rho 0.5: mean s + rho s (1 + SCV) / (2 (1 - rho)) within 3%."""
    instance = _one_accelerator("fcfs", {"x": {"service_time_ms": 10.0, "service_time_scv": 1.0}}, {"x": 50.0})
    report = simulate(instance, {"app-x": "acc1"}, requests_per_app=200_000, seed=6)
    expected = 10.0 + 0.5 * 10.0 * 2.0 / (2 * 0.5)
    assert report.application("app-x").mean_ms.value == pytest.approx(expected, rel=0.03)


def test_switch_is_paid_when_the_previously_served_request_used_another_model():
    """By hand: the device keeps the last model loaded through idle time; only a change of model pays."""
    arrival = np.array([0.0, 1.0, 10.0, 30.0, 40.0])
    backend = np.array([0, 1, 1, 0, 0])
    run = fcfs_departures(arrival, np.full(5, 2.0), backend, np.full(5, 5.0))
    # 0: A at 0 -> 2; 1: B waits, switch -> 2 + 5 + 2 = 9; 2: B after idle, no switch -> 12;
    # 3: A after idle, previous served was B -> 30 + 5 + 2 = 37; 4: A again -> 42.
    np.testing.assert_allclose(run.departure_ms, [2.0, 9.0, 12.0, 37.0, 42.0])
    assert run.switched.tolist() == [False, True, False, True, False]


def test_a_cocompiled_device_is_simulated_with_the_groups_overheads():
    """The evaluator runs a1 + b1 with group ab (2 ms per switch); the simulator follows it: the utilisation and
    the mean (12.56 ms) match the co-compiled model, far from the 28.3 ms the device pays compiled apart."""
    from tests.conftest import INSTANCES, load

    instance = load(INSTANCES / "tiny" / "cocompile.json")
    report = simulate(instance, {"a1": "tpu1", "b1": "tpu1"}, requests_per_app=40_000, seed=4)
    tpu = report.accelerators[0]
    assert tpu.utilization == pytest.approx(0.22, rel=0.03)
    assert tpu.switch_fraction == pytest.approx(0.5, abs=0.01)
    for name in ("a1", "b1"):
        app = report.application(name)
        assert app.predicted_ms == pytest.approx(12.564, abs=1e-3)
        assert app.mean_ms.value == pytest.approx(12.564, rel=0.03)
        assert app.meets_slo
