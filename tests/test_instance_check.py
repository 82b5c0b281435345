"""`optplace validate` and optplace.instance_check: every problem in one pass, with the fix and the numbers."""

from __future__ import annotations

import copy
import json

import pytest

from optplace.cli import main
from optplace.instance_check import _reference_errors, check_document
from tests.conftest import SEED, make_instance


def codes(doc) -> dict[str, str]:
    """pointer -> code of every finding."""
    return {f.pointer: f.code for f in check_document(doc).findings}


def messages(doc) -> dict[str, str]:
    """pointer -> message of every finding."""
    return {f.pointer: f.message for f in check_document(doc).findings}


def test_misspelt_field_gets_did_you_mean_and_no_second_missing_error() -> None:
    """'rate_rsp' is an unknown field with a suggestion; the missing rate_rps it stands for is not repeated."""
    doc = make_instance()
    doc["applications"][0]["rate_rsp"] = doc["applications"][0].pop("rate_rps")
    found = messages(doc)
    assert found["/applications/0/rate_rsp"] == "unknown field 'rate_rsp'; did you mean 'rate_rps'? (it is required)"
    assert "/applications/0/rate_rps" not in found


def test_references_are_checked_while_other_fields_are_broken() -> None:
    """An unknown model and accelerator type are reported in the same run as a misspelt field, each with its fix."""
    doc = make_instance()
    doc["nodes"][0]["memory_mbb"] = doc["nodes"][0].pop("memory_mb")
    doc["applications"][1]["model"] = "mobilenet-v2"
    doc["nodes"][1]["accelerators"][0]["type"] = "tpuu"
    found = messages(doc)
    assert "did you mean 'memory_mb'" in found["/nodes/0/memory_mbb"]
    assert found["/applications/1/model"] == "unknown model 'mobilenet-v2'; did you mean 'mobilenet_v2'?"
    assert found["/nodes/1/accelerators/0/type"] == "unknown accelerator type 'tpuu'; did you mean 'tpu'?"


def test_schema_reference_errors_get_suggestions_too() -> None:
    """With every field valid, the schema's own reference errors carry the closest name."""
    doc = make_instance()
    doc["applications"][0]["current_accelerator"] = "gpu2"
    assert "did you mean 'gpu1'" in messages(doc)["/applications/0/current_accelerator"]


def test_enum_values_get_did_you_mean() -> None:
    """A misspelt discipline or objective is told the closest allowed value."""
    doc = make_instance(objectives=["max_hosted", "min_acelerators"])
    doc["accelerator_types"][1]["discipline"] = "fcf"
    found = messages(doc)
    assert found["/objectives/1"].endswith("did you mean 'min_accelerators'?")
    assert found["/accelerator_types/1/discipline"].endswith("did you mean 'fcfs'?")


@pytest.mark.parametrize(
    ("where", "value", "hint"),
    [
        (("applications", 0, "slo", "latency_ms"), 0.15, "0.15 s = 150 ms"),
        (("nodes", 0, "memory_mb"), 4, "4 GB = 4096 MB"),
        (("models", 0, "profiles", "gpu", "memory_mb"), 0.965, "0.965 GB = 988.16 MB"),
        (("applications", 0, "preprocess_ms"), 0.024, "0.024 s = 24 ms"),
        (("applications", 1, "rate_rps"), 480, "if 480 is per minute, write 8"),
    ],
)
def test_implausible_units_warn_with_the_conversion(where, value, hint) -> None:
    """Seconds for ms, GB for MB and per-minute rates are warnings that show the converted number."""
    doc = make_instance()
    target = doc
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    report = check_document(doc)
    assert report.valid
    pointer = "/" + "/".join(map(str, where))
    warning = next(f for f in report.warnings if f.pointer == pointer)
    assert warning.code == "implausible_unit" and hint in warning.message


def test_service_times_in_seconds_warn_once() -> None:
    """When every service time is below half a millisecond they are seconds: one warning names the longest."""
    doc = make_instance()
    for model in doc["models"]:
        for profile in model["profiles"].values():
            profile["service_time_ms"] /= 1000
    units = [f for f in check_document(doc).warnings if f.code == "implausible_unit"]
    assert len(units) == 1 and "0.0294 s = 29.4 ms" in units[0].message


def test_objectives_that_host_nothing_and_apps_that_fit_nowhere_warn() -> None:
    """min_accelerators alone, and an application too big for every node, are warnings with the fix and the MB."""
    doc = make_instance(objectives=["min_accelerators"])
    doc["applications"][0]["frontend_memory_mb"] = 5000
    found = {f.code: f for f in check_document(doc).warnings}
    assert found["hosts_nothing"].pointer == "/objectives" and "put max_hosted first" in found["hosts_nothing"].message
    assert "needs 5965 MB of node memory" in found["exceeds_memory_alone"].message
    assert "allows 3276.8 MB (4096 MB x memory cap 0.8)" in found["exceeds_memory_alone"].message


def test_shipped_edge_instances_have_no_unit_warnings() -> None:
    """The seed workloads use the documented units: no implausible_unit warning (the thresholds are not too eager)."""
    for path in SEED:
        report = check_document(json.loads(path.read_text()))
        assert report.valid and not [f for f in report.warnings if f.code == "implausible_unit"]


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda d: d["applications"][0].update(model="resnet5"),
        lambda d: d["nodes"][0]["accelerators"][0].update(type="gpuu"),
        lambda d: d["models"][0]["profiles"].update(gpuu=d["models"][0]["profiles"]["gpu"]),
        lambda d: d["applications"][1].update(current_accelerator="tpu9"),
        lambda d: d["applications"][1].update(cost_by_accelerator={"gpu7": 1.0}),
        lambda d: d["applications"][1].update(allowed_accelerator_types=["gpu", "tpux"]),
    ],
)
def test_lenient_reference_check_agrees_with_the_schema(corrupt) -> None:
    """On structurally valid documents the raw-document reference check finds what the schema finds, at the same place."""
    doc = copy.deepcopy(make_instance())
    corrupt(doc)
    schema = sorted(f.pointer for f in check_document(doc).errors)
    lenient = sorted(f.pointer for f in _reference_errors(doc))
    assert schema and len(schema) == len(lenient)
    assert all(mine.startswith(theirs) for mine, theirs in zip(lenient, schema))


def test_cli_exit_statuses_and_json(tmp_path, capsys) -> None:
    """Exit 0 for a valid file, 1 for an invalid one (or warnings under --strict), 2 for an unreadable one."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_instance()))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(make_instance(objectives=["max_hosted", "min_acelerators"])))
    warned = tmp_path / "warned.json"
    warned.write_text(json.dumps(make_instance(objectives=["min_accelerators"])))
    assert main(["validate", str(good)]) == 0
    assert "valid instance (2 applications, 2 accelerators on 2 nodes, 2 models); 0 errors, 0 warnings" in (
        capsys.readouterr().out
    )
    assert main(["validate", str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["valid"] and report["findings"][0]["pointer"] == "/objectives/1"
    assert main(["validate", str(warned)]) == 0 and main(["validate", "--strict", str(warned)]) == 1
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_cli_quiet_prints_nothing_for_a_clean_file(tmp_path, capsys) -> None:
    """-q (before or after the command) keeps a clean file's verdict off stdout."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_instance()))
    assert main(["-q", "validate", str(good)]) == 0 and capsys.readouterr().out == ""
    assert main(["validate", str(good), "-q"]) == 0 and capsys.readouterr().out == ""
