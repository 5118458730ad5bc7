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


@pytest.fixture
def claude_project(tmp_path, orch, tmux_socket, claude_binary):
    """A project with one real Claude Code agent 'dev' (with a brief), applied."""
    api = StandinAPI().start()
    workdir = tmp_path / "wd"
    workdir.mkdir()
    env = claude_env(tmp_path / "claude-home", workdir, api.url)
    own_env = {k: v for k, v in env.items() if os.environ.get(k) != v and k != "TERM"}
    hook_log = tmp_path / "prompts.jsonl"
    settings = prompt_hook_settings(hook_log, settings_file=tmp_path / "settings.json")
    env_yaml = "".join(f"        {key}: {json.dumps(value)}\n" for key, value in sorted(own_env.items()))
    manifest = tmp_path / "orch.yaml"
    manifest.write_text(
        "apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: real\nspec:\n  agents:\n"
        f"    - name: dev\n      command: \"{claude_binary} --dangerously-skip-permissions --settings {settings}\"\n"
        f"      cwd: wd\n      brief: \"You are dev. Reply ok.\"\n      env:\n{env_yaml}"
    )
    result = orch("apply", str(manifest))
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield manifest, hook_log
    finally:
        api.stop()


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
