"""A delivery planned for one process never reaches the process a restart put in its place.

Under a watcher, a restart (respawn-pane: same pane id, new process) can run while that agent's
delivery lane still works on what was planned for the old process. Typing on would record the
brief against the old pid (so the new process is briefed again: typed twice), or submit a
check-in the plan never meant for it. The lane re-reads the pane's process before typing and
before every Enter, and holds when it changed.
"""

from __future__ import annotations

import time
from pathlib import Path

from reconciler.execute.checkins import CheckinExecutor
from reconciler.execute.delivery import press_enter_until_submitted, snapshot
from reconciler.execute.agents import TmuxExecutor
from reconciler.context import Context
from reconciler.project import plan_for
from reconciler.manifest.loader import load_manifest
from reconciler.model.agents import DeliverBrief, Plan, RestartAgent
from reconciler.model.checkins import FireCheckin
from reconciler.runtime.observe import observe
from reconciler.state import checkins as checkin_records
from tests.conftest import tmux, toy_log, toy_manifest, wait_until


def _setup(tmp_path: Path, orch, orch_home: Path, tmux_socket: str, agent_lines: str):
    manifest = toy_manifest(tmp_path, agents={"dev": agent_lines})
    applied = orch("apply", str(manifest))
    assert applied.returncode == 0, applied.stderr
    ctx = Context(orch_home, tmux_socket)
    desired, _ = plan_for(ctx, load_manifest(manifest))
    old = next(p for p in observe(ctx.tmux).agent_panes("demo") if p.agent == "dev")
    return ctx, desired, old


def _restart(ctx: Context, desired, old) -> int:
    """What the watcher's pass does to a dead agent: respawn its pane (same pane id, new process)."""
    executor = TmuxExecutor(ctx.tmux, ctx.store(), ctx.home)
    [outcome] = executor.execute(Plan("demo", desired.session, (RestartAgent("demo", desired.agent("dev"), old, 1),)),
                                 desired)
    assert outcome.ok, outcome.message
    pid = wait_until(lambda: (now := int(tmux(ctx.socket, "display-message", "-p", "-t", old.pane_id,
                                              "#{pane_pid}").strip() or 0)) != old.pane_pid and now,
                     what="the new process")
    wait_until(lambda: any(line.startswith("toy agent") for line in snapshot(ctx.tmux, old.pane_id).lines),
               what="the new process's banner")
    return pid


def test_a_brief_planned_for_the_old_process_is_held_not_typed_into_the_new_one(tmp_path, orch, orch_home,
                                                                                   tmux_socket):
    ctx, desired, first = _setup(tmp_path, orch, orch_home, tmux_socket, 'brief: "hello brief"')
    log = tmp_path / "logs" / "dev.log"
    assert [e["text"] for e in toy_log(log)] == ["hello brief"]
    _restart(ctx, desired, first)
    fresh = _pane(ctx)  # not briefed yet: a pass hands its brief to the lane ...
    _restart(ctx, desired, fresh)  # ... and the agent is restarted again before the lane types it
    [outcome] = TmuxExecutor(ctx.tmux, ctx.store(), ctx.home).execute(
        Plan("demo", desired.session, (DeliverBrief("demo", desired.agent("dev"), fresh),)), desired)
    assert outcome.ok and "brief delivered" not in outcome.message, outcome.message
    assert [e["text"] for e in toy_log(log)] == ["hello brief"]  # apply's, to the first process
    assert ctx.store().agent_facts("demo")["dev"].briefed_pid != fresh.pane_pid  # nothing recorded for it
    # The next passes brief the process now running, once.
    assert orch("reconcile", str(tmp_path / "orch.yaml")).returncode == 0
    assert orch("reconcile", str(tmp_path / "orch.yaml")).returncode == 0
    assert [e["text"] for e in toy_log(log)] == ["hello brief"] * 2


def test_a_checkin_planned_for_the_old_process_is_held_and_delivered_once_later(tmp_path, orch, orch_home,
                                                                               tmux_socket):
    ctx, desired, old = _setup(tmp_path, orch, orch_home, tmux_socket,
                               'checkins:\n  - every: 30m\n    note: "Status check (dev)"')
    _restart(ctx, desired, old)
    store = ctx.store()
    [schedule] = checkin_records.schedules(store, "demo")
    due = time.time()
    [outcome] = CheckinExecutor(ctx.tmux, store, ctx.home, desired).execute(
        [FireCheckin("demo", schedule, due, old, False)])
    assert outcome.ok and outcome.message.startswith("held"), outcome.message
    log = tmp_path / "logs" / "dev.log"
    assert toy_log(log) == []
    assert checkin_records.open_firings(store, "demo") == []  # released, not left `typing`, not `submitted`
    row = store.conn.execute("SELECT state FROM firings").fetchone()
    assert row is None or row["state"] != "submitted"
    [outcome] = CheckinExecutor(ctx.tmux, store, ctx.home, desired).execute(
        [FireCheckin("demo", checkin_records.schedules(store, "demo")[0], due, _pane(ctx), False)])
    assert outcome.ok and outcome.message.startswith("delivered"), outcome.message
    assert [e["text"].split(" [orch:")[0] for e in toy_log(log)] == ["Status check (dev)"]


def _pane(ctx: Context):
    return next(p for p in observe(ctx.tmux).agent_panes("demo") if p.agent == "dev")


def test_no_enter_goes_to_a_process_other_than_the_one_the_text_was_pasted_into(tmp_path, orch, orch_home,
                                                                                tmux_socket):
    ctx, desired, old = _setup(tmp_path, orch, orch_home, tmux_socket, "")
    _restart(ctx, desired, old)
    tmux(tmux_socket, "send-keys", "-t", old.pane_id, "-l", "a person's draft")
    screen = wait_until(lambda: (s := snapshot(ctx.tmux, old.pane_id)) and "draft" in s.input_line and s,
                        what="the draft on screen")
    result = press_enter_until_submitted(ctx.tmux, old.pane_id, screen, pid=old.pane_pid)
    assert result.held and not result.ok and result.enters == 0, result
    assert toy_log(tmp_path / "logs" / "dev.log") == []
