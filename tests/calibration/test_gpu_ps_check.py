"""The GPU processor-sharing check (benchmarks/gpu_ps_check.py) in its fake mode: no torch, no GPU, seconds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from benchmarks import gpu_ps_check
from optplace.calibration import read_log
from optplace.profiles import load_profiles
from tests.conftest import ROOT

FAKE_MS = {"fast": 2.0, "slow": 5.0}
LOADS = (0.3, 0.6)
MEASURE = [
    "--device",
    "fake",
    "--models",
    ",".join(f"{m}:{ms:g}" for m, ms in FAKE_MS.items()),
    "--loads",
    ",".join(map(str, LOADS)),
    "--duration-s",
    "1.5",
    "--warmup-s",
    "0.2",
    "--isolated-requests",
    "40",
    "--isolated-load",
    "0.2",
]
# Blocks optplace and pydantic, as on a GPU machine that has only torch and numpy.
MEASURE_WITHOUT_OPTPLACE = (
    "import sys; sys.modules['optplace'] = None; sys.modules['pydantic'] = None; "
    "from benchmarks import gpu_ps_check; sys.exit(gpu_ps_check.main(sys.argv[1:]))"
)


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> Path:
    """A fake measurement (two models, one mix at two loads) made where optplace cannot be imported."""
    prefix = tmp_path_factory.mktemp("gpu_ps") / "fake"
    subprocess.run(
        [sys.executable, "-c", MEASURE_WITHOUT_OPTPLACE, *MEASURE, "--measure-only", "--out-prefix", str(prefix)],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    return prefix


@pytest.fixture(scope="module")
def analysed(measured, tmp_path_factory) -> tuple[Path, dict]:
    """The analysis of that measurement, written under another prefix."""
    prefix = tmp_path_factory.mktemp("gpu_ps_analysis") / "fake"
    return prefix, gpu_ps_check.analyse(measured, prefix, resamples=200, seed=0)


def sibling(prefix: Path, suffix: str) -> Path:
    return prefix.with_name(prefix.name + suffix)


def test_poisson_arrivals_have_the_asked_rate_and_exponential_gaps():
    """A long seeded stream: its count is within 4 sigma of rate x duration and its gaps pass a KS test."""
    rate, duration = 40.0, 250.0
    times = gpu_ps_check.poisson_arrivals(rate, duration, np.random.default_rng(7))
    expected = rate * duration
    assert abs(times.size - expected) < 4 * np.sqrt(expected)
    assert times[0] >= 0 and times[-1] < duration and np.all(np.diff(times) > 0)
    assert stats.kstest(np.diff(times), "expon", args=(0, 1 / rate)).pvalue > 0.01
    assert stats.kstest(np.diff(times), "expon", args=(0, 1 / (1.2 * rate))).pvalue < 1e-6  # the test has power


def test_poisson_arrivals_refuse_a_rate_that_is_not_positive():
    """A zero rate is an error, not an empty or endless stream."""
    with pytest.raises(ValueError, match="positive"):
        gpu_ps_check.poisson_arrivals(0.0, 1.0, np.random.default_rng(0))


@pytest.mark.slow
def test_measurement_writes_plain_logs_that_optplace_reads(measured):
    """Both logs parse with optplace's reader; isolated rows carry the split, mix rows do not; no request beats its work."""
    isolated = read_log(sibling(measured, "_isolated.csv"))
    mixes = read_log(sibling(measured, "_mixes.csv"))
    assert isolated.format == mixes.format == "plain"
    assert set(isolated.accelerator_type.tolist()) == {"fake-sleep"}
    assert isolated.has_split.all() and not mixes.has_split.any()
    assert set(isolated.load_point.tolist()) == {f"isolated:{m}" for m in FAKE_MS}
    assert set(mixes.load_point.tolist()) == {f"fast+slow@{load:g}" for load in LOADS}
    for log in (isolated, mixes):
        work = np.array([FAKE_MS[m] for m in log.model])
        assert np.all(log.latency_ms >= work)  # a sleep never ends early
    assert np.all(isolated.service_ms >= np.array([FAKE_MS[m] for m in isolated.model]))


@pytest.mark.slow
def test_logged_arrivals_are_poisson_at_the_asked_rates(measured):
    """Per mix point and model the count matches the asked rate (|z| < 5) and the rate-scaled gaps are Exp(1)."""
    run = json.loads(sibling(measured, "_run.json").read_text())
    mixes = read_log(sibling(measured, "_mixes.csv"))
    scaled_gaps = []
    for record in (r for r in run["runs"] if r["kind"] == "mix"):
        for model, rate in record["rates_rps"].items():
            assert record["unserved"][model] == 0
            arrivals = np.sort(mixes.arrival_ms[(mixes.load_point == record["label"]) & (mixes.model == model)]) / 1000
            expected = rate * record["duration_s"]
            assert abs(arrivals.size - expected) < 5 * np.sqrt(expected), (record["label"], model)
            scaled_gaps.append(np.diff(arrivals) * rate)
    gaps = np.concatenate(scaled_gaps)
    assert gaps.size > 200
    assert stats.kstest(gaps, "expon").pvalue > 1e-3


@pytest.mark.slow
def test_mix_rates_split_the_target_load_by_isolated_service_time(measured):
    """Each mix model is asked load / (models x isolated mean service), so the asked utilisation is the target."""
    run = json.loads(sibling(measured, "_run.json").read_text())
    service = {m: r["isolated_service_ms"][m] for r in run["runs"] if r["kind"] == "isolated" for m in r["rates_rps"]}
    for record in (r for r in run["runs"] if r["kind"] == "mix"):
        utilisation = sum(rate * service[m] / 1000 for m, rate in record["rates_rps"].items())
        assert utilisation == pytest.approx(record["target_load"])


@pytest.mark.slow
def test_analysis_compares_every_model_at_every_load(analysed):
    """One row per (mix, load, model) with measured and predicted mean and p95; files for the table, plot, profiles."""
    prefix, report = analysed
    rows = {(r["mix"], r["target_load"], r["model"]) for r in report["rows"]}
    assert rows == {("fast+slow", load, m) for load in LOADS for m in FAKE_MS}
    for row in report["rows"]:
        assert row["measured_p95_ms"] >= row["measured_mean_ms"] * 0.5
        assert all(row[f"predicted_{c}_ms"] is not None for c in ("mean_exact", "mean_additive", "p95_exact"))
        assert row["predicted_p95_exact_ms"] > row["predicted_mean_exact_ms"]
    assert report["summary"]["mean_exact"]["points"] == len(rows)
    for suffix in (".md", ".json", ".png", "_profiles.json"):
        assert sibling(prefix, suffix).stat().st_size > 0
    assert "| fast+slow | 0.6 |" in sibling(prefix, ".md").read_text()


@pytest.mark.slow
def test_analysis_calibrates_from_the_isolated_runs_under_ps(analysed):
    """The profiles document has both fake models on the fake type, as ps, each at least its sleep."""
    prefix, report = analysed
    document = load_profiles(sibling(prefix, "_profiles.json"))
    assert document.disciplines == {"fake-sleep": "ps"}
    for model, ms in FAKE_MS.items():
        assert document.profiles[model]["fake-sleep"].service_time_ms >= ms
    assert report["profiles"]["fast"]["service_time_ms"] == document.profiles["fast"]["fake-sleep"].service_time_ms


@pytest.mark.slow
def test_analysis_is_reproducible_from_the_logs(measured, analysed, tmp_path):
    """Analysing the same logs again (the --analyse path) gives the same rows: the bootstrap is seeded."""
    assert (
        gpu_ps_check.main(["--analyse", str(measured), "--out-prefix", str(tmp_path / "again"), "--resamples", "200"])
        == 0
    )
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["rows"] == analysed[1]["rows"]


@pytest.mark.slow
def test_one_command_measures_and_analyses(tmp_path):
    """Without --measure-only the command measures (workers spawned from this process) and writes the table."""
    argv = [*MEASURE, "--loads", "0.5", "--duration-s", "0.5", "--isolated-requests", "20", "--resamples", "200"]
    assert gpu_ps_check.main([*argv, "--out-prefix", str(tmp_path / "one")]) == 0
    report = json.loads((tmp_path / "one.json").read_text())
    assert {(r["target_load"], r["model"]) for r in report["rows"]} == {(0.5, m) for m in FAKE_MS}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "fast:x,slow:5"], "NAME:MS"),
        (["--models", "fast:2"], "at least two"),
        (["--mix", "fast+other"], "--mix fast+other"),
        (["--loads", "0.5,1.2"], "strictly between 0 and 1"),
        (["--duration-s", "0"], "--duration-s"),
    ],
)
def test_bad_options_are_refused_with_the_option_named(argv, message, tmp_path):
    """Each bad option stops the command before anything runs, with a message naming it."""
    with pytest.raises(SystemExit, match=re.escape(message)):
        gpu_ps_check.main(["--device", "fake", "--models", "fast:2,slow:5", *argv, "--out-prefix", str(tmp_path / "x")])
    assert not list(tmp_path.iterdir())


def test_torch_devices_say_how_to_install_torch(monkeypatch):
    """--device cpu without torch names the optional extra to install."""
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match=r"gpu-check"):
        gpu_ps_check.main(["--device", "cpu", "--measure-only"])


def test_a_torchvision_model_serves_a_request_on_the_cpu():
    """With torch installed (not in CI), a random-weight torchvision model is built and serves a request."""
    pytest.importorskip("torchvision")
    spec = gpu_ps_check.WorkerSpec(
        model="squeezenet1_1",
        device="cpu",
        fake_service_ms=None,
        fake_work="sleep",
        batch_size=1,
        image_size=32,
        cpu_core=None,
        seed=0,
    )
    serve, facts = gpu_ps_check.build_service(spec)
    timing = gpu_ps_check.serve_arrivals(serve, gpu_ps_check.time.monotonic(), np.array([0.0, 0.0]), float("inf"))
    assert "torch" in facts
    assert timing["found_idle"] == [True, False]  # the second request arrived while the first was served
    assert 0 < timing["end"][0] <= timing["start"][1] < timing["end"][1]
