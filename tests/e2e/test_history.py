"""History you can read: saved pane histories (by hand and on death) and filtered events."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

from tests.conftest import tmux, toy_manifest, wait_until
from tests.e2e.test_checkins import watchers  # noqa: F401  (fixture)


def events(orch, *args: str) -> list[dict]:
    result = orch("events", *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_logs_save_keeps_the_whole_history_in_a_private_file(tmp_path, orch, tmux_socket, orch_home):
    manifest = toy_manifest(tmp_path, agents={"dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("send", "demo/dev", "remember the blue door").returncode == 0
    saved = orch.json("logs", "demo/dev", "--save")
    path = Path(saved["path"])
    assert path.is_relative_to(orch_home / "projects") and path.parent.name == "logs"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "remember the blue door" in path.read_text()
    again = Path(orch.json("logs", "demo/dev", "--save")["path"])
    assert again != path and path.exists()  # a second save never overwrites the first


def test_the_watcher_keeps_a_dead_agents_last_screen(tmp_path, orch, tmux_socket, watchers, orch_home):  # noqa: F811
    manifest = toy_manifest(tmp_path, agents={"dev": "", "qa": ""})
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("send", "demo/dev", "the last words before the crash").returncode == 0
    watchers(str(manifest), "--interval", "30")
    panes = dict(line.split() for line in tmux(tmux_socket, "list-panes", "-a", "-F",
                                                "#{window_name} #{pane_pid}").splitlines())
    os.kill(int(panes["dev"]), signal.SIGKILL)
    saved = wait_until(lambda: events(orch, "demo", "--kind", "agent.log_saved"), timeout=20,
                       what="the dead agent's screen saved")
    assert saved[0]["agent"] == "dev"
    assert "the last words before the crash" in Path(saved[0]["data"]["path"]).read_text()


def test_events_filter_by_agent_and_kind_family(tmp_path, orch, tmux_socket):
    manifest = toy_manifest(tmp_path, agents={"dev": "", "qa": ""})
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("send", "demo/dev", "hello").returncode == 0

    def kinds(*args: str) -> list[str]:
        return [event["kind"] for event in events(orch, *args)]

    everything = kinds("demo")
    assert "project.registered" in everything and "message.delivered" in everything
    assert set(kinds("demo", "--kind", "agent")) == {"agent.created"}
    assert set(kinds("demo", "--kind", "message.delivered,project")) == {"message.delivered", "project.registered"}
    dev_only = events(orch, "demo", "--agent", "dev")
    assert dev_only and {event["agent"] for event in dev_only} == {"dev"}
    assert kinds("demo", "--kind", "agen") == []  # a family is a whole word, not a prefix
