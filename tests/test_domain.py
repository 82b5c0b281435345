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
    "max_backends zero": (
        lambda d: d["nodes"][0]["accelerators"][0].update(max_backends=0),
        "/nodes/0/accelerators/0/max_backends",
        "greater than or equal to 1",
    ),
    "frontend_concurrency zero": (
        lambda d: d["applications"][0].update(frontend_concurrency=0),
        "/applications/0/frontend_concurrency",
        "greater than or equal to 1",
    ),
    "unknown switch variance": (
        lambda d: d.update(settings={"switch_variance": "v1"}),
        "/settings/switch_variance",
        "pattern",
    ),
    "group on a ps type": (
        lambda d: d.update(cocompilation_groups=[_group("gpu", {"resnet50": 0, "mobilenet_v2": 0})]),
        "/cocompilation_groups/0/accelerator_type",
        "only changes the switch overhead of an 'fcfs' device",
    ),
    "group of an unknown type": (
        lambda d: d.update(cocompilation_groups=[_group("npu", {"resnet50": 0, "mobilenet_v2": 0})]),
        "/cocompilation_groups/0/accelerator_type",
        "unknown accelerator type",
    ),
    "group member without a profile": (
        lambda d: d.update(cocompilation_groups=[_group("tpu", {"resnet50": 0, "mobilenet_v2": 0})]),
        "/cocompilation_groups/0/switch_overhead_ms/resnet50",
        "no profile for type 'tpu'",
    ),
    "group of one model": (
        lambda d: d.update(cocompilation_groups=[_group("tpu", {"mobilenet_v2": 1})]),
        "/cocompilation_groups/0/switch_overhead_ms",
        "at least 2",
    ),
    "co-compiled overhead above the profile's": (
        lambda d: _two_tpu_models(d, {"mobilenet_v2": 11, "tiny": 1}),
        "/cocompilation_groups/0/switch_overhead_ms/mobilenet_v2",
        "at most that",
    ),
    "group over the parameter cache": (
        lambda d: _two_tpu_models(d, {"mobilenet_v2": 2, "tiny": 1}, cache=8, sizes=(4.2, 4.0)),
        "/cocompilation_groups/0/switch_overhead_ms",
        "exceed type 'tpu''s 8 mb parameter cache",
    ),
    "group member without parameter_mb": (
        lambda d: _two_tpu_models(d, {"mobilenet_v2": 2, "tiny": 1}, cache=8, sizes=(4.2, None)),
        "/cocompilation_groups/0/switch_overhead_ms",
        "give every member's profile parameter_mb",
    ),
}


def _group(type_name: str, overheads: dict[str, float]) -> dict:
    return {"name": "g", "accelerator_type": type_name, "switch_overhead_ms": overheads}


def _two_tpu_models(doc: dict, overheads: dict[str, float], cache: float | None = None, sizes=(None, None)) -> None:
    """Add a second edgeTPU model and a group of the two (optionally with a parameter cache and sizes)."""
    doc["models"].append(
        {"name": "tiny", "profiles": {"tpu": {"service_time_ms": 2.0, "switch_overhead_ms": 5.0, "memory_mb": 50}}}
    )
    if cache is not None:
        doc["accelerator_types"][1]["parameter_cache_mb"] = cache
    for model, size in zip(("mobilenet_v2", "tiny"), sizes):
        if size is not None:
            next(m for m in doc["models"] if m["name"] == model)["profiles"]["tpu"]["parameter_mb"] = size
    doc["cocompilation_groups"] = [_group("tpu", overheads)]


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


@pytest.mark.parametrize("key", ["gpu.1", "a/b", "x~y", "k: v", "", "~1"])
def test_map_keys_get_exact_rfc6901_pointers(key):
    """A cost_by_accelerator or profiles key with '.', '/', '~', ': ' or nothing in it is one reference
    token in the pointer ('~' -> '~0', '/' -> '~1'), never split at a dot."""
    token = key.replace("~", "~0").replace("/", "~1")
    doc = make_instance()
    doc["applications"][0]["cost_by_accelerator"] = {key: 1.0}
    doc["models"][0]["profiles"][key] = {"service_time_ms": 5.0}
    pointers = {e["pointer"] for e in _errors(doc)}
    assert f"/applications/0/cost_by_accelerator/{token}" in pointers
    assert f"/models/0/profiles/{token}" in pointers


@pytest.mark.parametrize("value", [True, "2", "2.5", None])
def test_numbers_are_strict(value):
    """rate_rps: true or "2" is not a number (no bool or string coercion); the pointer names the field."""
    errors = _errors(_mutate(lambda d: d["applications"][0].update(rate_rps=value)))
    assert [e["pointer"] for e in errors] == ["/applications/0/rate_rps"]


def test_booleans_are_strict():
    """host_all: 1 or "yes" is not a boolean."""
    for value in (1, "yes"):
        errors = _errors(_mutate(lambda d, v=value: d.update(host_all=v)))
        assert [e["pointer"] for e in errors] == ["/host_all"]


def test_texts_and_maps_are_capped():
    """A 9 MB description or name, or 700,000 labels, is one short error at the field's pointer."""
    doc = make_instance(description="x" * 9_000_000, name="n" * 9_000_000)
    doc["nodes"][0]["labels"] = {f"k{i}": "v" for i in range(700_000)}
    errors = _errors(doc)
    by_pointer = {e["pointer"]: e for e in errors}
    assert set(by_pointer) == {"/description", "/name", "/nodes/0/labels"}
    assert "at most 256" in by_pointer["/nodes/0/labels"]["message"]
    assert all(len(e["message"]) < 300 for e in errors)


def test_error_lists_are_capped_with_a_total():
    """Thousands of invalid fields: the first 100 entries come back, and the total counts them all."""
    doc = make_instance()
    app = doc["applications"][0]
    doc["applications"] = [{**app, "name": f"a{i}", "rate_rps": "fast"} for i in range(3000)]
    with pytest.raises(InstanceError) as caught:
        parse_instance(doc)
    assert len(caught.value.errors) == 100
    assert caught.value.total == 3000
    assert "and 2900 more errors" in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(name="\ud800"),
        lambda d: d["applications"][0].update(name="cam\udfff"),
        lambda d: d["nodes"][0].update(labels={"\ud800": "x"}),
        lambda d: d.update(provenance={"note": "\ud800"}),
    ],
)
def test_lone_surrogates_are_invalid_input(change):
    """A string holding a lone UTF-16 surrogate cannot be written back as UTF-8: an input error."""
    errors = _errors(_mutate(change))
    assert errors and all(e["pointer"] for e in errors)


def test_provenance_is_bounded_plain_json():
    """Provenance nested 200 deep, larger than 64 KB, or holding NaN is rejected at /provenance."""
    deep: dict = {}
    node = deep
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    for provenance, phrase in (
        (deep, "nested deeper than 16"),
        ({"blob": "x" * 70_000}, "more than 65536 bytes"),
        ({"v": float("nan")}, "not a JSON number"),
    ):
        errors = _errors(make_instance(provenance=provenance))
        assert [e["pointer"] for e in errors] == ["/provenance"], errors
        assert phrase in errors[0]["message"]
    ok = Instance.model_validate(make_instance(provenance={"source": "ibis", "nested": {"a": [1, 2.5, None, True]}}))
    assert ok.provenance["nested"]["a"][1] == 2.5


def test_a_group_that_fits_the_cache_is_valid_and_max_backends_falls_back_to_the_type():
    """Parameters within the cache are accepted; an accelerator without max_backends takes its type's."""
    doc = make_instance()
    _two_tpu_models(doc, {"mobilenet_v2": 2, "tiny": 1}, cache=8, sizes=(4.0, 4.0))
    doc["accelerator_types"][0]["max_backends"] = 3
    doc["nodes"][0]["accelerators"].append({"name": "gpu2", "type": "gpu", "max_backends": 1})
    instance = parse_instance(doc, "test")
    limits = {acc.name: instance.max_backends(acc) for _, acc in instance.accelerators()}
    assert limits == {"gpu1": 3, "gpu2": 1, "tpu1": None}
