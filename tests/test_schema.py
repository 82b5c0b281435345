"""The committed JSON Schema matches the models, and shipped instances conform to it."""

from __future__ import annotations

import json

from optplace.schema import instance_schema_text
from tests.conftest import INSTANCES


def test_committed_schema_is_current():
    """instances/schema.json equals the schema generated from the models (regenerate with python -m optplace.schema)."""
    committed = (INSTANCES / "schema.json").read_text()
    assert committed == instance_schema_text(), "stale: run `python -m optplace.schema > instances/schema.json`"


def test_schema_forbids_unknown_fields_and_names_units():
    """The schema rejects extra properties and every numeric field of an application carries a unit."""
    schema = json.loads((INSTANCES / "schema.json").read_text())
    application = schema["$defs"]["Application"]
    assert application["additionalProperties"] is False
    assert {"rate_rps", "frontend_memory_mb", "preprocess_ms"} <= set(application["properties"])
