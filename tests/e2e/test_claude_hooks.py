"""Real Claude Code (2.1.328, offline) started by orch with its hooks into `orch hook`.

The manifest's command carries the user's own `--settings` (a prompt-recording hook): orch's
settings file holds it merged with orch's hooks, so both fire, and the user's file is untouched.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_until
from tests.e2e.test_real_claude import claude_manifest, prompts
from tests.realclaude.claude import ensure_claude_installed
from tests.realclaude.standin_api import StandinAPI

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def claude_binary():
    return ensure_claude_installed()


def agent_events(orch_home) -> list[dict]:
    found = list(orch_home.glob("projects/real-*/agents/dev/events.jsonl"))
    if not found:
        return []
    return [json.loads(line) for line in found[0].read_text().splitlines() if line.strip()]


def names(orch_home) -> list[str]:
    return [e["event"] for e in agent_events(orch_home)]


def test_claude_reports_its_session_prompts_and_turns_through_orch_hook(tmp_path, orch, tmux_socket,
                                                                        claude_binary, orch_home):
    with StandinAPI() as api:
        manifest, hook_log = claude_manifest(tmp_path, claude_binary, api.url, "      brief: \"You are dev.\"\n")
        users_settings = (tmp_path / "settings.json").read_text()
        assert orch("apply", str(manifest)).returncode == 0
        wait_until(lambda: "Stop" in names(orch_home), timeout=30, what="the brief's turn in the events")
        events = agent_events(orch_home)
        kinds = [e["event"] for e in events]
        assert kinds[0] == "SessionStart" and events[0]["data"]["source"] == "startup"
        submitted = [e for e in events if e["event"] == "UserPromptSubmit"]
        assert [e["data"]["prompt"] for e in submitted] == ["You are dev."]
        assert kinds.index("UserPromptSubmit") < kinds.index("Stop")
        assert prompts(hook_log) == ["You are dev."], "the user's own hook no longer runs"
        assert (tmp_path / "settings.json").read_text() == users_settings
        settings = next(orch_home.glob("projects/real-*/agents/dev/claude-settings.json"))
        assert settings.stat().st_mode & 0o777 == 0o600
        assert settings.parent.stat().st_mode & 0o777 == 0o700


def delivered(orch, kind: str) -> list[dict]:
    result = orch("events", "real", "-o", "json")
    assert result.returncode == 0, result.stderr
    return [e for e in map(json.loads, result.stdout.splitlines()) if e["kind"] == kind]


def test_claudes_own_receipts_confirm_every_delivery_and_count_each_submission(tmp_path, orch, tmux_socket,
                                                                              claude_binary, orch_home):
    import sqlite3
    import time

    with StandinAPI() as api:
        manifest, hook_log = claude_manifest(
            tmp_path, claude_binary, api.url,
            "      brief: \"You are dev.\"\n      checkins:\n        - every: 30m\n          note: \"status?\"\n")
        assert orch("apply", str(manifest)).returncode == 0
        wait_until(lambda: delivered(orch, "brief.delivered"), timeout=30, what="the brief")
        assert delivered(orch, "brief.delivered")[0]["data"]["confirmed_by"] == "receipt"
        for _ in range(2):  # the same text twice: two submissions, two receipts
            assert orch("send", "real/dev", "same text").returncode == 0
        sends = delivered(orch, "message.delivered")
        assert [e["data"]["confirmed_by"] for e in sends] == ["receipt", "receipt"]
        with sqlite3.connect(orch_home / "state.db") as conn:
            conn.execute("UPDATE schedules SET next_due = ?", (time.time() - 1,))
        assert orch("reconcile", str(manifest)).returncode == 0
        checkin = delivered(orch, "checkin.delivered")
        assert [e["data"]["confirmed_by"] for e in checkin] == ["receipt"]
        submitted = [e["data"]["prompt"] for e in agent_events(orch_home) if e["event"] == "UserPromptSubmit"]
        assert submitted == ["You are dev.", "same text", "same text", f"status? [orch:{checkin[0]['data']['marker']}]"]
        assert prompts(hook_log) == submitted
        deliveries = orch.json("metrics", "real")["projects"][0]["deliveries"]
        assert deliveries == {"confirmed_by_receipt": 4, "confirmed_by_screen": 0, "receipt_share": 1.0}


def test_status_shows_claudes_state_from_its_own_events(tmp_path, orch, tmux_socket, claude_binary, orch_home,
                                                        monkeypatch):
    import time

    monkeypatch.setenv("TZ", "UTC")

    def agent():
        return orch.json("status")["projects"][0]["agents"][0]

    with StandinAPI() as api:
        manifest, _ = claude_manifest(tmp_path, claude_binary, api.url, "      brief: \"You are dev.\"\n")
        assert orch("apply", str(manifest)).returncode == 0
        wait_until(lambda: agent()["state"] == "idle", timeout=30, what="idle after the brief's turn")
        assert agent()["state_age_s"] >= 0 and agent()["last_activity"].endswith("Z")
        reset = (int(time.time()) // 60 + 120) * 60
        api.limit_until(reset)
        assert orch("send", "real/dev", "hello").returncode == 0
        wait_until(lambda: agent()["state"] == "limited", timeout=30, what="limited from StopFailure rate_limit")
        assert "limited" in orch("status").stdout
        assert orch("reconcile", str(manifest)).returncode == 0  # a pass reads the agent's own report
        assert agent()["credit"]["until"].startswith(time.strftime("%Y-%m-%dT%H:%M:00", time.gmtime(reset)))
        first = next(e for e in delivered(orch, "credit.exhausted"))
        assert first["data"]["source"] == "agent" and "limit" in first["data"]["notice"]


def test_a_slow_turn_is_working_and_a_permission_prompt_is_blocked(tmp_path, orch, tmux_socket, claude_binary,
                                                                   orch_home):
    def agent():
        return orch.json("status")["projects"][0]["agents"][0]

    with StandinAPI() as api:
        manifest, _ = claude_manifest(tmp_path, claude_binary, api.url, "")
        manifest.write_text(manifest.read_text().replace("--dangerously-skip-permissions", "--permission-mode manual"))
        assert orch("apply", str(manifest)).returncode == 0
        wait_until(lambda: agent()["state"] == "idle", timeout=30, what="idle after start")
        api.reply_delay = 4.0
        assert orch("send", "real/dev", "think slowly").returncode == 0
        assert agent()["state"] == "working"
        wait_until(lambda: agent()["state"] == "idle", timeout=30, what="idle after the slow turn")
        api.reply_delay = 0.0
        api.use_tool_once("Bash", {"command": "touch made-by-claude", "description": "make a file"})
        assert orch("send", "real/dev", "make the file").returncode == 0
        wait_until(lambda: agent()["state"] == "blocked", timeout=30, what="blocked on the permission prompt")
        blocked = [e for e in agent_events(orch_home) if e["event"] == "Notification"]
        assert blocked[-1]["data"]["notification_type"] == "permission_prompt"
        assert not (tmp_path / "wd" / "made-by-claude").exists()


@pytest.mark.parametrize("when", ["idle", "any"])
def test_a_checkin_due_during_a_turn_waits_for_its_end(tmp_path, orch, tmux_socket, claude_binary, orch_home, when):
    """checkin_policy.when: idle (the default): the note is typed right after Claude's Stop, not into its
    turn; with `any` it is typed when due, in the middle of the turn."""
    import sqlite3
    import subprocess
    import time

    from tests.conftest import ORCH

    with StandinAPI() as api:
        manifest, _ = claude_manifest(tmp_path, claude_binary, api.url,
                                      "      checkins:\n        - every: 30m\n          note: \"status?\"\n")
        manifest.write_text(manifest.read_text() + f"  checkin_policy:\n    when: {when}\n")
        assert orch("apply", str(manifest)).returncode == 0
        wait_until(lambda: "SessionStart" in names(orch_home), timeout=30, what="Claude's start")
        watcher = subprocess.Popen([ORCH, "reconcile", "--watch", str(manifest)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: list((orch_home / "run").glob("wake-*.fifo")), timeout=15, what="the watcher")
            api.reply_delay = 8.0
            due = time.time() + 3
            with sqlite3.connect(orch_home / "state.db") as conn:
                conn.execute("UPDATE schedules SET next_due = ?", (due,))
            sent = orch("send", "real/dev", "think slowly")
            assert sent.returncode == 0, sent.stderr
            wait_until(lambda: any(e["event"] == "UserPromptSubmit" and "status?" in e["data"]["prompt"]
                                   for e in agent_events(orch_home)), timeout=40, what="the check-in")
            wait_until(lambda: "Stop" in names(orch_home), timeout=30, what="the slow turn's end")
        finally:
            watcher.terminate()
            watcher.wait(timeout=30)
        events = agent_events(orch_home)
        stop = next(e["time"] for e in events if e["event"] == "Stop")  # the slow turn's end
        checkin = next(e["time"] for e in events if e["event"] == "UserPromptSubmit" and "status?" in e["data"]["prompt"])
        if when == "idle":
            assert due + 3 < stop < checkin < stop + 2.0, (due, stop, checkin)
        else:
            assert due <= checkin < due + 2.0 < stop, (due, stop, checkin)
