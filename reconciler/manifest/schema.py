"""The manifest's JSON Schema, generated from the models (manifests/orch.schema.json is a copy)."""

from __future__ import annotations

import json


def schema_text() -> str:
    from reconciler.manifest.models import Manifest

    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "orch project manifest"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
