"""Check-ins end to end: the watcher, missed check-ins, the ledger's crash recovery, credit holds."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ORCH, tmux, toy_log, toy_manifest, wait_until

MARKED = re.compile(r"^(?P<note>.*) \[orch:[0-9a-f]{6}\]$", re.S)


def notes(log: Path) -> list[str]:
    """The check-in notes an agent received (its own log), markers removed."""
    return [m.group("note") for e in toy_log(log) if (m := MARKED.match(e["text"]))]


def db(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(home / "state.db")
    conn.row_factory = sqlite3.Row
    return conn


class WatcherProcess:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([ORCH, "reconcile", "--watch", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def watchers():
    started: list[WatcherProcess] = []

    def start(*args: str) -> WatcherProcess:
        started.append(WatcherProcess(*args))
        return started[-1]

    yield start
    for watcher in started:
        if watcher.proc.poll() is None:
            watcher.kill()


def checkin_agents(tmp_path: Path, every: str = "2s", note: str = "Status check: commit and report",
                   extra: str = "", names=("dev", "qa")) -> Path:
    agents = {name: f"checkins:\n  - every: {every}\n    note: \"{note} ({name})\"" for name in names}
    return toy_manifest(tmp_path, agents=agents, extra=extra)


def test_watcher_delivers_recurring_checkins_verbatim(tmp_path, orch, tmux_socket, watchers, orch_home):
    manifest = checkin_agents(tmp_path, note="Status check: $(not run); `nor this` & 'quoted'")
    assert orch("apply", str(manifest)).returncode == 0
    watcher = watchers(str(manifest), "--interval", "30")
    logs = tmp_path / "logs"
    wait_until(lambda: len(notes(logs / "dev.log")) >= 2 and len(notes(logs / "qa.log")) >= 2, timeout=20,
               what="two check-ins each")
    assert set(notes(logs / "dev.log")) == {"Status check: $(not run); `nor this` & 'quoted' (dev)"}
    status = orch.json("status")["projects"][0]
    assert status["watcher"]["pid"] == watcher.proc.pid
    assert status["watcher"]["heartbeat_age_s"] < 30
    assert all(a["next_checkin"] for a in status["agents"])
    assert watcher.stop() == 0
    assert orch.json("status")["projects"][0]["watcher"] is None


def test_a_second_watcher_says_who_watches_and_exits_1(tmp_path, orch, tmux_socket, watchers):
    manifest = checkin_agents(tmp_path, every="1h")
    assert orch("apply", str(manifest)).returncode == 0
    first = watchers(str(manifest))
    wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="first watcher's heartbeat")
    second = subprocess.run([ORCH, "reconcile", "--watch", str(manifest)], capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert f"pid {first.proc.pid}" in second.stderr and "already watched" in second.stderr


def _push_schedules_into_the_past(home: Path, seconds: float) -> None:
    """Simulate downtime: every schedule's due time is `seconds` ago (the store is plain SQLite)."""
    with db(home) as conn:
        conn.execute("UPDATE schedules SET next_due = ?", (time.time() - seconds,))


def test_fire_once_delivers_one_checkin_for_many_missed(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    _push_schedules_into_the_past(orch_home, 5 * 3600)  # ten intervals missed while nothing ran
    result = orch("reconcile", str(manifest))
    assert result.returncode == 0, result.stderr
    assert len(notes(tmp_path / "logs" / "dev.log")) == 1
    assert orch("reconcile", str(manifest)).returncode == 0
    assert len(notes(tmp_path / "logs" / "dev.log")) == 1
    next_due = db(orch_home).execute("SELECT next_due FROM schedules").fetchone()[0]
    assert abs(next_due - (time.time() + 1800)) < 30  # the next is `every` after that delivery


def test_skip_delivers_none_of_the_missed(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m", names=("dev",), extra="  checkin_policy:\n    missed: skip\n")
    assert orch("apply", str(manifest)).returncode == 0
    _push_schedules_into_the_past(orch_home, 5 * 3600)
    assert orch("reconcile", str(manifest)).returncode == 0
    assert notes(tmp_path / "logs" / "dev.log") == []
    next_due = db(orch_home).execute("SELECT next_due FROM schedules").fetchone()[0]
    assert abs(next_due - (time.time() + 1800)) < 30
    kinds = [json.loads(line)["kind"] for line in orch("events", "-o", "json").stdout.splitlines()]
    assert "checkin.skipped" in kinds


def test_schedules_follow_the_manifest(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m")
    assert orch("apply", str(manifest)).returncode == 0
    listed = orch.json("checkin", "--list")["checkins"]
    assert sorted(c["agent"] for c in listed) == ["dev", "qa"]
    due_before = {c["agent"]: c["next_due"] for c in listed}
    assert orch("apply", str(manifest)).returncode == 0  # unchanged: due times kept
    assert {c["agent"]: c["next_due"] for c in orch.json("checkin", "--list")["checkins"]} == due_before
    head, qa = manifest.read_text().split("    - name: qa\n")
    qa = qa.replace("every: 30m", "every: 45m").replace("Status check: commit and report (qa)", "New note (qa)")
    manifest.write_text(head + "    - name: qa\n" + qa)
    assert orch("apply", str(manifest)).returncode == 0
    listed = {c["agent"]: c for c in orch.json("checkin", "--list")["checkins"]}
    assert listed["qa"]["every_s"] == 2700 and listed["qa"]["note"] == "New note (qa)"
    assert listed["dev"]["next_due"] == due_before["dev"]


def test_one_off_checkins_from_inside_an_agent_survive_restarts(tmp_path, orch, tmux_socket, watchers, monkeypatch):
    manifest = checkin_agents(tmp_path, every="1h")
    assert orch("apply", str(manifest)).returncode == 0
    monkeypatch.setenv("ORCH_PROJECT", "demo")
    monkeypatch.setenv("ORCH_AGENT", "dev")
    result = orch("checkin", "--in", "3s", "--note", "look at the CI run")
    assert result.returncode == 0, result.stderr
    assert re.search(r"SCHEDULED TO RUN AT: \d\d:\d\d:\d\d", result.stdout)
    first = watchers(str(manifest))
    wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="watcher up")
    first.kill()  # kill -9 before it is due
    watchers(str(manifest))
    wait_until(lambda: notes(tmp_path / "logs" / "dev.log") == ["look at the CI run"], timeout=20)
    assert [c["kind"] for c in orch.json("checkin", "--list")["checkins"]] == ["recurring", "recurring"]


def test_cancel_a_one_off_but_not_a_manifest_checkin(tmp_path, orch, tmux_socket):
    manifest = checkin_agents(tmp_path, every="1h", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    scheduled = orch.json("checkin", "demo/dev", "--in", "1h", "--note", "later")
    assert orch("checkin", "--cancel", str(scheduled["id"])).returncode == 0
    listed = orch.json("checkin", "--list")["checkins"]
    assert [c["kind"] for c in listed] == ["recurring"]
    refused = orch("checkin", "--cancel", str(listed[0]["id"]))
    assert refused.returncode == 1 and "manifest" in refused.stderr
    unknown = orch("checkin", "demo/nobody", "--in", "1m", "--note", "x")
    assert unknown.returncode == 1 and "no agent" in unknown.stderr


def _schedule_id(home: Path) -> tuple[int, float]:
    row = db(home).execute("SELECT id, next_due FROM schedules").fetchone()
    return row["id"], row["next_due"]


def _crashed_mid_firing(home: Path, marker: str) -> None:
    """What a watcher killed while typing leaves: the schedule due, its firing recorded as `typing`."""
    schedule_id, _ = _schedule_id(home)
    due = time.time() - 1
    with db(home) as conn:
        conn.execute("UPDATE schedules SET next_due = ?", (due,))
        conn.execute("INSERT INTO firings (schedule_id, project, agent, due, state, marker, created_at, typed_at)"
                     " VALUES (?, 'demo', 'dev', ?, 'typing', ?, ?, ?)", (schedule_id, due, marker, due, due))


def test_an_interrupted_firing_that_was_typed_is_not_typed_again(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    # A crashed watcher: it recorded `typing`, the text reached the agent, nothing was recorded after.
    assert orch("send", "demo/dev", "Status check: commit and report (dev) [orch:abc123]").returncode == 0
    _crashed_mid_firing(orch_home, "abc123")
    assert orch("reconcile", str(manifest)).returncode == 0
    assert len(notes(tmp_path / "logs" / "dev.log")) == 1
    state = db(orch_home).execute("SELECT state FROM firings WHERE marker = 'abc123'").fetchone()[0]
    assert state == "submitted"
    assert _schedule_id(orch_home)[1] > time.time() + 1000


def test_an_interrupted_firing_that_never_reached_the_pane_is_delivered_once(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    _crashed_mid_firing(orch_home, "def456")
    assert orch("reconcile", str(manifest)).returncode == 0
    assert orch("reconcile", str(manifest)).returncode == 0
    assert notes(tmp_path / "logs" / "dev.log") == ["Status check: commit and report (dev)"]


def test_text_left_in_the_input_line_by_a_crash_is_submitted_not_retyped(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    pane = tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_id}").split()[0]
    tmux(tmux_socket, "send-keys", "-t", pane, "-l", "Status check: commit and report (dev) [orch:fed789]")
    _crashed_mid_firing(orch_home, "fed789")
    assert orch("reconcile", str(manifest)).returncode == 0
    assert notes(tmp_path / "logs" / "dev.log") == ["Status check: commit and report (dev)"]


def test_out_of_credit_gets_nothing_until_the_reset_then_exactly_one(tmp_path, orch, tmux_socket, watchers):
    manifest = checkin_agents(tmp_path, every="2s", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    reset = int(time.time()) + 8
    assert orch("send", "demo/dev", f"/limit Claude AI usage limit reached|{reset}").returncode == 0
    watchers(str(manifest), "--interval", "30")
    wait_until(lambda: orch.json("status")["projects"][0]["agents"][0]["credit"]["exhausted"], timeout=10,
               what="the hold")
    held = orch("send", "demo/dev", "are you there?")
    assert held.returncode == 1 and "out of credit" in held.stderr
    log = tmp_path / "logs" / "dev.log"
    wait_until(lambda: len(notes(log)) >= 2, timeout=30, what="check-ins after the reset")
    entries = [e for e in toy_log(log) if MARKED.match(e["text"])]
    during = [e for e in entries if e["ts"] < reset and e["ts"] > reset - 8 + 2.5]
    assert during == [], "a check-in was typed while the agent was out of credit"
    after = [e["ts"] for e in entries if e["ts"] >= reset]
    assert after[0] < reset + 2  # delivered promptly after the reset
    assert after[1] - after[0] >= 1.5  # exactly one, then the normal cadence: not a burst
    assert orch.json("status")["projects"][0]["agents"][0]["credit"] == {"exhausted": False, "until": None}


def test_manual_credit_overrides(tmp_path, orch, tmux_socket):
    manifest = checkin_agents(tmp_path, every="1h", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("credit", "hold", "demo/dev", "--until", "2h").returncode == 0
    agent = orch.json("status")["projects"][0]["agents"][0]
    assert agent["credit"]["exhausted"] is True and agent["credit"]["until"]
    refused = orch("send", "demo/dev", "hello")
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert orch("send", "demo/dev", "forced hello", "--force").returncode == 0
    assert orch("credit", "clear", "demo/dev").returncode == 0
    assert orch.json("status")["projects"][0]["agents"][0]["credit"]["exhausted"] is False
    assert orch("send", "demo/dev", "hello again").returncode == 0
    texts = [e["text"] for e in toy_log(tmp_path / "logs" / "dev.log")]
    assert texts == ["forced hello", "hello again"]


def test_a_dead_agent_is_restarted_at_once_not_at_the_next_resync(tmp_path, orch, tmux_socket, watchers):
    manifest = checkin_agents(tmp_path, every="1h", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    watchers(str(manifest), "--interval", "120")
    wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="watcher up")
    pid = int(tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_pid}").split()[0])
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: orch.json("status")["projects"][0]["agents"][0]["restarts"] == 1, timeout=15,
               what="the restart (pane-died hook wakes the watcher)")
    assert orch.json("status")["projects"][0]["agents"][0]["alive"] is True


def test_the_watcher_rereads_a_changed_manifest(tmp_path, orch, tmux_socket, watchers):
    manifest = checkin_agents(tmp_path, every="1h", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    watchers(str(manifest), "--interval", "0.5")
    wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="watcher up")
    manifest.write_text(manifest.read_text() + "    - name: extra\n      command: orch-toyagent\n")
    wait_until(lambda: "extra" in tmux(tmux_socket, "list-windows", "-a", "-F", "#{window_name}"), timeout=15,
               what="the new agent's window")
    manifest.write_text("this: is: not: valid")
    time.sleep(1.5)  # several resyncs with an invalid manifest: the last good one stays in force
    assert "extra" in tmux(tmux_socket, "list-windows", "-a", "-F", "#{window_name}")
    kinds = [json.loads(line)["kind"] for line in orch("events", "-o", "json").stdout.splitlines()]
    assert "manifest.reloaded" in kinds and "manifest.invalid" in kinds


def test_a_lost_store_is_rebuilt_from_the_manifest_without_restarting_agents(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m")
    assert orch("apply", str(manifest)).returncode == 0
    before = tmux(tmux_socket, "list-panes", "-a", "-F", "#{session_name} #{pane_pid}")
    for name in ("state.db", "state.db-wal", "state.db-shm", "state.db.bak"):
        (orch_home / name).unlink(missing_ok=True)
    result = orch("reconcile", str(manifest))
    assert result.returncode == 0, result.stderr
    assert tmux(tmux_socket, "list-panes", "-a", "-F", "#{session_name} #{pane_pid}") == before
    assert sorted(c["agent"] for c in orch.json("checkin", "--list")["checkins"]) == ["dev", "qa"]


def test_a_corrupt_store_is_reported_and_restored(tmp_path, orch, tmux_socket, orch_home):
    manifest = checkin_agents(tmp_path, every="30m")
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("apply", str(manifest)).returncode == 0  # the backup now holds the schedules
    (orch_home / "state.db").write_bytes(b"garbage" * 1000)
    result = orch("reconcile", str(manifest))
    assert result.returncode == 0, result.stderr
    assert "restored it from the backup" in result.stderr
    assert len(orch.json("checkin", "--list")["checkins"]) == 2


def test_a_crash_looping_agent_is_restarted_with_backoff_by_the_watcher(tmp_path, orch, tmux_socket, watchers):
    manifest = toy_manifest(tmp_path, agents={"flaky": ""})
    manifest.write_text(manifest.read_text().replace("command: orch-toyagent --log", "command: exit 3 #"))
    applied = orch("apply", str(manifest))
    assert "Traceback" not in applied.stderr
    watchers(str(manifest), "--interval", "60")
    wait_until(lambda: orch.json("status")["projects"][0]["agents"][0]["restarts"] >= 4, timeout=30,
               what="restarts at 1 s, 2 s, 4 s ...")
    events = [json.loads(line) for line in orch("events", "-o", "json", "-n", "500").stdout.splitlines()]
    assert not [e for e in events if e["kind"] == "watch.error"], events
    restarts = [e["time"] for e in events if e["kind"] == "agent.restarted"]
    from datetime import datetime
    moments = [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in restarts]
    gaps = [b - a for a, b in zip(moments, moments[1:])]
    # 1 s doubling (tmux reports the death to the second, so each gap is known to about a second)
    assert gaps[-1] >= 3 and gaps[-1] >= 2 * min(gaps), gaps
    assert orch.json("status")["projects"][0]["agents"][0]["last_exit_status"] == 3


def test_one_failing_project_never_stops_the_others(tmp_path, orch, tmux_socket, watchers):
    good_dir, bad_dir = tmp_path / "good", tmp_path / "bad"
    good_dir.mkdir()
    bad_dir.mkdir()
    good = checkin_agents(good_dir, every="2s", names=("dev",))
    bad = toy_manifest(bad_dir, project="bad", agents={"pm": ""})
    assert orch("apply", str(good)).returncode == 0
    assert orch("apply", str(bad)).returncode == 0
    bad_session = orch.json("status", "bad")["projects"][0]["session"]
    assert orch("destroy", "bad", "--yes").returncode == 0
    tmux(tmux_socket, "new-session", "-d", "-s", bad_session, "sleep 600")  # someone else's session now
    bad.write_text(bad.read_text().replace("agents:", f"session: {bad_session}\n  agents:"))
    watchers(str(bad), str(good), "--interval", "1")
    wait_until(lambda: len(notes(good_dir / "logs" / "dev.log")) >= 2, timeout=20, what="the good project's check-ins")
    events = [json.loads(line) for line in orch("events", "bad", "-o", "json").stdout.splitlines()]
    assert any(e["kind"] == "watch.error" and "already exists" in e["message"] for e in events)


def test_status_watch_prints_one_document_per_refresh(tmp_path, orch, tmux_socket):
    manifest = checkin_agents(tmp_path, every="1h", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    proc = subprocess.Popen([ORCH, "status", "--watch", "--every", "0.2", "-o", "json"], stdout=subprocess.PIPE,
                            text=True)
    try:
        documents = [json.loads(proc.stdout.readline()) for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert all(d["projects"][0]["agents"][0]["name"] == "dev" for d in documents)


def _reset_in_two_hours() -> tuple[str, str]:
    """A reset two hours ahead as Claude Code prints it (UTC), and its minute in ISO form."""
    moment = time.gmtime(time.time() + 7200)
    hour = moment.tm_hour % 12 or 12
    return f"{hour}:{moment.tm_min:02d}{'pm' if moment.tm_hour >= 12 else 'am'} (UTC)", \
        time.strftime("%H:%M:00", moment)


def _exhausted_events(orch) -> list[dict]:
    return [e for e in (json.loads(line) for line in orch("events", "-o", "json").stdout.splitlines())
            if e["kind"] == "credit.exhausted"]


def test_every_reconcile_pass_notices_a_new_limit_notice(tmp_path, orch, tmux_socket):
    """No check-in is due: the pass itself reads the screen, so `orch status` tells the truth."""
    manifest = checkin_agents(tmp_path, every="1h", names=("dev", "qa"))
    assert orch("apply", str(manifest)).returncode == 0
    reset, minute = _reset_in_two_hours()
    assert orch("send", "demo/dev", f"/limit You've hit your 5-hour limit · resets {reset}").returncode == 0
    assert orch("send", "demo/qa", "/limit You've used 97% of your session limit").returncode == 0
    assert orch("reconcile", str(manifest)).returncode == 0
    agents = {a["name"]: a for a in orch.json("status")["projects"][0]["agents"]}
    assert agents["dev"]["credit"]["exhausted"] is True
    assert minute in agents["dev"]["credit"]["until"]
    assert agents["qa"]["credit"] == {"exhausted": False, "until": None}  # a warning is not a hit
    assert orch("reconcile", str(manifest)).returncode == 0
    assert orch("credit", "clear", "demo/dev").returncode == 0
    assert orch("reconcile", str(manifest)).returncode == 0  # the same notice is never read again
    assert orch.json("status")["projects"][0]["agents"][0]["credit"]["exhausted"] is False
    assert len(_exhausted_events(orch)) == 1


def test_a_watcher_pass_notices_a_new_limit_notice(tmp_path, orch, tmux_socket, watchers):
    manifest = checkin_agents(tmp_path, every="1h", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    watchers(str(manifest), "--interval", "1")
    reset, _ = _reset_in_two_hours()
    assert orch("send", "demo/dev", f"/limit You've hit your limit · resets {reset}").returncode == 0
    wait_until(lambda: orch.json("status")["projects"][0]["agents"][0]["credit"]["exhausted"], timeout=15,
               what="the hold, noticed by a watcher pass")
    assert len(_exhausted_events(orch)) == 1


def test_a_retry_submits_its_own_text_left_in_the_input_line_never_a_second_copy(tmp_path, orch, tmux_socket,
                                                                                 orch_home):
    """Enter was not taken (3 times): the retry finds its marker in the input line and presses Enter.

    The note has several lines, so the agent shows it as `[Pasted text #N +K lines]`: the marker
    must stay visible after it."""
    manifest = checkin_agents(tmp_path, every="30m", names=("dev",), note="line one\\nline two\\nline three")
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("send", "demo/dev", "/deaf 3").returncode == 0
    with db(orch_home) as conn:
        conn.execute("UPDATE schedules SET next_due = ?", (time.time() - 1,))
    orch("reconcile", str(manifest))
    first = db(orch_home).execute("SELECT state, reason, marker FROM firings").fetchone()
    assert first["state"] == "failed" and "Enter presses" in first["reason"]
    with db(orch_home) as conn:
        conn.execute("UPDATE schedules SET retry_after = ?", (time.time() - 1,))
    assert orch("reconcile", str(manifest)).returncode == 0
    assert notes(tmp_path / "logs" / "dev.log") == ["line one\nline two\nline three (dev)"]
    row = db(orch_home).execute("SELECT state, marker FROM firings").fetchone()
    assert row["state"] == "submitted" and row["marker"] == first["marker"]


def test_recovery_takes_the_agents_delivery_lock(tmp_path, orch, tmux_socket, orch_home):
    """While another delivery holds the agent's lock, recovery presses no Enter (it looks again next pass)."""
    from filelock import FileLock

    manifest = checkin_agents(tmp_path, every="30m", names=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    pane = tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_id}").split()[0]
    tmux(tmux_socket, "send-keys", "-t", pane, "-l", "Status check: commit and report (dev) [orch:0ab0cd]")
    _crashed_mid_firing(orch_home, "0ab0cd")
    with FileLock(orch_home / "locks" / "deliver-demo--dev.lock"):
        orch("reconcile", str(manifest))
        assert notes(tmp_path / "logs" / "dev.log") == []
        assert db(orch_home).execute("SELECT state FROM firings").fetchone()[0] == "typing"
    assert orch("reconcile", str(manifest)).returncode == 0
    assert notes(tmp_path / "logs" / "dev.log") == ["Status check: commit and report (dev)"]
