"""A dead agent comes back at once however it died, and one stuck agent delays only itself.

tmux 3.3a's session-level pane-died hook misses the panes of later windows, and a killed pane's
process can stay an unreaped zombie (no exit status, no time): the watcher checks the agents'
processes itself. Deliveries run on per-agent lanes: a held delivery lock, or an agent without
a recognised prompt, costs that agent only.
"""

from __future__ import annotations

import json
import os
import signal
import time

from filelock import FileLock

from reconciler.locks import delivery_lock
from reconciler.context import Context
from reconciler.windows import notice_deaths
from reconciler.manifest.desired import desired_project
from reconciler.manifest.loader import load_manifest
from reconciler.runtime.observe import observe
from reconciler.plan.agents import death_time
from tests.conftest import tmux, toy_manifest, wait_until, write_manifest
from tests.e2e.test_checkins import checkin_agents, notes, watchers  # noqa: F401 (fixture)


def pane_pids(socket: str) -> dict[str, int]:
    rows = tmux(socket, "list-panes", "-a", "-F", "#{window_name} #{pane_pid}").split("\n")
    return {name: int(pid) for name, pid in (row.split() for row in rows if row)}


def events(orch, kind: str) -> list[dict]:
    lines = orch("events", "-o", "json", "-n", "1000").stdout.splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def test_agents_killed_in_later_windows_come_back_long_before_the_resync(tmp_path, orch, tmux_socket, watchers):
    manifest = toy_manifest(tmp_path, agents={"pm": "", "dev": "", "qa": ""})
    assert orch("apply", str(manifest)).returncode == 0
    watchers(str(manifest), "--interval", "120")
    wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="watcher up")
    before = pane_pids(tmux_socket)
    os.kill(before["qa"], signal.SIGKILL)  # the last window: no session-level hook fires for it
    os.kill(before["dev"], signal.SIGTERM)
    # killed together, tmux 3.3a here leaves both unreaped: dead, with no exit status or time
    wait_until(lambda: {e["agent"] for e in events(orch, "agent.restarted")} == {"dev", "qa"}, timeout=20,
               what="both agents restarted by the watcher (interval 120 s)")
    after = pane_pids(tmux_socket)
    assert after["pm"] == before["pm"] and after["dev"] != before["dev"] and after["qa"] != before["qa"]
    statuses = {e["agent"]: e["data"]["exit_status"] for e in events(orch, "agent.restarted")}
    assert statuses == {"dev": 128 + signal.SIGTERM, "qa": 128 + signal.SIGKILL}  # collected, even if unreaped
    agents = {a["name"]: a for a in orch.json("status")["projects"][0]["agents"]}
    assert all(a["alive"] for a in agents.values())


def test_the_first_moment_orch_saw_a_death_is_stored_and_anchors_the_backoff(tmp_path, orch, tmux_socket, orch_home):
    manifest = toy_manifest(tmp_path, agents={"pm": "", "dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    ctx = Context(orch_home, tmux_socket)
    store = ctx.store()
    desired = desired_project(load_manifest(manifest), store.project("demo").id, orch_home, tmux_socket, None)
    pid = pane_pids(tmux_socket)["dev"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: any(p.dead for p in observe(ctx.tmux).agent_panes("demo")), what="the death to show")
    first_look = time.time()
    observed = notice_deaths(ctx.tmux, store, desired, observe(ctx.tmux))
    seen = store.agent_facts("demo")["dev"]
    assert seen.seen_dead_pid == pid and first_look <= seen.seen_dead_at <= time.time()
    again = notice_deaths(ctx.tmux, store, desired, observe(ctx.tmux))
    assert store.agent_facts("demo")["dev"].seen_dead_at == seen.seen_dead_at  # the first sighting stays
    dead = next(p for p in again.agent_panes("demo") if p.agent == "dev")
    assert dead.dead and dead.dead_status == 128 + signal.SIGKILL  # tmux was made to collect the status
    assert death_time(dead, seen) <= seen.seen_dead_at
    assert not next(p for p in observed.agent_panes("demo") if p.agent == "pm").dead
    result = orch("reconcile", str(manifest))
    assert result.returncode == 0, result.stderr
    assert store.agent_facts("demo")["dev"].seen_dead_at is None  # restarted: the sighting is spent
    assert [e["agent"] for e in events(orch, "agent.restarted")] == ["dev"]


def test_an_agent_whose_delivery_lock_is_held_delays_no_other_agents_checkins(tmp_path, orch, tmux_socket,
                                                                              watchers, orch_home):
    manifest = checkin_agents(tmp_path, every="1s", names=("dev", "qa"))
    assert orch("apply", str(manifest)).returncode == 0
    logs = tmp_path / "logs"
    held = FileLock(delivery_lock(orch_home, "demo", "dev"))
    held.acquire()  # as `orch send` holds it while it waits for dev's prompt
    try:
        watchers(str(manifest), "--interval", "30")
        wait_until(lambda: len(notes(logs / "qa.log")) >= 3, timeout=20,
                   what="qa's check-ins while dev's delivery is blocked")
        assert notes(logs / "dev.log") == []
    finally:
        held.release()
    wait_until(lambda: len(notes(logs / "dev.log")) >= 1, timeout=20, what="dev's check-in once its lock is free")


def test_the_watcher_briefs_a_restarted_agent_that_shows_no_known_prompt(tmp_path, orch, tmux_socket, watchers):
    received = tmp_path / "received.txt"
    manifest = write_manifest(tmp_path, f"""
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: demo
        spec:
          agents:
            - name: bare
              command: "echo started; exec cat >> {received}"
              brief: "hello brief"
        """)
    applied = orch("apply", str(manifest))
    assert applied.returncode == 0, applied.stderr
    assert received.read_text().splitlines() == ["hello brief"]
    watchers(str(manifest), "--interval", "120")
    wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="watcher up")
    os.kill(pane_pids(tmux_socket)["bare"], signal.SIGKILL)
    wait_until(lambda: received.read_text().splitlines() == ["hello brief"] * 2, timeout=30,
               what="the brief for the fresh process (its screen is only taken as ready once still)")
