"""Delivery into the real Claude Code CLI (2.1.328), offline against a stand-in API.

Ground truth is Claude Code's own UserPromptSubmit hook: it runs once per submitted prompt,
duplicates included, so a doubled or lost submission cannot hide (REAL_CLAUDE.md).
"""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import tmux, wait_until
from tests.realclaude.claude import (
    claude_env, ensure_claude_installed, expected_prompt, prompt_hook_settings, read_prompts, unwrap_pasted,
)
from tests.realclaude.standin_api import StandinAPI

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def claude_binary():
    return ensure_claude_installed()


def claude_manifest(tmp_path, claude_binary, api_url: str, agent_lines: str) -> tuple:
    """A manifest with one real Claude Code agent 'dev' (offline), and the file its prompt hook writes."""
    workdir = tmp_path / "wd"
    workdir.mkdir(exist_ok=True)
    env = claude_env(tmp_path / "claude-home", workdir, api_url)
    own_env = {k: v for k, v in env.items() if os.environ.get(k) != v and k != "TERM"}
    hook_log = tmp_path / "prompts.jsonl"
    settings = prompt_hook_settings(hook_log, settings_file=tmp_path / "settings.json")
    env_yaml = "".join(f"        {key}: {json.dumps(value)}\n" for key, value in sorted(own_env.items()))
    manifest = tmp_path / "orch.yaml"
    manifest.write_text(
        "apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: real\nspec:\n  agents:\n"
        f"    - name: dev\n      command: \"{claude_binary} --dangerously-skip-permissions --settings {settings}\"\n"
        f"      cwd: wd\n{agent_lines}      env:\n{env_yaml}"
    )
    return manifest, hook_log


@pytest.fixture
def claude_project(tmp_path, orch, tmux_socket, claude_binary):
    """A project with one real Claude Code agent 'dev' (with a brief), applied."""
    with StandinAPI() as api:
        manifest, hook_log = claude_manifest(tmp_path, claude_binary, api.url,
                                             "      brief: \"You are dev. Reply ok.\"\n")
        result = orch("apply", str(manifest))
        assert result.returncode == 0, result.stdout + result.stderr
        yield manifest, hook_log


def prompts(hook_log) -> list[str]:
    return [unwrap_pasted(p) for p in read_prompts(hook_log)]


def test_brief_reaches_real_claude_once(claude_project, orch):
    manifest, hook_log = claude_project
    wait_until(lambda: prompts(hook_log), timeout=15, what="the brief's hook record")
    assert prompts(hook_log) == ["You are dev. Reply ok."]
    assert orch("apply", str(manifest)).returncode == 0
    assert prompts(hook_log) == ["You are dev. Reply ok."]


@pytest.mark.parametrize(
    "message",
    [
        "please run the tests",
        "line one\nline two\nline three",
        "four\nlines\nof\ntext",  # shown as [Pasted text #N +K lines]
        "x" * 2000,  # shown as [Pasted text #N]
    ],
    ids=["one-line", "three-lines", "four-lines", "2000-chars"],
)
def test_send_submits_exactly_once_into_claude(claude_project, orch, message):
    _, hook_log = claude_project
    wait_until(lambda: len(prompts(hook_log)) == 1, timeout=15, what="the brief")
    result = orch("send", "real/dev", message)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: len(prompts(hook_log)) >= 2, timeout=10, what="the hook record")
    assert prompts(hook_log)[1:] == [expected_prompt(message)]


def test_two_sends_in_a_row_are_two_prompts(claude_project, orch):
    _, hook_log = claude_project
    wait_until(lambda: len(prompts(hook_log)) == 1, timeout=15, what="the brief")
    assert orch("send", "real/dev", "same text").returncode == 0
    assert orch("send", "real/dev", "same text").returncode == 0
    wait_until(lambda: len(prompts(hook_log)) == 3, timeout=10, what="both records")
    assert prompts(hook_log)[1:] == ["same text", "same text"]


def test_copy_mode_in_claude_is_left_first(claude_project, orch, tmux_socket):
    _, hook_log = claude_project
    wait_until(lambda: len(prompts(hook_log)) == 1, timeout=15, what="the brief")
    pane = tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_id}").split()[0]
    tmux(tmux_socket, "copy-mode", "-t", pane)
    assert orch("send", "real/dev", "after copy mode").returncode == 0
    wait_until(lambda: len(prompts(hook_log)) == 2, timeout=10)
    assert prompts(hook_log)[1] == "after copy mode"


def test_out_of_credit_claude_gets_nothing_until_the_reset_then_one_checkin(tmp_path, orch, tmux_socket,
                                                                           claude_binary, monkeypatch):
    """The real usage-limit screen: held until the minute it names, then exactly one check-in."""
    import subprocess
    import time

    from tests.conftest import ORCH

    monkeypatch.setenv("TZ", "UTC")
    with StandinAPI() as api:
        manifest, hook_log = claude_manifest(tmp_path, claude_binary, api.url,
                                             "      checkins:\n        - every: 4s\n          note: \"status?\"\n")
        assert orch("apply", str(manifest)).returncode == 0
        now = time.time()
        reset = (int(now) // 60 + 1) * 60
        if reset - now < 25:
            reset += 60  # leave time for the limit to be hit and seen first
        api.limit_until(reset)
        watcher = subprocess.Popen([ORCH, "reconcile", "--watch", str(manifest)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: orch.json("status")["projects"][0]["agents"][0]["credit"]["exhausted"],
                       timeout=30, what="the hold from Claude's own limit screen")
            until = orch.json("status")["projects"][0]["agents"][0]["credit"]["until"]
            assert until.startswith(time.strftime("%Y-%m-%dT%H:%M:00", time.gmtime(reset)))
            limited = len(prompts(hook_log))
            wait_until(lambda: time.time() > reset - 1.0, timeout=100, interval=0.2)
            assert len(prompts(hook_log)) == limited, "a check-in was typed while Claude was out of credit"
            wait_until(lambda: len(prompts(hook_log)) == limited + 1, timeout=20, what="the check-in after the reset")
            first_after = time.time()
            wait_until(lambda: len(prompts(hook_log)) >= limited + 2, timeout=20, what="the normal cadence")
            assert time.time() - first_after >= 2.5, "more than one check-in right after the reset"
        finally:
            watcher.terminate()
            watcher.wait(timeout=30)


def _pane(tmux_socket) -> str:
    return tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_id}").split()[0]


def _screen(tmux_socket) -> str:
    return tmux(tmux_socket, "capture-pane", "-p", "-t", _pane(tmux_socket))


def test_a_persons_multi_line_draft_is_never_typed_into(claude_project, orch, tmux_socket):
    """A two-line draft pasted by a person (no Enter): the cursor's row has no `❯`, the box does."""
    _, hook_log = claude_project
    wait_until(lambda: len(prompts(hook_log)) == 1, timeout=15, what="the brief")
    tmux(tmux_socket, "set-buffer", "-b", "draft", "DRAFT-line-one\nDRAFT-line-two")
    tmux(tmux_socket, "paste-buffer", "-p", "-d", "-b", "draft", "-t", _pane(tmux_socket))
    wait_until(lambda: "DRAFT-line-two" in _screen(tmux_socket), what="the draft")
    result = orch("send", "real/dev", "TEXT", "--timeout", "12")  # past the 5 s "still screen" fallback
    assert result.returncode == 1
    assert "someone is typing" in result.stderr and "nothing was typed" in result.stderr
    assert len(prompts(hook_log)) == 1
    screen = _screen(tmux_socket)
    assert "DRAFT-line-one" in screen and "DRAFT-line-twoTEXT" not in screen


def test_an_echoed_numbered_prompt_is_not_a_menu(claude_project, orch, tmux_socket):
    """Claude echoes `1. Commit ...` as `❯ 1. Commit ...`; in the bottom rows it must not block delivery."""
    _, hook_log = claude_project
    wait_until(lambda: len(prompts(hook_log)) == 1, timeout=15, what="the brief")
    tmux(tmux_socket, "resize-window", "-t", _pane(tmux_socket), "-y", "24")
    assert orch("send", "real/dev", "1. Commit your work").returncode == 0
    wait_until(lambda: "ok: 1. Commit" in _screen(tmux_socket), what="the answer")
    result = orch("send", "real/dev", "2. Push it", "--timeout", "8")
    assert result.returncode == 0, result.stderr
    wait_until(lambda: len(prompts(hook_log)) == 3, timeout=10, what="both prompts")


def test_a_long_checkins_marker_stays_visible_in_claude(tmp_path, orch, tmux_socket, claude_binary, orch_home):
    """Claude shows a paste of 4+ lines as `[Pasted text #N +K lines]`, so the marker goes in as a
    second paste (the box then reads `[Pasted text #1 +3 lines] [orch:...]`, tests/unit/screens/):
    the check-in still arrives once, note verbatim, marker last, and the transcript shows it."""
    import sqlite3
    import time

    note = "status?\\nwhat is done\\nwhat is next\\nwhat blocks you"
    with StandinAPI() as api:
        manifest, hook_log = claude_manifest(tmp_path, claude_binary, api.url,
                                             f"      checkins:\n        - every: 30m\n          note: \"{note}\"\n")
        assert orch("apply", str(manifest)).returncode == 0
        with sqlite3.connect(orch_home / "state.db") as conn:
            conn.execute("UPDATE schedules SET next_due = ?", (time.time() - 1,))
        assert orch("reconcile", str(manifest)).returncode == 0
        marker = sqlite3.connect(orch_home / "state.db").execute("SELECT marker FROM firings").fetchone()[0]
        wait_until(lambda: prompts(hook_log), timeout=10, what="the check-in's hook record")
        assert prompts(hook_log)[0].startswith("status?\nwhat is done\nwhat is next\nwhat blocks you")
        assert prompts(hook_log)[0].endswith(f"[orch:{marker}]")
        history = tmux(tmux_socket, "capture-pane", "-p", "-J", "-S", "-", "-t", _pane(tmux_socket))
        assert f"[orch:{marker}]" in history


def test_a_reconcile_pass_notices_claudes_limit_without_a_checkin_due(tmp_path, orch, tmux_socket, claude_binary,
                                                                   monkeypatch):
    import time

    monkeypatch.setenv("TZ", "UTC")
    with StandinAPI() as api:
        manifest, hook_log = claude_manifest(tmp_path, claude_binary, api.url, "")
        assert orch("apply", str(manifest)).returncode == 0
        reset = (int(time.time()) // 60 + 120) * 60
        api.limit_until(reset)
        assert orch("send", "real/dev", "hello").returncode == 0
        wait_until(lambda: "hit your" in _screen(tmux_socket), timeout=15, what="Claude's limit screen")
        assert orch.json("status")["projects"][0]["agents"][0]["credit"]["exhausted"] is False
        assert orch("reconcile", str(manifest)).returncode == 0
        credit = orch.json("status")["projects"][0]["agents"][0]["credit"]
        assert credit["exhausted"] is True
        assert credit["until"].startswith(time.strftime("%Y-%m-%dT%H:%M:00", time.gmtime(reset)))
