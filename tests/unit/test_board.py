"""The status board is rendered from the JSON document alone: table tests on plain data."""

from __future__ import annotations

import pytest

from reconciler.cli.render import agent_state, relative, status_text
from reconciler.timefmt import iso

NOW = 1_800_000_000.0


@pytest.mark.parametrize("offset, expected", [
    (None, "-"), (0.2, "now"), (-12 * 60, "in 12m"), (3 * 60 + 5, "3m ago"), (-2 * 3600, "in 2h"),
    (3 * 86400, "3d ago"), (45, "45s ago"),
])
def test_relative_times(offset, expected):
    assert relative(None if offset is None else iso(NOW - offset), NOW) == expected


def agent(**fields):
    base = {"name": "dev", "role": "developer", "window": "dev", "alive": True, "restarts": 0,
            "last_exit_status": None, "credit": {"exhausted": False, "until": None}, "next_checkin": None,
            "last_checkin": None, "last_activity": None, "worktree": None}
    return {**base, **fields}


@pytest.mark.parametrize("fields, watched, expected", [
    ({}, False, "up"),
    ({"alive": False}, False, "dead"),
    ({"alive": False}, True, "restarting"),
    ({"window": None, "alive": False}, True, "missing"),
    ({"credit": {"exhausted": True, "until": iso(NOW + 60)}}, True, "held"),
    ({"state": "blocked"}, True, "blocked"),  # a driver's own report wins
    ({"state": "unknown"}, False, "up"),  # a decayed report falls back to what tmux says
])
def test_agent_state_word(fields, watched, expected):
    assert agent_state(agent(**fields), watched) == expected


def document(*agents, **project):
    return {"projects": [{"name": "shop", "session": "shop-1a2b3c4d", "manifest": "/m/orch.yaml",
                          "watcher": None, "agents": list(agents), **project}]}


def test_board_rows_show_activity_checkins_worktree_and_problems():
    text = status_text(document(
        agent(last_activity=iso(NOW - 200), next_checkin=iso(NOW + 720), last_checkin=iso(NOW - 180),
              worktree={"state": "behind", "ahead": 1, "behind": 2, "conflict_files": [],
                        "diff": {"added": 10, "removed": 3}}),
        agent(name="qa", role="tester", worktree={"state": "conflict", "ahead": 0, "behind": 1,
                                                  "conflict_files": ["a.py", "b.py"]}),
        upstream="main", error="/m/orch.yaml:4:3: spec.agents[0].nmae: unknown field"), now=NOW, colour=False)
    lines = text.splitlines()
    assert lines[0].startswith("shop  session shop-1a2b3c4d  2/2 agents up") and lines[0].endswith("upstream main")
    header, dev = lines[1].split(), lines[2]
    assert header[:3] == ["AGENT", "ROLE", "STATE"]
    assert "3m ago" in dev and "in 12m" in dev and "behind +1/-2 (10+ 3-)" in dev
    assert "! manifest: /m/orch.yaml:4:3: spec.agents[0].nmae: unknown field" in text
    assert "! qa: conflict in a.py, b.py" in text
    assert "\x1b[" not in text


def test_colour_paints_state_and_activity_without_breaking_alignment():
    doc = document(agent(last_activity=iso(NOW - 700)), agent(name="qa", alive=False))
    plain = status_text(doc, now=NOW, colour=False).splitlines()
    painted = status_text(doc, now=NOW, colour=True).splitlines()
    assert "\x1b[31m11m ago" in painted[2]  # over 10 minutes: red
    assert "\x1b[31mdead" in painted[3]
    strip = __import__("re").compile(r"\x1b\[[0-9;]*m")
    assert [strip.sub("", line) for line in painted] == plain


def test_no_projects_says_how_to_start():
    assert "orch apply" in status_text({"projects": []}, now=NOW, colour=False)
