"""manifests/orch.schema.json is generated from the models; it must never drift from them."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.manifest.schema import schema_text

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "manifests" / "orch.schema.json"
REGENERATE = "regenerate it with: orch schema > manifests/orch.schema.json"


def test_checked_in_schema_is_fresh():
    assert SCHEMA_FILE.exists(), f"{SCHEMA_FILE} is missing; {REGENERATE}"
    assert SCHEMA_FILE.read_text() == schema_text(), (
        f"{SCHEMA_FILE} is stale: the manifest models changed; {REGENERATE}"
    )


def test_schema_describes_the_manifest():
    schema = json.loads(schema_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "orch project manifest"
    assert sorted(schema["required"]) == ["apiVersion", "kind", "metadata", "spec"]
    assert schema["additionalProperties"] is False
    # unknown keys are errors at every level, so every object says so
    for name, definition in schema["$defs"].items():
        if definition.get("type") == "object" and "properties" in definition:
            assert definition.get("additionalProperties") is False, name
