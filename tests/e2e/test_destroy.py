"""`orch destroy` means destroyed: a running watcher never brings the project back, a busy lock
makes destroy change nothing, and another ORCH_HOME's project of the same name is never touched."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from reconciler.locks import exclusive
from reconciler.locks import git_lock
from reconciler.locks import delivery_lock
from tests.conftest import ORCH, tmux, toy_manifest, wait_until
from tests.e2e.test_checkins import watchers  # noqa: F401  (fixture)
from tests.e2e.test_worktrees import git, repo  # noqa: F401  (fixture)


def events(orch, *args: str) -> list[dict]:
    return [json.loads(line) for line in orch("events", *args, "-n", "1000", "-o", "json").stdout.splitlines()]


def panes(socket: str) -> list[dict[str, str]]:
    rows = tmux(socket, "list-panes", "-a", "-F",
                "#{session_name}\t#{window_name}\t#{@orch_project}\t#{@orch_project_id}\t#{pane_dead}").splitlines()
    return [dict(zip(("session", "window", "project", "id", "dead"), row.split("\t"))) for row in rows]


def stays_true(predicate, seconds: float, what: str) -> None:
    """`predicate` holds at every look for `seconds` (a watcher that brings things back does so in <1 s)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), what
        time.sleep(0.05)


def test_destroy_while_a_watcher_runs_stays_destroyed(tmp_path, orch, tmux_socket, watchers):  # noqa: F811
    manifest = toy_manifest(tmp_path, agents={"pm": "", "dev": ""})
    for attempt in range(3):
        assert orch("apply", str(manifest)).returncode == 0
        watcher = watchers("--interval", "0.2")  # every pass reads the registry: the race is wide open
        wait_until(lambda: (orch.json("status")["projects"] or [{}])[0].get("watcher"), timeout=20,
                   what="the watcher's heartbeat")
        destroyed = orch("destroy", "demo", "--yes")
        assert destroyed.returncode == 0, destroyed.stderr
        stays_true(lambda: not [p for p in panes(tmux_socket) if p["project"] == "demo"], 3.0,
                   f"attempt {attempt}: the watcher recreated the destroyed project's windows")
        kinds = [e["kind"] for e in events(orch, "demo")]
        after = kinds[len(kinds) - 1 - kinds[::-1].index("project.destroyed"):]
        assert not {"project.registered", "session.created", "agent.created"} & set(after), after
        assert orch.json("status")["projects"] == []
        assert watcher.stop() == 0


def test_destroy_with_the_git_lock_busy_changes_nothing(tmp_path, repo, orch, tmux_socket, orch_home):  # noqa: F811
    manifest = toy_manifest(tmp_path, project="wt", agents={"pm": "", "dev": ""},
                            extra=f"  repo: {repo}\n  upstream: main\n")
    assert orch("apply", str(manifest)).returncode == 0
    before = panes(tmux_socket)
    with exclusive(git_lock(orch_home, "wt"), timeout=5):  # a gate running for minutes, say
        result = orch("destroy", "wt", "--yes", "--lock-timeout", "0.5")
    assert result.returncode == 1
    assert f"pid {os.getpid()}" in result.stderr and "nothing was destroyed" in result.stderr, result.stderr
    assert panes(tmux_socket) == before
    assert [p["name"] for p in orch.json("status")["projects"]] == ["wt"]
    assert "project.destroyed" not in [e["kind"] for e in events(orch, "wt")]
    assert orch("destroy", "wt", "--yes").returncode == 0
    assert not [p for p in panes(tmux_socket) if p["project"] == "wt"]


def test_destroy_with_a_delivery_under_way_changes_nothing(tmp_path, orch, tmux_socket, orch_home):
    manifest = toy_manifest(tmp_path, agents={"pm": "", "dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    before = panes(tmux_socket)
    with exclusive(delivery_lock(orch_home, "demo", "dev"), timeout=5):
        result = orch("destroy", "demo", "--yes", "--lock-timeout", "0.5")
    assert result.returncode == 1 and "nothing was destroyed" in result.stderr, result.stderr
    assert panes(tmux_socket) == before
    assert orch("destroy", "demo", "--yes").returncode == 0


def test_two_orch_homes_with_a_same_named_project_leave_each_other_alone(tmp_path, tmux_socket):
    """One tmux server, two ORCH_HOMEs, each with a project `demo`: neither renames, replaces or kills
    the other's windows, and destroying one leaves the other running."""

    def orch_in(home: Path, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, ORCH_HOME=str(home))
        return subprocess.run([ORCH, *args], capture_output=True, text=True, timeout=120, env=env)

    homes, manifests = [], []
    for which in ("a", "b"):
        folder = tmp_path / which
        folder.mkdir()
        homes.append(tmp_path / f"home-{which}")
        manifests.append(toy_manifest(folder, agents={"pm": "", "dev": ""}))
    for home, manifest in zip(homes, manifests):
        assert orch_in(home, "apply", str(manifest)).returncode == 0
    ids = {p["id"] for p in panes(tmux_socket)}
    assert len(ids) == 2 and "" not in ids, panes(tmux_socket)
    sessions = {home: json.loads(orch_in(home, "status", "-o", "json").stdout)["projects"][0]["session"]
                for home in homes}
    before = panes(tmux_socket)
    for home, manifest in zip(homes, manifests):
        plan = orch_in(home, "plan", str(manifest), "--detailed-exitcode")
        assert plan.returncode == 0, plan.stdout
        assert orch_in(home, "apply", str(manifest)).returncode == 0
        assert orch_in(home, "reconcile").returncode == 0
    assert panes(tmux_socket) == before
    assert orch_in(homes[0], "destroy", "demo", "--yes").returncode == 0
    left = panes(tmux_socket)
    assert {p["session"] for p in left} == {sessions[homes[1]]}
    assert sorted(p["window"] for p in left) == ["dev", "pm"] and not any(p["dead"] == "1" for p in left)


def test_panes_marked_before_ids_are_adopted_by_their_owner(tmp_path, orch, tmux_socket):
    manifest = toy_manifest(tmp_path, agents={"pm": "", "dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    pids = tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_pid}").split()
    for row in tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_id}").split():
        tmux(tmux_socket, "set-option", "-p", "-u", "-t", row, "@orch_project_id")  # as an older orch left it
    session = panes(tmux_socket)[0]["session"]
    tmux(tmux_socket, "set-option", "-u", "-t", f"={session}:", "@orch_session_project_id")
    assert orch("plan", str(manifest), "--detailed-exitcode").returncode == 0
    assert orch("apply", str(manifest)).returncode == 0
    assert tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_pid}").split() == pids, "kept running"
    project_id = orch.json("status")["projects"][0]["session"].rsplit("-", 1)[1]
    assert {p["id"] for p in panes(tmux_socket)} == {project_id}
    assert tmux(tmux_socket, "show-options", "-v", "-t", f"={session}:", "@orch_session_project_id").strip() \
        == project_id
