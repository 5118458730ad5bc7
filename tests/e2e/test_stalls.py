"""Stalls on real Claude Code (offline): a permission prompt left open longer than stall_after is
told once to escalate_to (a toy agent here, whose log shows what it received), recorded in events,
never repeated while it lasts, and nothing is typed into the stalled agent."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.conftest import ORCH, tmux, toy_log, wait_until
from tests.e2e.test_claude_hooks import agent_events, claude_binary  # noqa: F401 (the fixture)
from tests.e2e.test_real_claude import claude_manifest
from tests.realclaude.standin_api import StandinAPI

pytestmark = pytest.mark.timeout(600)
STALL_AFTER_S = 5


def events(orch, kind: str) -> list[dict]:
    result = orch("events", "real", "-o", "json")
    assert result.returncode == 0, result.stderr
    return [e for e in map(json.loads, result.stdout.splitlines()) if e["kind"] == kind]


def test_a_permission_prompt_left_open_is_escalated_once(tmp_path, orch, tmux_socket, claude_binary,  # noqa: F811
                                                        orch_home):
    def state(name: str) -> str:
        agents = orch.json("status")["projects"][0]["agents"]
        return next(a["state"] for a in agents if a["name"] == name)

    pm_log = tmp_path / "pm.log"
    with StandinAPI() as api:
        manifest, _ = claude_manifest(tmp_path, claude_binary, api.url, "")
        manifest.write_text(
            manifest.read_text().replace("--dangerously-skip-permissions", "--permission-mode manual")
            + f"    - name: pm\n      command: orch-toyagent --log {pm_log}\n"
            + f"  stall_after: {STALL_AFTER_S}s\n  sync:\n    escalate_to: pm\n")
        assert orch("apply", str(manifest)).returncode == 0
        wait_until(lambda: state("dev") == "idle", timeout=30, what="idle after start")
        watcher = subprocess.Popen([ORCH, "reconcile", "--watch", str(manifest)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: list((orch_home / "run").glob("wake-*.fifo")), timeout=15, what="the watcher")
            api.use_tool_once("Bash", {"command": "touch made-by-claude", "description": "make a file"})
            assert orch("send", "real/dev", "make the file").returncode == 0
            wait_until(lambda: state("dev") == "blocked", timeout=30, what="blocked on the permission prompt")
            # sooner than the watcher's 30 s resync: the pass is planned for the moment the stall begins
            told = wait_until(lambda: [r for r in toy_log(pm_log) if "stalled" in r["text"]], timeout=20,
                              what="the stall report in pm's log")
            # counted from its last sign of progress (the prompt): Claude reports the permission prompt
            # itself only seconds after showing it (6.5 s on 2.1.328), and that is no progress
            progress = next(e["time"] for e in agent_events(orch_home) if e["event"] == "UserPromptSubmit")
            assert told[0]["ts"] >= progress + STALL_AFTER_S
            text = told[0]["text"]
            assert "agent dev of project real is stalled: blocked on a permission prompt or dialog" in text
            assert "orch typed nothing into it" in text
            assert "made-by-claude" in text, text  # what its screen shows: the command it asks about
            stalled = wait_until(lambda: events(orch, "agent.stalled"), timeout=10, what="agent.stalled")
            assert stalled[0]["agent"] == "dev" and stalled[0]["data"]["to"] == "pm"
            assert stalled[0]["data"]["state"] == "blocked"
            assert any("made-by-claude" in line for line in stalled[0]["data"]["screen"])
            wait_until(lambda: events(orch, "agent.stall_told"), timeout=10, what="agent.stall_told")
            # while it stays blocked, for more than two stall_after: passes (the watcher's, and
            # `orch reconcile` in fresh processes) repeat nothing
            deadline = time.time() + 2.5 * STALL_AFTER_S
            while time.time() < deadline:
                assert orch("reconcile", str(manifest)).returncode == 0
                assert state("dev") == "blocked"
        finally:
            watcher.terminate()
            watcher.wait(timeout=30)
        assert orch("reconcile", str(manifest)).returncode == 0  # a fresh process knows it was said
        assert len([r for r in toy_log(pm_log) if "stalled" in r["text"]]) == 1
        assert len(events(orch, "agent.stalled")) == 1 and len(events(orch, "agent.stall_told")) == 1
        prompts = [e["data"].get("prompt") for e in agent_events(orch_home) if e["event"] == "UserPromptSubmit"]
        assert prompts == ["make the file"]  # nothing typed into the stalled agent
        assert not (tmp_path / "wd" / "made-by-claude").exists()  # and nothing answered its prompt

        session = orch.json("status")["projects"][0]["session"]
        tmux(tmux_socket, "send-keys", "-t", f"={session}:dev", "Enter")  # a person allows it
        wait_until(lambda: (tmp_path / "wd" / "made-by-claude").exists(), timeout=30, what="the allowed command")
        wait_until(lambda: state("dev") == "idle", timeout=30, what="idle after the turn")
        assert orch("reconcile", str(manifest)).returncode == 0
        over = wait_until(lambda: events(orch, "agent.unstalled"), timeout=10, what="agent.unstalled")
        assert over[0]["agent"] == "dev"
        assert len(events(orch, "agent.stalled")) == 1
