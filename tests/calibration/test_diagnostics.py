"""Residual diagnostics: predictions come from the evaluator, observed means from the logs."""

from __future__ import annotations

import numpy as np
import pytest

from optplace import latency
from optplace.calibration import calibrate, plot_residuals, predict_mean_latency, read_log, residuals
from optplace.validation import (
    EDGETPU_PROFILES,
    EVALUATOR_VARIANT,
    default_queueing_logs,
    mape,
    validate_queueing_logs,
)


def test_prediction_is_the_evaluators_fcfs_mean():
    """One accelerator with two models: the prediction equals the evaluator's FCFS-with-switch mean."""
    profiles = {
        "a": {"service_time_ms": 10.0, "switch_overhead_ms": 5.0},
        "b": {"service_time_ms": 20.0, "service_time_scv": 0.5},
    }
    got, utilization = predict_mean_latency(profiles, {"a": 10.0, "b": 5.0}, accelerator_type="t", discipline="fcfs")
    expected = latency.accelerator_latency("fcfs", None, [10.0, 5.0], [10.0, 20.0], [0.0, 0.5], [5.0, 0.0])
    assert [got["a"], got["b"]] == pytest.approx(expected.latency_ms.tolist())
    assert utilization == pytest.approx(expected.utilization)


def test_authors_profiles_reproduce_validate_models():
    """With the authors' profiles the residuals give the same MAPE as validate-models' evaluator variant."""
    authors = {
        m: {"coral-edgetpu": {"service_time_ms": s, "switch_overhead_ms": o}} for m, (s, o) in EDGETPU_PROFILES.items()
    }
    logs = [read_log(p) for p in default_queueing_logs()]
    points = residuals(logs, authors, {"coral-edgetpu": "fcfs"})
    reference = validate_queueing_logs(simulate=False)
    assert len(points) == len(reference) == 25
    ours = float(np.mean([p.error_percent for p in points]))
    assert ours == pytest.approx(mape(reference, EVALUATOR_VARIANT), rel=1e-9)


def test_calibrate_reports_residuals_and_plots(tmp_path):
    """calibrate() returns profiles for every model, in-sample residuals, and a PNG plot."""
    path = default_queueing_logs()[1]
    document = calibrate([path], resamples=200)
    assert set(document.profiles) == {"inception_v3", "ssd_mobilenet_v2"}
    report = document.calibration
    assert len(report["residuals"]) == 10 and report["mape_percent_in_sample"] < 6.0
    assert document.provenance["logs"][0]["sha256"]
    from optplace.calibration import LoadPointResidual

    points = [
        LoadPointResidual.model_validate({k: v for k, v in r.items() if k not in ("residual_ms", "error_percent")})
        for r in report["residuals"]
    ]
    png = plot_residuals(points, tmp_path / "r.png", "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_discipline_type_is_rejected():
    """Naming a discipline for a type the logs do not have is an error, not silently ignored."""
    with pytest.raises(ValueError, match="not in the logs"):
        calibrate(default_queueing_logs()[:1], disciplines={"gpu": "ps"}, diagnose=False)
