"""Bad manifests through the real CLI: `orch validate` and `orch apply` as a user runs them.

DESIGN.md section 2 (contract): every error names file:line:col and the field's path, and a
bad manifest changes nothing: no tmux server or session, no database row. Each case states
the exact position, the path and a piece of the message; each runs through `validate` and
through `apply` on a private tmux socket.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import toy_manifest, wait_until

HEAD = "apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: demo\nspec:\n"  # lines 1-5
PM = "  agents:\n    - name: pm\n      command: orch-toyagent\n"  # lines 6-8 after HEAD


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes | None  # None: the file is not created
    line: int
    col: int
    path: str  # the field path printed after file:line:col ("" for file-level errors)
    fragment: str  # must appear in the message
    setup: Callable[[Path], None] | None = None

    def make(self, folder: Path) -> Path:
        if self.setup:
            self.setup(folder)
        file = folder / "orch.yaml"
        if isinstance(self.text, bytes):
            file.write_bytes(self.text)
        elif self.text is not None:
            file.write_text(self.text)
        return file


def _checkin(every: str) -> str:
    return HEAD + PM + f"      checkins:\n        - every: {every}\n          note: hi\n"  # every: line 10, col 18


CASES = [
    Case("unknown-top-level-key", HEAD + "  agents: []\nextra: 1\n",
         7, 1, "extra", "unknown key"),
    Case("unknown-agent-key", HEAD + PM + "      colour: red\n",
         9, 7, "spec.agents[0].colour", "unknown key"),
    Case("unknown-key-with-dash", HEAD + PM + "  sync:\n    escalate-to: pm\n",
         10, 5, "spec.sync.escalate-to", "unknown key"),
    Case("agents-is-a-string", HEAD + "  agents: pm\n",
         6, 11, "spec.agents", "valid list"),
    Case("env-value-is-a-list", HEAD + PM + "      env:\n        FOO: [1, 2]\n",
         10, 14, "spec.agents[0].env.FOO", "valid string"),
    Case("duration-in-words",
         HEAD + PM + "    - name: dev\n      command: orch-toyagent\n"
         "      checkins:\n        - every: 15 minutes\n          note: hi\n",
         12, 18, "spec.agents[1].checkins[0].every",
         "'15 minutes' is not a duration (use 90s, 15m, 2h, 1d)"),
    Case("duration-beyond-a-year", _checkin("99999999d"),
         10, 18, "spec.agents[0].checkins[0].every", "'99999999d' is longer than the maximum of 365d"),
    Case("duration-zero", _checkin("0s"),
         10, 18, "spec.agents[0].checkins[0].every", "'0s' is shorter than the minimum of 1s"),
    Case("stall-after-under-5s", HEAD + PM + "  stall_after: 4s\n",
         9, 16, "spec.stall_after", "'4s' is shorter than the minimum of 5s"),
    Case("duration-negative", _checkin("-5m"),
         10, 18, "spec.agents[0].checkins[0].every", "'-5m' is not a duration"),
    Case("duration-quoted-number", _checkin("'5'"),
         10, 18, "spec.agents[0].checkins[0].every", "'5' is not a duration"),
    Case("duration-bare-number", _checkin("5"),
         10, 18, "spec.agents[0].checkins[0].every", "5 is not a duration (a number needs a unit"),
    Case("duplicate-agent-names", HEAD + PM + "    - name: pm\n      command: orch-toyagent\n",
         9, 13, "spec.agents[1].name", "'pm' is already the name of agents[0]"),
    Case("name-with-slash", HEAD + "  agents:\n    - name: a/b\n      command: x\n",
         7, 13, "spec.agents[0].name", "'a/b' is not a valid name"),
    Case("name-dotdot", HEAD.replace("name: demo", "name: '..'") + "  agents: []\n",
         4, 9, "metadata.name", "'..' is not a valid name"),
    Case("name-with-semicolon", HEAD + "  agents:\n    - name: 'pm;rm -rf ~'\n      command: x\n",
         7, 13, "spec.agents[0].name", "'pm;rm -rf ~' is not a valid name"),
    Case("name-uppercase", HEAD.replace("name: demo", "name: Demo") + "  agents: []\n",
         4, 9, "metadata.name", "'Demo' is not a valid name"),
    Case("name-41-chars", HEAD.replace("name: demo", "name: " + "a" * 41) + "  agents: []\n",
         4, 9, "metadata.name", "1-40 characters"),
    Case("yaml-unclosed-bracket", HEAD + "  agents: [\n    {name: pm, command: x}\n",
         8, 1, "", "YAML syntax error: expected ',' or ']'"),
    Case("yaml-bad-indentation", HEAD + PM + "     role: pm\n",
         9, 6, "", "YAML syntax error"),
    Case("yaml-tab-indentation", HEAD + "\tagents: []\n",
         6, 1, "", "YAML syntax error: found character '\\t'"),
    Case("yaml-duplicate-key", HEAD + PM + "      command: other\n",
         9, 7, "", 'found duplicate key "command"'),
    Case("empty-file", "", 1, 1, "", "the manifest is empty"),
    Case("only-comments", "# a manifest\n\n# nothing here yet\n", 1, 1, "", "the manifest is empty"),
    Case("top-level-list", "- apiVersion: orch/v1\n- kind: Project\n",
         1, 1, "", "expected a mapping at the top level, found a list"),
    Case("not-utf8", HEAD.encode() + b"  agents: []\n# caf\xe9\n", 1, 1, "", "not UTF-8"),
    Case("escalate-to-unknown-agent", HEAD + PM + "  sync:\n    escalate_to: boss\n",
         10, 18, "spec.sync.escalate_to", "'boss' is not an agent of this project (agents: pm)"),
    Case("sync-mode-not-allowed", HEAD + PM + "  sync:\n    mode: squash\n",
         10, 11, "spec.sync.mode", "'squash' is not allowed"),
    Case("repo-does-not-exist", HEAD + "  repo: ../no-such-repo\n" + PM,
         6, 9, "spec.repo", "does not exist"),
    Case("repo-not-a-git-repository", HEAD + "  repo: plain-folder\n" + PM,
         6, 9, "spec.repo", "is not a git repository",
         setup=lambda folder: (folder / "plain-folder").mkdir()),
    Case("wrong-api-version", HEAD.replace("orch/v1", "orch/v2") + "  agents: []\n",
         1, 13, "apiVersion", "'orch/v2' is not allowed"),
    Case("wrong-kind", HEAD.replace("kind: Project", "kind: Team") + "  agents: []\n",
         2, 7, "kind", "'Team' is not allowed"),
    Case("missing-metadata-name", "apiVersion: orch/v1\nkind: Project\nmetadata: {}\nspec: {}\n",
         3, 11, "metadata.name", "required key is missing"),
    Case("missing-spec", "apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: demo\n",
         1, 1, "spec", "required key is missing"),
    Case("session-name-bad", HEAD + "  session: 'my session'\n" + PM,
         6, 12, "spec.session", "does not match"),
    Case("cwd-does-not-exist", HEAD + PM + "      cwd: ./nowhere\n",
         9, 12, "spec.agents[0].cwd", "is not a folder"),
    Case("agent-without-command", HEAD + "  agents:\n    - name: pm\n      role: manager\n",
         7, 7, "spec.agents[0]", "agent 'pm' has no command (set its command, or spec.defaults.command)"),
    Case("empty-command", HEAD + "  agents:\n    - name: pm\n      command: '  '\n",
         8, 16, "spec.agents[0].command", "command is empty"),
    Case("reserved-env-var", HEAD + PM + "      env:\n        LANG: C\n        ORCH_HOME: /tmp/elsewhere\n",
         11, 9, "spec.agents[0].env.ORCH_HOME", "ORCH_HOME is set by orch itself"),
    Case("bad-env-var-name", HEAD + "  defaults:\n    env:\n      MY-VAR: x\n" + PM,
         8, 7, "spec.defaults.env.MY-VAR", "'MY-VAR' is not a valid environment variable name"),
    Case("bad-branch-name", HEAD + PM + "      branch: bad..name\n",
         9, 15, "spec.agents[0].branch", "'bad..name' is not a valid git branch name"),
    Case("empty-checkin-note", HEAD + PM + "      checkins:\n        - every: 5m\n          note: ''\n",
         11, 17, "spec.agents[0].checkins[0].note", "at least 1 character"),
    Case("invalid-credit-regex", HEAD + PM + "  credit:\n    patterns:\n      - 'ok'\n      - '([a-z'\n",
         12, 9, "spec.credit.patterns[1]", "'([a-z' is not a valid regex"),
    Case("nonexistent-file", None, 1, 1, "", "no such file"),
]


def assert_diagnostic(stderr: str, file: Path, case: Case) -> None:
    assert "Traceback" not in stderr, stderr
    prefix = f"{file}:{case.line}:{case.col}: " + (f"{case.path}: " if case.path else "")
    matching = [line.split(prefix, 1)[1] for line in stderr.splitlines() if prefix in line]
    assert matching, f"no line with {prefix!r} in stderr:\n{stderr}"
    assert any(case.fragment in rest for rest in matching), f"{case.fragment!r} not in:\n{stderr}"
    if not case.path:
        # a file-level error must not pretend to be about a field
        assert not any(re.match(r"^[\w.\[\]-]+: ", rest) for rest in matching), stderr


def tmux_sessions(socket: str) -> list[str]:
    """Sessions on the socket; [] when no server runs (tmux ls fails)."""
    result = subprocess.run(["tmux", "-L", socket, "ls", "-F", "#{session_name}"], capture_output=True, text=True)
    return result.stdout.split() if result.returncode == 0 else []


def project_rows(home: Path) -> int:
    db = home / "state.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from projects").fetchone()[0]


def assert_nothing_created(orch, home: Path, socket: str) -> None:
    assert tmux_sessions(socket) == []
    assert project_rows(home) == 0
    status = orch.json("status")
    assert status["projects"] == []
    assert tmux_sessions(socket) == [], "`orch status` must not start a tmux server"


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_validate_rejects(case: Case, tmp_path: Path, orch):
    file = case.make(tmp_path)
    result = orch("validate", str(file))
    assert result.returncode == 1, result
    assert_diagnostic(result.stderr, file, case)
    assert ": ok" not in result.stdout


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_apply_rejects_and_changes_nothing(case: Case, tmp_path: Path, orch, orch_home: Path, tmux_socket: str):
    file = case.make(tmp_path)
    result = orch("apply", str(file))
    assert result.returncode == 1, result
    assert_diagnostic(result.stderr, file, case)
    assert_nothing_created(orch, orch_home, tmux_socket)


def test_apply_json_error_is_one_document(tmp_path: Path, orch, orch_home: Path, tmux_socket: str):
    case = next(c for c in CASES if c.id == "duration-in-words")
    file = case.make(tmp_path)
    result = orch("apply", str(file), "-o", "json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["exit_code"] == 1
    assert f"{file}:12:18: spec.agents[1].checkins[0].every:" in document["error"]
    assert_nothing_created(orch, orch_home, tmux_socket)


def test_good_apply_is_seen_by_the_same_checks(tmp_path: Path, orch, orch_home: Path, tmux_socket: str):
    """Control: the checks above do see a session and a project when apply succeeds."""
    file = toy_manifest(tmp_path, project="demo", agents={"pm": ""})
    result = orch("apply", str(file))
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: tmux_sessions(tmux_socket), what="a session")
    assert project_rows(orch_home) == 1
    assert [p["name"] for p in orch.json("status")["projects"]] == ["demo"]


GOOD = HEAD + PM + "    - name: " + "a" * 40 + "\n      command: orch-toyagent\n      checkins:\n" \
    "        - every: 1h30m\n          note: hi\n"


def test_validate_good_manifest(tmp_path: Path, orch):
    file = tmp_path / "orch.yaml"
    file.write_text(GOOD)
    result = orch("validate", str(file))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == f"{file}: ok (project demo, 2 agents)"


def test_validate_json_carries_positions(tmp_path: Path, orch):
    bad = next(c for c in CASES if c.id == "duration-in-words").make(tmp_path)
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = orch("validate", str(bad), str(good), "-o", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    first, second = document["manifests"]
    assert first["file"] == str(bad) and first["ok"] is False
    assert first["errors"] == [{
        "line": 12, "column": 18, "path": "spec.agents[1].checkins[0].every",
        "message": "'15 minutes' is not a duration (use 90s, 15m, 2h, 1d)",
    }]
    assert second == {"file": str(good), "ok": True, "project": "demo", "agents": 2, "errors": []}


def test_validate_reports_every_error_of_every_file(tmp_path: Path, orch):
    one = tmp_path / "one.yaml"
    one.write_text(HEAD + "  agents:\n    - name: pm\n      command: x\n      colour: red\n"
                   "    - name: Bad\n      command: y\n  bogus: 1\nzzz: 2\n")
    two = tmp_path / "two.yaml"
    two.write_text(HEAD.replace("kind: Project", "kind: Team") + "  agents: []\n")
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = orch("validate", str(one), str(good), str(two))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{one}:9:7", f"{one}:10:13", f"{one}:12:3", f"{one}:13:1", f"{two}:2:7",
    ]
    assert "spec.agents[0].colour: unknown key" in lines[0]
    assert "spec.agents[1].name: 'Bad' is not a valid name" in lines[1]
    assert "spec.bogus: unknown key" in lines[2]
    assert "zzz: unknown key" in lines[3]
    assert "kind: 'Team' is not allowed" in lines[4]
    assert result.stdout.strip() == f"{good}: ok (project demo, 2 agents)"
