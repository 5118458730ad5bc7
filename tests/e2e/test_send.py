"""`orch send` against the toy agent on a private tmux server: every way delivery breaks in practice."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import ORCH, tmux, toy_log, toy_manifest, wait_until


@pytest.fixture
def toy(tmp_path, orch, tmux_socket):
    """A project 'demo' with toy agents pm and dev, applied; returns (logs folder, pane id of dev)."""
    manifest = toy_manifest(tmp_path)
    result = orch("apply", str(manifest))
    assert result.returncode == 0, result.stderr
    panes = dict(line.split("\t") for line in tmux(tmux_socket, "list-panes", "-a", "-F",
                                                    "#{window_name}\t#{pane_id}").splitlines())
    wait_until(lambda: "ready" in tmux(tmux_socket, "capture-pane", "-p", "-t", panes["dev"]), what="dev prompt")
    return tmp_path / "logs", panes["dev"]


def texts(log) -> list[str]:
    return [entry["text"] for entry in toy_log(log)]


def test_send_delivers_exactly_once(toy, orch):
    logs, _ = toy
    result = orch("send", "demo/dev", "please run the tests")
    assert result.returncode == 0, result.stderr
    assert texts(logs / "dev.log") == ["please run the tests"]
    assert texts(logs / "pm.log") == []


def test_multi_line_message_is_one_submission(toy, orch):
    logs, _ = toy
    message = "first line\nsecond line; with $(not a command) and `ticks`\n\nlast line"
    assert orch("send", "demo/dev", message).returncode == 0
    assert texts(logs / "dev.log") == [message]


def test_message_from_stdin_and_project_flag(toy, orch):
    logs, _ = toy
    assert orch("send", "-p", "demo", "dev", "-", input="from stdin\n").returncode == 0
    assert texts(logs / "dev.log") == ["from stdin\n"]


def test_copy_mode_is_left_before_typing(toy, orch, tmux_socket):
    logs, pane = toy
    tmux(tmux_socket, "copy-mode", "-t", pane)
    assert tmux(tmux_socket, "display", "-p", "-t", pane, "#{pane_in_mode}").strip() == "1"
    assert orch("send", "demo/dev", "after copy mode").returncode == 0
    assert texts(logs / "dev.log") == ["after copy mode"]
    assert tmux(tmux_socket, "display", "-p", "-t", pane, "#{pane_in_mode}").strip() == "0"


def test_waits_while_a_menu_is_open(toy, orch, tmux_socket):
    logs, pane = toy
    assert orch("send", "demo/dev", "/menu").returncode == 0
    wait_until(lambda: "1. Yes" in tmux(tmux_socket, "capture-pane", "-p", "-t", pane), what="menu")
    waiting = subprocess.Popen([ORCH, "send", "demo/dev", "after the menu"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.8)  # give a wrong implementation the chance to type into the menu
        assert waiting.poll() is None, "send returned while the menu was open"
        assert texts(logs / "dev.log") == ["/menu"]
        tmux(tmux_socket, "send-keys", "-t", pane, "1")
        assert waiting.wait(timeout=30) == 0, waiting.stderr.read()
    finally:
        waiting.kill()
    assert texts(logs / "dev.log") == ["/menu", "after the menu"]


def test_never_types_over_someone_elses_input(toy, orch, tmux_socket):
    logs, pane = toy
    tmux(tmux_socket, "send-keys", "-t", pane, "-l", "half a thought")
    wait_until(lambda: "half a thought" in tmux(tmux_socket, "capture-pane", "-p", "-t", pane))
    result = orch("send", "demo/dev", "from orch", "--timeout", "1")
    assert result.returncode == 1
    assert "someone is typing" in result.stderr
    assert texts(logs / "dev.log") == []
    assert "half a thought" in tmux(tmux_socket, "capture-pane", "-p", "-t", pane)


def test_concurrent_sends_never_merge(toy, orch):
    logs, _ = toy
    messages = [f"message number {i}" for i in range(5)]
    procs = [subprocess.Popen([ORCH, "send", "demo/dev", m], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for m in messages]
    assert [p.wait(timeout=60) for p in procs] == [0] * 5
    assert sorted(texts(logs / "dev.log")) == sorted(messages)


def test_send_waits_for_a_just_started_agent(tmp_path, orch, tmux_socket):
    manifest = toy_manifest(tmp_path, agents={"slow": ""})
    manifest.write_text(manifest.read_text().replace("slow.log", "slow.log --startup-delay 2"))
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("send", "demo/slow", "are you up?").returncode == 0
    assert texts(tmp_path / "logs" / "slow.log") == ["are you up?"]


def test_inside_an_agent_window_no_address_is_needed(toy, orch, monkeypatch):
    logs, _ = toy
    monkeypatch.setenv("ORCH_PROJECT", "demo")
    monkeypatch.setenv("ORCH_AGENT", "pm")
    assert orch("send", "note to self").returncode == 0
    assert orch("send", "dev", "to a colleague").returncode == 0
    assert texts(logs / "pm.log") == ["note to self"]
    assert texts(logs / "dev.log") == ["to a colleague"]


def test_unknown_agent_is_a_clear_error(toy, orch):
    result = orch("send", "demo/nobody", "hello")
    assert result.returncode == 1
    assert "no running agent demo/nobody" in result.stderr and "dev" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_address_is_rejected_before_tmux(orch):
    result = orch("send", "demo/../etc", "hello")
    assert result.returncode == 1 and "not a valid agent name" in result.stderr


def test_a_menu_that_opens_after_the_paste_gets_no_enter(toy, orch, tmux_socket):
    """A permission prompt popping up between the readiness check and the Enter is never confirmed."""
    logs, pane = toy
    assert orch("send", "demo/dev", "/menu-on-paste PERMISSION").returncode == 0
    result = orch("send", "demo/dev", "this asks for PERMISSION")
    assert result.returncode == 1
    assert "menu or dialog opened" in result.stderr and "nothing more was typed" in result.stderr
    screen = tmux(tmux_socket, "capture-pane", "-p", "-t", pane)
    assert "Do you want to proceed?" in screen and "(chose" not in screen
    assert texts(logs / "dev.log") == ["/menu-on-paste PERMISSION"]


def test_a_send_that_typed_nothing_says_so(toy, orch, tmux_socket):
    logs, pane = toy
    tmux(tmux_socket, "send-keys", "-t", pane, "-l", "a draft")
    wait_until(lambda: "a draft" in tmux(tmux_socket, "capture-pane", "-p", "-t", pane))
    result = orch("send", "demo/dev", "from orch", "--timeout", "0.5")
    assert result.returncode == 1 and "nothing was typed" in result.stderr
