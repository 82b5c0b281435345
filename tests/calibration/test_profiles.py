"""Profiles documents: reading, writing, and merging into instances."""

from __future__ import annotations

import json

import pytest

from optplace.domain import Instance
from optplace.profiles import (
    ProfilesDocument,
    ProfilesError,
    apply_profiles,
    load_model_profiles,
    load_profiles,
    profiles_from_mapping,
    write_profiles,
)
from tests.conftest import make_instance


def _instance() -> Instance:
    return Instance.model_validate(make_instance())


def test_merge_overlays_only_given_fields():
    """A document's fields replace the instance's; fields it leaves out (memory) are kept."""
    document = profiles_from_mapping({"mobilenet_v2": {"tpu": {"service_time_ms": 5.5, "service_time_scv": 0.2}}})
    merged = apply_profiles(_instance(), document, source="fitted.json")
    profile = merged.model_map()["mobilenet_v2"].profiles["tpu"]
    assert profile.service_time_ms == 5.5 and profile.scv == 0.2
    assert profile.switch_overhead_ms == 10.43 and profile.memory_mb == 100  # kept
    assert merged.model_map()["mobilenet_v2"].profiles["gpu"].service_time_ms == 13.0  # other type untouched
    record = merged.provenance["calibrated_profiles"]
    assert record["applied"] == ["mobilenet_v2@tpu"] and record["source"] == "fitted.json"


def test_variability_measure_is_replaced_not_doubled():
    """A document SCV replaces an instance's second moment (a profile may hold one of them)."""
    doc = make_instance()
    doc["models"][1]["profiles"]["tpu"]["service_time_second_moment_ms2"] = 30.0
    document = profiles_from_mapping({"mobilenet_v2": {"tpu": {"service_time_ms": 5.0, "service_time_scv": 0.3}}})
    merged = apply_profiles(Instance.model_validate(doc), document)
    profile = merged.model_map()["mobilenet_v2"].profiles["tpu"]
    assert profile.service_time_second_moment_ms2 is None and profile.scv == 0.3


@pytest.mark.parametrize(
    ("profiles", "extra", "message"),
    [
        ({"vgg16": {"gpu": {"service_time_ms": 5}}}, {}, "no model 'vgg16'"),
        ({"resnet50": {"fpga": {"service_time_ms": 5, "memory_mb": 1}}}, {}, "no accelerator type 'fpga'"),
        ({"resnet50": {"tpu": {"service_time_ms": 5}}}, {}, "give no memory_mb"),
        ({"resnet50": {"gpu": {"service_time_ms": 5}}}, {"disciplines": {"gpu": "fcfs"}}, "calibrated as fcfs"),
    ],
)
def test_merge_errors_name_the_entry_and_fix(profiles, extra, message):
    """Unknown models and types, a new profile without memory, a discipline mismatch: clear errors."""
    with pytest.raises(ProfilesError, match=message):
        apply_profiles(_instance(), profiles_from_mapping(profiles, **extra))


def test_new_profile_with_memory_is_added():
    """A (model, type) the instance lacks is added when the document gives its memory."""
    document = profiles_from_mapping(
        {"resnet50": {"tpu": {"service_time_ms": 40, "switch_overhead_ms": 20, "memory_mb": 120}}}
    )
    merged = apply_profiles(_instance(), document)
    assert merged.model_map()["resnet50"].profiles["tpu"].memory_mb == 120


def test_document_round_trip_keeps_only_given_fields(tmp_path):
    """Written documents hold only the fields each profile was given, so a merge never zeroes memory."""
    document = profiles_from_mapping({"m": {"t": {"service_time_ms": 2.0}}}, provenance={"by": "test"})
    path = tmp_path / "p.json"
    write_profiles(document, path)
    data = json.loads(path.read_text())
    assert data["profiles"] == {"m": {"t": {"service_time_ms": 2.0}}}
    assert data["format"] == "optplace-profiles" and data["version"] == 1
    assert load_profiles(path).profiles["m"]["t"].model_fields_set == {"service_time_ms"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"format": "optplace-profiles", "profiles": {"m": {"t": {"service_time_ms": -1}}}}',
            "/profiles/m/t/service_time_ms",
        ),
        ('{"format": "optplace-profiles", "profiles": {}}', "/profiles"),
        ('{"profiles": {}}', "not a profiles document"),
        ("[1, 2", "not valid JSON"),
    ],
)
def test_invalid_documents_name_the_field(tmp_path, content, message):
    """Invalid documents fail with the JSON pointer of the offending field."""
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ProfilesError, match=message):
        load_profiles(path)


def test_model_profiles_from_document_and_flat_form(tmp_path):
    """validate-models reads a document's one type, or the older flat per-model form."""
    document = tmp_path / "doc.json"
    write_profiles(profiles_from_mapping({"a": {"tpu": {"service_time_ms": 3, "switch_overhead_ms": 9}}}), document)
    assert load_model_profiles(document)["a"].switch_overhead_ms == 9
    flat = tmp_path / "flat.json"
    flat.write_text('{"a": {"service_time_ms": 4, "switch_overhead_ms": 8}}')
    assert load_model_profiles(flat)["a"].service_time_ms == 4
    several = tmp_path / "several.json"
    write_profiles(
        profiles_from_mapping({"a": {"tpu": {"service_time_ms": 3}, "gpu": {"service_time_ms": 1}}}), several
    )
    with pytest.raises(ProfilesError, match="several accelerator types"):
        load_model_profiles(several)
    assert load_model_profiles(several, "gpu")["a"].service_time_ms == 1


def test_document_rejects_unknown_keys():
    """Documents are strict: a misspelt top-level key is an error, not silently ignored."""
    with pytest.raises(ValueError):
        ProfilesDocument.model_validate({"profiles": {"m": {"t": {"service_time_ms": 1}}}, "profile": {}})
