"""The instance JSON Schema, generated from the pydantic models.

``python -m optplace.schema > instances/schema.json`` regenerates the committed copy; a test
fails when the two differ.
"""

from __future__ import annotations

import json

from optplace.domain import Instance


def instance_schema() -> dict:
    schema = Instance.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://optplace.dev/schema/instance-1.json"
    return schema


def instance_schema_text() -> str:
    return json.dumps(instance_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(instance_schema_text(), end="")
