"""load_manifest / parse_manifest in process: every diagnostic points at file:line:col and a path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.manifest.loader import Diagnostic, ManifestError, format_loc, load_manifest


def write(folder: Path, text: str) -> Path:
    path = folder / "orch.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def diagnostics(path: Path) -> list[tuple[int, int, str, str]]:
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert all(d.file == str(path) for d in info.value.diagnostics)
    return [(d.line, d.column, d.path, d.message) for d in info.value.diagnostics]


def only(path: Path) -> tuple[int, int, str, str]:
    found = diagnostics(path)
    assert len(found) == 1, found
    return found[0]


def test_nested_duration_in_second_agent(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: shop
        spec:
          agents:
            - name: pm
              command: claude
            - name: dev
              command: claude
              checkins:
                - every: 30m
                  note: first
                - every: 15 minutes
                  note: second
        """)
    assert only(path) == (14, 18, "spec.agents[1].checkins[1].every",
                          "'15 minutes' is not a duration (use 90s, 15m, 2h, 1d)")


def test_unknown_key_in_flow_style_points_at_the_key(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata: {name: shop}
        spec:
          agents: [{name: pm, command: claude}, {name: dev, command: claude, colour: red}]
        """)
    line, col, field, message = only(path)
    assert (line, col, field) == (5, 70, "spec.agents[1].colour")
    assert message.startswith("unknown key")


def test_unknown_key_with_a_dash_keeps_its_name(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: shop
        spec:
          agents:
            - name: pm
              command: claude
              check-ins:
                - every: 5m
                  note: hi
        """)
    assert only(path)[:3] == (9, 7, "spec.agents[0].check-ins")


def test_missing_key_points_at_its_parent(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: shop
        spec:
          agents:
            - name: pm
              command: claude
              checkins:
                - every: 5m
        """)
    assert only(path) == (10, 11, "spec.agents[0].checkins[0].note", "required key is missing")


def test_env_error_points_at_the_offending_key_not_the_first(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: shop
        spec:
          defaults:
            env:
              LANG: C
              TERM: xterm
              ORCH_AGENT: spoof
          agents: []
        """)
    assert only(path) == (10, 7, "spec.defaults.env.ORCH_AGENT",
                          "ORCH_AGENT is set by orch itself and cannot be overridden")


def test_regex_error_points_at_the_list_item(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: shop
        spec:
          credit:
            patterns:
              - fine
              - also fine
              - '(unclosed'
        """)
    line, col, field, message = only(path)
    assert (line, col, field) == (10, 9, "spec.credit.patterns[2]")
    assert message.startswith("'(unclosed' is not a valid regex: missing ), unterminated subpattern")


def test_validation_errors_are_sorted_by_line(tmp_path: Path):
    # pydantic reports in model order (metadata before spec); the file has spec first
    path = write(tmp_path, """
        spec:
          agents:
            - name: pm
              command: claude
              colour: red
        kind: Project
        metadata:
          name: Shop
        apiVersion: orch/v2
        """)
    found = diagnostics(path)
    assert [(line, col, field) for line, col, field, _ in found] == [
        (5, 7, "spec.agents[0].colour"),
        (8, 9, "metadata.name"),
        (9, 13, "apiVersion"),
    ]


def test_cross_reference_and_filesystem_errors_are_sorted_by_line(tmp_path: Path):
    # produced in the order: duplicate name (line 12), escalate_to (line 7), repo (line 5)
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata: {name: shop}
        spec:
          repo: ./missing
          sync:
            escalate_to: boss
          agents:
            - name: pm
              command: claude
            - name: pm
              command: claude
        """)
    found = diagnostics(path)
    assert [(line, col, field) for line, col, field, _ in found] == [
        (5, 9, "spec.repo"),
        (7, 18, "spec.sync.escalate_to"),
        (11, 13, "spec.agents[1].name"),
    ]
    assert [line for line, *_ in found] == sorted(line for line, *_ in found)


def test_yaml_error_names_where_an_unclosed_bracket_opened(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata: {name: shop}
        spec:
          agents: [
            {name: pm, command: claude}
        """)
    line, col, field, message = only(path)
    assert (line, col, field) == (7, 1, "")
    assert message == ("YAML syntax error: expected ',' or ']', but got '<stream end>' "
                       "(while parsing a flow sequence at line 5, column 11)")


def test_diagnostic_text_format():
    assert str(Diagnostic("orch.yaml", 14, 9, "spec.agents[1].checkins[0].every", "bad")) == (
        "orch.yaml:14:9: spec.agents[1].checkins[0].every: bad"
    )
    assert str(Diagnostic("orch.yaml", 1, 1, "", "no such file")) == "orch.yaml:1:1: no such file"
    assert format_loc(("spec", "agents", 1, "checkins", 0, "every")) == "spec.agents[1].checkins[0].every"


def test_manifest_error_message_keeps_every_diagnostic(tmp_path: Path):
    path = write(tmp_path, """
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: shop
        spec:
          agents:
            - name: A
              command: x
            - name: b
              command: ''
        """)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(info.value).splitlines() == [
        f"{path}:7:13: spec.agents[0].name: 'A' is not a valid name (lowercase letters, digits and '-', "
        "1-40 characters, starting and ending with a letter or digit)",
        f"{path}:10:16: spec.agents[1].command: command is empty (give the program to run, e.g. 'claude')",
    ]
