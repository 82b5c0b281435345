"""Profiles documents: fitted or hand-written model profiles, and how they merge into an instance.

One format serves ``optplace calibrate --out`` (which writes it), ``--profiles`` on ``solve``,
``simulate`` and ``generate`` (which merge it into the instance) and ``validate-models
--profiles`` (which reads its edgeTPU entries). It mirrors the instance's own models:

.. code-block:: json

    {"format": "optplace-profiles", "version": 1,
     "profiles": {"ssd_mobilenet_v2": {"coral-edgetpu": {"service_time_ms": 21.1,
                                                         "service_time_scv": 0.13,
                                                         "switch_overhead_ms": 23.1}}},
     "disciplines": {"coral-edgetpu": "fcfs"},
     "calibration": {...}, "provenance": {...}}

``profiles`` maps model -> accelerator type -> :class:`~optplace.domain.Profile` fields;
``disciplines`` (optional) records the discipline each type was calibrated under;
``calibration`` is the report ``optplace calibrate`` adds (fits with confidence intervals and
residuals; ignored when merging); ``provenance`` says where the numbers come from.

Merging (:func:`apply_profiles`) overlays, field by field, the fields a document gives onto the
instance's profile of that (model, type); fields it leaves out (often ``memory_mb``) keep the
instance's value. A model or type the instance does not declare is an error, and so is a new
(model, type) profile without ``memory_mb`` (zero memory would be optimistic) and a type whose
recorded discipline differs from the instance's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optplace.domain import Discipline, Instance, Name, Profile
from optplace.exceptions import ProfilesError

FORMAT: Literal["optplace-profiles"] = "optplace-profiles"
VERSION: Literal[1] = 1


class ProfilesDocument(BaseModel):
    """Model profiles per accelerator type, with the calibration report and provenance that made them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["optplace-profiles"] = FORMAT
    version: Literal[1] = VERSION
    profiles: dict[Name, dict[Name, Profile]] = Field(
        min_length=1, description="model -> accelerator type -> profile fields"
    )
    disciplines: dict[Name, Discipline] = Field(
        default_factory=dict, description="accelerator type -> the discipline its profiles were calibrated under"
    )
    calibration: dict[str, Any] | None = Field(default=None, description="optplace calibrate's report")
    provenance: dict[str, Any] = Field(default_factory=dict)

    def accelerator_types(self) -> list[str]:
        return sorted({t for by_type in self.profiles.values() for t in by_type})

    def to_data(self) -> dict[str, Any]:
        """JSON-ready data; each profile keeps only the fields it was given (a merge overlays exactly those)."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["profiles"] = {
            model: {t: p.model_dump(mode="json", exclude_unset=True) for t, p in by_type.items()}
            for model, by_type in self.profiles.items()
        }
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_data(), indent=2, allow_nan=False)


def parse_profiles(data: Any, source: str = "profiles") -> ProfilesDocument:
    """Validate a profiles document; errors name the field as a JSON pointer."""
    if isinstance(data, dict) and data.get("format") != FORMAT:
        raise ProfilesError(
            f'{source}: not a profiles document: it needs "format": "{FORMAT}" and "profiles" '
            "(model -> accelerator type -> profile); see docs/calibration.md"
        )
    try:
        return ProfilesDocument.model_validate(data)
    except ValidationError as error:
        from optplace.io import json_pointer

        lines = [f"  {json_pointer(tuple(e['loc'])) or '/'}: {e['msg']}" for e in error.errors(include_url=False)]
        raise ProfilesError(f"{source}: invalid profiles document\n" + "\n".join(lines)) from None


def load_profiles(path: str | Path) -> ProfilesDocument:
    """Read a profiles document from a file."""
    return parse_profiles(_read_json(Path(path)), str(path))


def write_profiles(document: ProfilesDocument, path: str | Path) -> None:
    Path(path).write_text(document.to_json() + "\n", encoding="utf-8")


def load_model_profiles(path: str | Path, accelerator_type: str | None = None) -> dict[str, Profile]:
    """One profile per model: the entries of one accelerator type of a profiles document.

    Also accepts the older flat form ``{model: {service_time_ms, switch_overhead_ms}}`` (one
    device kind, no types), which ``validate-models --profiles`` has always read. With a
    document, ``accelerator_type`` picks the type; it may be left out when the document has one.
    """
    path = Path(path)
    data = _read_json(path)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        document = parse_profiles(data, str(path))
        types = document.accelerator_types()
        if accelerator_type is None:
            if len(types) != 1:
                raise ProfilesError(f"{path}: profiles for several accelerator types {types}; name the one to use")
            accelerator_type = types[0]
        chosen = {
            m: by_type[accelerator_type] for m, by_type in document.profiles.items() if accelerator_type in by_type
        }
        if not chosen:
            raise ProfilesError(f"{path}: no profile for accelerator type {accelerator_type!r}; it has {types}")
        return chosen
    if not isinstance(data, dict) or not data:
        raise ProfilesError(
            f"{path}: expected a profiles document (docs/calibration.md) or a JSON object "
            "{model: {service_time_ms, switch_overhead_ms}}"
        )
    out: dict[str, Profile] = {}
    for model, entry in data.items():
        if not isinstance(entry, dict) or "service_time_ms" not in entry:
            raise ProfilesError(f"{path}: /{model}: needs service_time_ms (and optionally switch_overhead_ms)")
        try:
            out[model] = Profile.model_validate(entry)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = "/".join(str(p) for p in first["loc"])
            raise ProfilesError(f"{path}: /{model}/{where}: {first['msg']}") from None
    return out


def apply_profiles(instance: Instance, document: ProfilesDocument, *, source: str | None = None) -> Instance:
    """The instance with the document's profiles merged over its models' (see the module docstring)."""
    types = instance.accelerator_type_map()
    models = instance.model_map()
    errors: list[str] = []
    for type_name, discipline in document.disciplines.items():
        if type_name in types and types[type_name].discipline != discipline:
            errors.append(
                f"/disciplines/{type_name}: the profiles were calibrated as {discipline.value} but the instance's "
                f"type {type_name!r} is {types[type_name].discipline.value}; recalibrate with "
                f"--discipline {type_name}={types[type_name].discipline.value}"
            )
    merged_models = []
    applied: list[str] = []
    for model in instance.models:
        profiles = dict(model.profiles)
        for type_name, new in document.profiles.get(model.name, {}).items():
            where = f"/profiles/{model.name}/{type_name}"
            if type_name not in types:
                errors.append(
                    f"{where}: the instance has no accelerator type {type_name!r} (it has {sorted(types)}); "
                    "rename the type in the profiles or calibrate with --accelerator-type"
                )
                continue
            old = profiles.get(type_name)
            if old is None and "memory_mb" not in new.model_fields_set:
                errors.append(
                    f"{where}: model {model.name!r} has no {type_name!r} profile in the instance and the profiles "
                    "give no memory_mb; add memory_mb (log it, or write it into the profiles document)"
                )
                continue
            profiles[type_name] = _overlay(old, new)
            applied.append(f"{model.name}@{type_name}")
        merged_models.append(
            {
                **model.model_dump(exclude_defaults=True),
                "profiles": {t: p.model_dump(exclude_none=True) for t, p in profiles.items()},
            }
        )
    unknown = sorted(set(document.profiles) - set(models))
    for name in unknown:
        errors.append(
            f"/profiles/{name}: the instance has no model {name!r} (it has {sorted(models)[:10]}); "
            "remove it from the profiles or add the model to the instance"
        )
    if errors:
        raise ProfilesError(
            f"{source or 'profiles'}: cannot merge into instance {instance.name!r}\n  " + "\n  ".join(errors)
        )
    provenance = dict(instance.provenance)
    record: dict[str, Any] = {"applied": applied, "document_sha256": _sha256(document)}
    if source:
        record["source"] = Path(source).name
    if document.provenance:
        record["document_provenance"] = document.provenance
    provenance["calibrated_profiles"] = record
    if isinstance(provenance.get("profiles"), dict):
        provenance["profiles"] = {
            k: (f"calibrated: {record.get('source', 'profiles document')}" if k in applied else v)
            for k, v in provenance["profiles"].items()
        }
    data = instance.model_dump(mode="json", exclude_defaults=True)
    data["models"] = merged_models
    data["provenance"] = provenance
    return Instance.model_validate(data)


def apply_profiles_file(instance: Instance, path: str | Path) -> Instance:
    """:func:`apply_profiles` with a document read from ``path`` (the ``--profiles`` option)."""
    return apply_profiles(instance, load_profiles(path), source=str(path))


PROFILES_HELP = (
    "profiles document (optplace calibrate --out) merged over the instance's models before use; "
    "an unknown model or accelerator type is an error"
)


def _overlay(old: Profile | None, new: Profile) -> Profile:
    given = new.model_dump(include=new.model_fields_set)
    base = old.model_dump(exclude_none=True) if old is not None else {}
    if {"service_time_scv", "service_time_second_moment_ms2"} & set(given):
        # One variability measure: the document's replaces whichever the instance had.
        base.pop("service_time_scv", None)
        base.pop("service_time_second_moment_ms2", None)
    return Profile.model_validate({**base, **given})


def _sha256(document: ProfilesDocument) -> str:
    data = document.to_data()
    canonical = json.dumps({k: data.get(k) for k in ("profiles", "disciplines")}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProfilesError(f"{path}: cannot read the file: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ProfilesError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
        ) from None


def profiles_from_mapping(profiles: Mapping[str, Mapping[str, Mapping[str, float]]], **extra: Any) -> ProfilesDocument:
    """A document from plain ``{model: {type: {field: value}}}`` (for scripts and tests)."""
    return ProfilesDocument.model_validate({"profiles": profiles, **extra})
