"""``optplace calibrate`` end to end, and ``--profiles`` / ``--log-csv`` on the other commands."""

from __future__ import annotations

import json
import subprocess
import sys

from optplace.cli import main
from optplace.validation import default_queueing_logs
from tests.conftest import INSTANCES, ROOT

MIX_B = str(default_queueing_logs()[1])  # inception_v3 x ssd_mobilenet_v2
HETEROGENEOUS = str(INSTANCES / "seed" / "heterogeneous.json")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optplace", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_calibrate_then_solve_with_profiles(tmp_path):
    """calibrate writes a profiles document and a plot; solve --profiles places with the fitted profiles."""
    profiles, plot = tmp_path / "profiles.json", tmp_path / "fit.png"
    out = run("calibrate", MIX_B, "--out", str(profiles), "--plot", str(plot), "--resamples", "200")
    assert out.returncode == 0, out.stderr
    assert "ssd_mobilenet_v2" in out.stdout and "Residuals" in out.stdout and "MAPE (in-sample)" in out.stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"
    document = json.loads(profiles.read_text())
    fitted = document["profiles"]["ssd_mobilenet_v2"]["coral-edgetpu"]
    assert 20.5 < fitted["service_time_ms"] < 21.5 and 22.5 < fitted["switch_overhead_ms"] < 24.0
    with_profiles = run("solve", HETEROGENEOUS, "-m", "first_fit", "--json", "--profiles", str(profiles))
    without = run("solve", HETEROGENEOUS, "-m", "first_fit", "--json")
    assert with_profiles.returncode in (0, 1) and without.returncode in (0, 1), with_profiles.stderr
    assert json.loads(with_profiles.stdout)["input_hash"] != json.loads(without.stdout)["input_hash"]


def test_solve_profiles_with_unknown_model_exits_2(tmp_path):
    """Profiles naming a model the instance lacks are refused with the model's name."""
    profiles = tmp_path / "all.json"
    assert (
        main(["calibrate", *map(str, default_queueing_logs()), "--out", str(profiles), "--resamples", "100", "--json"])
        == 0
    )
    out = run("solve", HETEROGENEOUS, "--profiles", str(profiles))
    assert out.returncode == 2
    assert "no model 'efficientnet-L'" in out.stderr


def test_simulate_log_csv_round_trips_through_calibrate(tmp_path, capsys):
    """simulate --log-csv writes the plain log; calibrate recovers the tiny instance's profile from it."""
    log, profiles = tmp_path / "requests.csv", tmp_path / "p.json"
    instance = str(INSTANCES / "tiny" / "fcfs_switch.json")
    placement = tmp_path / "placement.json"
    placement.write_text(json.dumps({"a1": "tpu1", "b1": "tpu1"}))
    code = main(["simulate", instance, "--placement", str(placement), "--requests", "3000", "--log-csv", str(log)])
    assert code in (0, 1)
    assert log.read_text().startswith("timestamp_s,model,accelerator,latency_ms,accelerator_type,queue_ms,service_ms")
    capsys.readouterr()
    assert main(["calibrate", str(log), "--out", str(profiles), "--resamples", "200", "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    for model in ("A", "B"):
        fit = next(f for f in fitted["calibration"]["fits"] if f["model"] == model)
        assert fit["service_time_ms"]["ci_low"] <= 10.0 <= fit["service_time_ms"]["ci_high"]
        assert fit["switch_overhead_ms"]["ci_low"] <= 20.0 <= fit["switch_overhead_ms"]["ci_high"]
        assert fit["memory_mb"]["value"] == 100.0
    # The fitted document merges back into the instance it came from.
    assert main(["solve", instance, "--profiles", str(profiles), "-m", "first_fit"]) in (0, 1)


def test_generate_and_validate_models_take_profiles(tmp_path, capsys):
    """generate --profiles merges into every instance (recorded in provenance and manifest); validate-models reads the document."""
    profiles = tmp_path / "p.json"
    assert main(["calibrate", MIX_B, "--out", str(profiles), "--resamples", "100", "--json"]) == 0
    out = tmp_path / "set"
    assert (
        main(["generate", "--family", "edgetpu", "--apps", "12", "--profiles", str(profiles), "--out", str(out)]) == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["files"][0]
    assert entry["profiles_sha256"] and "--profiles" in entry["command"]
    instance = json.loads((out / entry["path"]).read_text())
    assert "ssd_mobilenet_v2@coral-edgetpu" in instance["provenance"]["calibrated_profiles"]["applied"]
    ssd = next(m for m in instance["models"] if m["name"] == "ssd_mobilenet_v2")
    assert ssd["profiles"]["coral-edgetpu"]["memory_mb"] == 100  # kept from the zoo: the logs have none
    capsys.readouterr()
    assert main(["validate-models", MIX_B, "--profiles", str(profiles), "--sim-requests", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mape"]["fcfs_bernoulli"] < 5.0


def test_calibrate_bad_inputs_exit_2(tmp_path, capsys):
    """A missing file, an unreadable log or a malformed --discipline exit 2 with a message."""
    assert main(["calibrate", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "p.json")]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["calibrate", str(bad), "--out", str(tmp_path / "p.json")]) == 2
    assert main(["calibrate", MIX_B, "--out", str(tmp_path / "p.json"), "--discipline", "tpu:ps"]) == 2
    assert "unknown log format" in capsys.readouterr().err
