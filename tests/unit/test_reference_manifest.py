"""manifests/reference.yaml: valid, and documents every field of the JSON Schema with a comment.

A field added to the models without an entry (and a comment) in reference.yaml fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest.loader import load_manifest
from reconciler.manifest.schema import schema_text

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
REFERENCE = MANIFESTS / "reference.yaml"
ORCH = str(Path(sys.executable).parent / "orch")
# Fields that need a real git repository next to reference.yaml, so they stay commented out.
COMMENTED_OUT = {"repo", "upstream"}


def schema_field_names(schema: dict[str, Any]) -> set[str]:
    """Every property name in the schema, walking properties, items, anyOf/allOf and $defs."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                names.add(name)
                walk(sub)
            for key, value in node.items():
                if key != "properties":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    return names


def yaml_keys(node: Any) -> set[str]:
    """Every mapping key used anywhere in a loaded YAML document."""
    if isinstance(node, dict):
        return set(node) | set().union(*(yaml_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(yaml_keys(v) for v in node))
    return set()


def yaml_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in yaml_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in yaml_strings(v)]
    return [node] if isinstance(node, str) else []


def reference_data() -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(REFERENCE.read_text())


FIELDS = sorted(schema_field_names(json.loads(schema_text())))


def test_schema_walk_finds_nested_fields():
    # the walk must reach $defs (Agent, Checkin, Sync, Credit ...), not only the top level
    assert {"apiVersion", "kind", "metadata", "spec"} < set(FIELDS)
    assert {"agents", "every", "note", "escalate_to", "integrate", "missed", "patterns", "shared",
            "template", "worktree", "branch", "brief", "cwd"} < set(FIELDS)
    assert len(FIELDS) >= 30


def test_reference_validates_in_process():
    loaded = load_manifest(REFERENCE)
    manifest = loaded.manifest
    assert manifest.metadata.name == "reference"
    # spec.team.template: base adds its orchestrator; pm (role project_manager) takes base's manager role
    assert [agent.name for agent in manifest.spec.agents] == ["orchestrator", "pm", "dev"]
    assert manifest.spec.repo is None and manifest.spec.upstream is None


def test_reference_validates_with_the_cli_from_its_folder():
    result = subprocess.run([ORCH, "validate", "reference.yaml"], cwd=MANIFESTS, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "reference.yaml: ok (project reference, 3 agents)"


def test_reference_sets_every_field_except_the_repository_ones():
    missing = set(FIELDS) - yaml_keys(reference_data())
    assert missing == COMMENTED_OUT, (
        f"reference.yaml does not show {sorted(missing - COMMENTED_OUT)}: add them, with a comment"
    )


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_is_documented(field: str):
    lines = REFERENCE.read_text().splitlines()
    key = re.compile(rf"^\s*(#\s*)?(-\s+)?{re.escape(field)}:(\s|$)")
    found = [i for i, line in enumerate(lines) if key.match(line)]
    assert found, f"field {field!r} of the schema is not in manifests/reference.yaml: document it there"
    # at least one occurrence carries a comment on its own line or on the line just above
    def commented(i: int) -> bool:
        own = lines[i].split(f"{field}:", 1)[1]
        above = lines[i - 1].strip() if i > 0 else ""
        return "#" in own or lines[i].lstrip().startswith("#") or above.startswith("#")

    assert any(commented(i) for i in found), f"field {field!r} in reference.yaml has no comment explaining it"


def test_no_comment_was_swallowed_into_a_value():
    # a comment written inside a block scalar (brief: |) becomes part of the text
    for text in yaml_strings(reference_data()):
        assert "#" not in text, f"a value of reference.yaml contains a comment: {text!r}"
