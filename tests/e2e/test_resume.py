"""Resume on restart, through the executor and real tmux, with a stand-in `claude` program that
records how it was started (the real Claude Code run is in test_claude_hooks.py)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time

from tests.conftest import tmux, wait_until, write_manifest

FAKE = """#!{python}
import json, os, sys, time
with open({log!r}, "a") as out:
    out.write(json.dumps({{"pid": os.getpid(), "argv": sys.argv[1:]}}) + "\\n")
time.sleep(3600)
"""


def starts(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def conversation(start: dict) -> tuple[str, str]:
    argv = start["argv"]
    index = next(i for i, word in enumerate(argv) if word in ("--session-id", "--resume"))
    return argv[index], argv[index + 1]


def kill_and_wait(socket: str, pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: "dead" in tmux(socket, "list-panes", "-a", "-F", "#{?pane_dead,dead,}"), timeout=10,
               what="tmux to see the death")


def test_a_dead_claude_resumes_its_conversation_until_resuming_crash_loops(tmp_path, orch, tmux_socket, orch_home):
    log = tmp_path / "starts.jsonl"
    program = tmp_path / "claude"
    program.write_text(FAKE.format(python=sys.executable, log=str(log)))
    program.chmod(0o755)
    manifest = write_manifest(tmp_path, f"""
        apiVersion: orch/v1
        kind: Project
        metadata:
          name: demo
        spec:
          agents:
            - name: dev
              command: "{program}"
        """)
    assert orch("apply", str(manifest)).returncode == 0
    wait_until(lambda: starts(log), what="the first start")
    option, session = conversation(starts(log)[0])
    assert option == "--session-id"

    kill_and_wait(tmux_socket, starts(log)[0]["pid"])
    assert orch("apply", str(manifest)).returncode == 0
    wait_until(lambda: len(starts(log)) == 2, what="the restart")
    assert conversation(starts(log)[1]) == ("--resume", session)
    restarted = [json.loads(line) for line in orch("events", "-o", "json", "--kind", "agent.restarted").stdout.splitlines()]
    assert restarted[-1]["data"]["resumed"] is True

    with sqlite3.connect(orch_home / "state.db") as conn:  # as after two more quick deaths on resume
        conn.execute("UPDATE agents SET crash_streak = 3, started_at = ?", (time.time(),))
    kill_and_wait(tmux_socket, starts(log)[1]["pid"])
    assert orch("apply", str(manifest)).returncode == 0  # waits out the 8 s backoff
    wait_until(lambda: len(starts(log)) == 3, what="the fresh start")
    option, fresh = conversation(starts(log)[2])
    assert option == "--session-id" and fresh != session
    abandoned = orch("events", "-o", "json", "--kind", "agent.resume_abandoned").stdout.splitlines()
    assert len(abandoned) == 1 and "resuming died 3 times in a row" in json.loads(abandoned[0])["message"]
