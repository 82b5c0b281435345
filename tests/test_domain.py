"""The domain model: valid documents round-trip, bad ones fail with messages naming field and fix."""

from __future__ import annotations

import copy
import json

import pytest

from optplace.domain import SLO, Instance, Objective, Profile
from optplace.io import InstanceError, parse_instance
from tests.conftest import SEED, TINY, load, make_instance


@pytest.mark.parametrize("path", TINY + SEED, ids=lambda p: p.stem)
def test_shipped_instances_round_trip(path):
    """Every shipped instance validates and survives dump -> load unchanged."""
    instance = load(path)
    again = Instance.model_validate_json(instance.model_dump_json())
    assert again == instance


def test_defaults_follow_the_seed():
    """Defaults are the seed's: utilisation cap 0.8, memory cap 0.8, most-hosted then fewest devices."""
    instance = Instance.model_validate(make_instance())
    assert instance.settings.utilization_cap == 0.8
    assert instance.settings.memory_cap == 0.8
    assert instance.objectives == [Objective.MAX_HOSTED, Objective.MIN_ACCELERATORS]
    assert instance.utilization_cap("gpu") == 0.8


def test_models_are_frozen(instance):
    """Domain objects cannot be mutated after validation."""
    with pytest.raises(Exception, match="frozen"):
        instance.name = "other"  # type: ignore[misc]


def _errors(doc) -> list[dict[str, str]]:
    with pytest.raises(InstanceError) as caught:
        parse_instance(doc, "test")
    return caught.value.errors


def _mutate(change):
    doc = make_instance()
    change(doc)
    return doc


BAD_INPUTS = {
    "unknown model": (
        lambda d: d["applications"][0].update(model="vgg99"),
        "/applications/0/model",
        "declare it in models",
    ),
    "rate zero": (lambda d: d["applications"][0].update(rate_rps=0), "/applications/0/rate_rps", "greater than 0"),
    "negative latency": (
        lambda d: d["applications"][1]["slo"].update(latency_ms=-5),
        "/applications/1/slo/latency_ms",
        "greater than 0",
    ),
    "duplicate application": (lambda d: d["applications"][1].update(name="cam1"), "/applications/1/name", "duplicate"),
    "unknown accelerator type": (
        lambda d: d["nodes"][0]["accelerators"][0].update(type="tpu9"),
        "/nodes/0/accelerators/0/type",
        "declare it in accelerator_types",
    ),
    "profile for unknown type": (
        lambda d: d["models"][0]["profiles"].update(npu={"service_time_ms": 3}),
        "/models/0/profiles/npu",
        "unknown accelerator type",
    ),
    "duplicate accelerator": (
        lambda d: d["nodes"][1]["accelerators"][0].update(name="gpu1"),
        "/nodes/1/accelerators/0/name",
        "unique across the cluster",
    ),
    "unknown field": (lambda d: d["applications"][0].update(rate=3), "/applications/0/rate", "unknown field"),
    "bad statistic": (
        lambda d: d["applications"][0]["slo"].update(statistic="p100"),
        "/applications/0/slo/statistic",
        "percentile",
    ),
    "utilisation cap of one": (
        lambda d: d.update(settings={"utilization_cap": 1.0}),
        "/settings/utilization_cap",
        "less than 1",
    ),
    "no allowed type with a profile": (
        lambda d: d["applications"][0].update(allowed_accelerator_types=["tpu"]),
        "/applications/0/allowed_accelerator_types",
        "no profile",
    ),
    "unknown current accelerator": (
        lambda d: d["applications"][0].update(current_accelerator="gpu7"),
        "/applications/0/current_accelerator",
        "unknown accelerator",
    ),
    "pinned without current": (
        lambda d: d["applications"][0].update(pinned=True),
        "/applications/0",
        "current_accelerator",
    ),
    "negative memory": (lambda d: d["nodes"][0].update(memory_mb=-1), "/nodes/0/memory_mb", "greater than 0"),
    "node without accelerators": (
        lambda d: d["nodes"][0].update(accelerators=[]),
        "/nodes/0/accelerators",
        "at least 1",
    ),
    "unknown objective": (lambda d: d.update(objectives=["max_fun"]), "/objectives/0", "max_hosted"),
    "cost key unknown": (
        lambda d: d["applications"][0].update(cost_by_accelerator={"gpu9": 1}),
        "/applications/0/cost_by_accelerator/gpu9",
        "unknown accelerator",
    ),
    "both scv and second moment": (
        lambda d: d["models"][0]["profiles"]["gpu"].update(service_time_scv=0.1, service_time_second_moment_ms2=900),
        "/models/0/profiles/gpu",
        "not both",
    ),
    "nan rate": (lambda d: d["applications"][0].update(rate_rps=float("nan")), "/applications/0/rate_rps", "finite"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS), ids=str)
def test_bad_input_names_the_field_and_the_fix(case):
    """Each kind of bad input yields an error whose pointer names the field and whose message says what to do."""
    change, pointer, phrase = BAD_INPUTS[case]
    errors = _errors(_mutate(change))
    matching = [e for e in errors if e["pointer"] == pointer]
    assert matching, f"no error at {pointer}: {errors}"
    assert any(phrase.lower() in e["message"].lower() for e in matching), matching


def test_several_errors_are_reported_together():
    """All cross-field problems come back in one error, not one at a time."""
    doc = make_instance()
    doc["applications"][0]["model"] = "nope"
    doc["nodes"][0]["accelerators"][0]["type"] = "nope"
    pointers = {e["pointer"] for e in _errors(doc)}
    assert {"/applications/0/model", "/nodes/0/accelerators/0/type"} <= pointers


def test_an_app_that_can_never_meet_its_slo_is_valid_input():
    """An impossible SLO is a valid instance (the solve reports it), not an input error."""
    doc = make_instance()
    doc["applications"][0]["slo"]["latency_ms"] = 1
    assert parse_instance(doc).applications[0].slo.latency_ms == 1


def test_slo_quantile_and_profile_scv():
    """Percentile strings map to probabilities; the SCV follows from the second moment."""
    assert SLO(latency_ms=10).quantile is None
    assert SLO(latency_ms=10, statistic="p99.9").quantile == pytest.approx(0.999)
    assert Profile(service_time_ms=10, service_time_second_moment_ms2=150).scv == pytest.approx(0.5)
    assert Profile(service_time_ms=10).scv == 0.0
    with pytest.raises(ValueError, match="squared"):
        Profile(service_time_ms=10, service_time_second_moment_ms2=50)


def test_instance_file_is_one_object_with_an_applications_list():
    """The JSON format: one object whose applications sit in a top-level list."""
    doc = json.loads(Instance.model_validate(make_instance()).model_dump_json())
    assert isinstance(doc["applications"], list) and doc["applications"][0]["name"] == "cam1"
    trimmed = copy.deepcopy(doc)
    del trimmed["applications"]
    assert Instance.model_validate(trimmed).applications == []


def test_front_end_needs_at_least_one_core():
    """preprocess_cores below 1 is refused: the pooled front-end model would be optimistic there."""
    doc = make_instance()
    doc["nodes"][0]["preprocess_cores"] = 0.5
    errors = _errors(doc)
    assert any(
        e["pointer"] == "/nodes/0/preprocess_cores" and "greater than or equal to 1" in e["message"] for e in errors
    )
