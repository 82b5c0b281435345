"""Model validation against measured data, and the ``validate-models`` command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from optplace import validation
from optplace.cli import main
from optplace.simulation import fcfs_departures

LOGS = validation.default_queueing_logs()


@pytest.fixture(scope="module")
def shipped_points():
    return validation.validate_queueing_logs(simulate=False)


def test_shipped_logs_are_found_and_grouped(shipped_points):
    """Two released mixes, five load levels each: 3 x 5 + 2 x 5 = 25 load points."""
    assert len(LOGS) == 2
    assert len(shipped_points) == 25
    assert {p.vary_rho for p in shipped_points} == {0.1, 0.2, 0.3, 0.4, 0.5}
    assert sum(p.requests for p in shipped_points) == 7942 + 9706


def test_seed_fcfs_model_matches_the_published_error(shipped_points):
    """The seed's FCFS model predicts the 25 points with a MAPE of about 2.7% (the paper's figure)."""
    assert validation.mape(shipped_points, "fcfs_seed") == pytest.approx(2.74, abs=0.05)
    assert validation.mape(shipped_points, "fcfs_bernoulli") == pytest.approx(2.75, abs=0.05)


def test_strawmen_are_far_off(shipped_points):
    """Ignoring co-location (M/D/1 alone) or assuming exponential service (M/M/1) is off by tens of percent."""
    assert validation.mape(shipped_points, "md1_isolated") > 30.0
    assert validation.mape(shipped_points, "mm1") > 20.0
    counts = validation.within_ci_counts(shipped_points)
    assert counts["fcfs_bernoulli"] >= 22 and counts["md1_isolated"] == 0


def test_switch_model_matches_the_logged_switch_frequency(shipped_points):
    """The share of requests that follow another model on the device is close to 1 - lambda_i / Lambda."""
    gaps = [abs(p.observed_switch_fraction - p.predicted_switch_probability) for p in shipped_points]
    assert max(gaps) < 0.05


def test_predictions_never_read_the_logged_service_rate(tmp_path, shipped_points):
    """Overwriting service_rate, rho and the expected_* columns changes no prediction."""
    source = LOGS[1]
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.update(service_rate="999", rho="0.99", expected_time_md1="1", expected_time_mm1="1")
    target = tmp_path / source.name
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rewritten = validation.validate_queueing_logs([target], simulate=False)
    original = [p for p in shipped_points if p.source == source.name]
    assert [p.predictions for p in rewritten] == [p.predictions for p in original]


def test_synthetic_log_from_the_simulator_is_predicted_by_the_dependent_model(tmp_path):
    """A log written from a simulated FCFS switch queue with known profiles is predicted within 4%."""
    rng = np.random.default_rng(0)
    profiles = {"fast": (5.0, 10.0), "slow": (40.0, 15.0)}
    rows = []
    for level, (fast_rate, slow_rate) in enumerate([(20.0, 3.0), (40.0, 6.0)]):
        rates = np.array([fast_rate, slow_rate])
        n = 25_000
        arrival = np.cumsum(rng.exponential(1000.0 / rates.sum(), n))
        classes = rng.choice(2, size=n, p=rates / rates.sum())
        s = np.array([5.0, 40.0])[classes]
        o = np.array([10.0, 15.0])[classes]
        run = fcfs_departures(arrival, s, classes, o)
        origin = 1000.0 * level
        for a, d, k in zip(arrival[n // 10 :], run.departure_ms[n // 10 :], classes[n // 10 :]):
            model = ("fast", "slow")[k]
            rows.append([model, 0, rates[k], 0, 0.1 * (level + 1), 0, 0, origin + a / 1000, origin + d / 1000, "", ""])
    path = tmp_path / "queuing_tpu_fastXslow.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "model",
                "service_rate",
                "input_rate",
                "rho",
                "vary_rho",
                "expected_time_md1",
                "expected_time_mm1",
                "start_time",
                "end_time",
                "tpu_submit_time",
                "tpu_end_time",
            ]
        )
        writer.writerows(rows)
    points = validation.validate_queueing_logs([path], profiles=profiles, simulated_requests=200_000)
    assert len(points) == 4
    assert validation.mape(points, "fcfs_dependent") < 4.0
    assert validation.mape(points, "fcfs_simulated") < 4.0


def test_unknown_model_names_the_missing_profile(tmp_path):
    """A log with a model the profiles lack fails with a message naming it and the fix."""
    path = tmp_path / "log.csv"
    path.write_text(
        "model,service_rate,input_rate,rho,vary_rho,expected_time_md1,expected_time_mm1,start_time,end_time,"
        "tpu_submit_time,tpu_end_time\nresnet152,1,2,0.1,0.1,1,1,0.0,0.1,0.0,0.1\n"
    )
    with pytest.raises(ValueError, match=r"resnet152.*--profiles"):
        validation.validate_queueing_logs([path], simulate=False)


def test_csv_kind_is_read_from_the_header(tmp_path):
    """Queueing logs and microbenchmarks are told apart by their columns; other CSVs are refused."""
    assert validation.csv_kind(LOGS[0]) == "queueing"
    assert validation.csv_kind(validation.DATA_DIR / "trt_ps_validation.csv") == "microbenchmark"
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a released ibis CSV"):
        validation.csv_kind(other)


def test_gpu_microbenchmark_is_processor_sharing():
    """Three concurrent Jetson jobs finish when ideal PS says (within 2%), far from serial service."""
    result = validation.validate_microbenchmark(validation.DATA_DIR / "trt_ps_validation.csv")
    assert result.best() == "ps"
    assert result.mape("ps") < 2.0 and result.mape("fcfs") > 20.0
    assert result.models == ["Resnet50", "Yolo4-tiny", "EfficientNet-B3"]


def test_edgetpu_microbenchmark_is_serial_fcfs():
    """Five edgeTPU jobs submitted together finish one after another in submission order (within 2%)."""
    result = validation.validate_microbenchmark(validation.DATA_DIR / "edgetpu_fcfs_validation.csv")
    assert result.best() == "fcfs"
    assert result.mape("fcfs") < 2.0 and result.mape("ps") > 50.0
    assert result.rounds == 99  # the first (warm-up) round is dropped


def test_service_time_diagnostics_recover_the_profiles():
    """The device times implied by the logs agree with the isolated profiles (except ssd's variance)."""
    rows = validation.service_time_diagnostics()
    for row in rows:
        assert row["service_no_switch_mean_ms"] == pytest.approx(row["profile_service_ms"], rel=0.1)
        total = row["profile_service_ms"] + row["profile_switch_ms"]
        assert row["service_with_switch_mean_ms"] == pytest.approx(total, rel=0.05)


# --- the command -----------------------------------------------------------------------------------


def test_validate_models_json_has_points_and_mape(capsys):
    """`optplace validate-models --json` prints the documented keys for the shipped data."""
    assert main(["validate-models", "--json", "--sim-requests", "20000"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["points"]) == 25
    assert set(document["mape"]) == set(validation.VARIANTS)
    assert document["mape"]["fcfs_seed"] == pytest.approx(2.74, abs=0.05)
    assert document["evaluator"] == "fcfs_dependent" and document["latency_model"] == "v2"
    assert document["mape"]["fcfs_dependent"] == pytest.approx(3.30, abs=0.05)
    assert [b["best"] for b in document["microbenchmarks"]] == ["ps", "fcfs"]
    point = document["points"][0]
    assert {"observed_ms", "predicted_ms", "error_percent", "vary_rho", "model"} <= set(point)


def test_evaluator_variant_is_what_the_evaluator_computes(shipped_points):
    """The variant named ``evaluator`` equals the evaluator's mean latency for a one-edgeTPU instance of the point."""
    from optplace.domain import Instance
    from optplace.evaluate import evaluate

    point = next(p for p in shipped_points if len(p.colocated) == 3 and p.vary_rho == 0.5)
    models = list(point.colocated)
    doc = {
        "accelerator_types": [{"name": "tpu", "discipline": "fcfs", "utilization_cap": 0.99}],
        "nodes": [{"name": "n", "memory_mb": 8000, "accelerators": [{"name": "d", "type": "tpu"}]}],
        "models": [
            {
                "name": m,
                "profiles": {
                    "tpu": {
                        "service_time_ms": validation.EDGETPU_PROFILES[m][0],
                        "switch_overhead_ms": validation.EDGETPU_PROFILES[m][1],
                    }
                },
            }
            for m in models
        ],
        "applications": [
            {"name": m, "model": m, "rate_rps": point.colocated[m], "slo": {"latency_ms": 5000}, "preprocess_ms": 0}
            for m in models
        ],
        "settings": {"network_delay_ms": 0},
    }
    evaluation = evaluate(Instance.model_validate(doc), {m: "d" for m in models})
    got = next(a.latency_ms for a in evaluation.applications if a.application == point.model)
    from optplace import solve

    result = solve(Instance.model_validate(doc), "first_fit")
    assert result.latency_model == "v2" and result.hosted == len(models)
    assert got == pytest.approx(point.predictions[validation.EVALUATOR_VARIANT], rel=1e-12)
    assert evaluation.latency_model == "v2"


def test_validate_models_on_one_log_prints_a_table(capsys):
    """Given one queueing log (and no simulation) the text output covers only that log."""
    assert main(["validate-models", str(LOGS[1]), "--sim-requests", "0"]) == 0
    out = capsys.readouterr().out
    assert "inception_v3Xssd_mobilenet_v2" in out and "efficientnet-L" not in out
    assert "fcfs_seed" in out and "fcfs_simulated" not in out and "Microbenchmark" not in out


def test_validate_models_with_custom_profiles(tmp_path, capsys):
    """--profiles replaces the authors' profiles; a malformed file is a clear error."""
    profiles = tmp_path / "profiles.json"
    profiles.write_text(
        json.dumps(
            {m: {"service_time_ms": s, "switch_overhead_ms": o} for m, (s, o) in validation.EDGETPU_PROFILES.items()}
        )
    )
    assert main(["validate-models", str(LOGS[1]), "--sim-requests", "0", "--profiles", str(profiles), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mape"]["fcfs_seed"] == pytest.approx(3.87, abs=0.05)
    profiles.write_text(json.dumps({"inception_v3": {"switch_overhead_ms": 1}}))
    assert main(["validate-models", str(LOGS[1]), "--profiles", str(profiles)]) == 2
    assert "service_time_ms" in capsys.readouterr().err


def test_validate_models_reports_missing_files(capsys):
    """A path that does not exist is an error with exit status 2."""
    assert main(["validate-models", str(Path("no") / "such.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
