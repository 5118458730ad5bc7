"""`orch import`'s pure parts: names, tmux's quoted start commands, and a manifest that validates."""

from __future__ import annotations


import pytest

from reconciler.importer import ImportedWindow, agent_name, manifest_text, start_command
from reconciler.manifest.loader import parse_manifest


@pytest.mark.parametrize("window, taken, expected", [
    ("dev", set(), "dev"),
    ("Dev Agent", set(), "dev-agent"),
    ("claude:1", set(), "claude-1"),
    ("***", set(), "agent"),
    ("dev", {"dev"}, "dev-2"),
    ("dev", {"dev", "dev-2"}, "dev-3"),
    ("x" * 60, set(), "x" * 40),
    ("x" * 60, {"x" * 40}, "x" * 38 + "-2"),
])
def test_agent_names_are_valid_and_unique(window, taken, expected):
    assert agent_name(window, set(taken)) == expected


@pytest.mark.parametrize("shown, expected", [
    ('"sleep 300"', "sleep 300"),  # one word: a shell command line, as tmux ran it
    ("claude --dangerously-skip-permissions", "claude --dangerously-skip-permissions"),
    ('"sh -c \'sleep 1; echo\'"', "sh -c 'sleep 1; echo'"),
    ("", None),
])
def test_start_commands_as_tmux_shows_them(shown, expected):
    assert start_command(shown) == expected


def test_the_written_manifest_validates_and_says_what_was_guessed(tmp_path):
    shop = tmp_path / "shop"
    shop.mkdir()
    windows = [
        ImportedWindow(0, "Dev Agent", str(shop), "claude --model \"opus\"", "foreground process", 1, ""),
        ImportedWindow(1, "pm", str(shop), None, "shell", 0, ""),
        ImportedWindow(2, "pm", "", "aider", "start command", 0, "other"),
    ]
    text = manifest_text("my_team-1", windows)
    loaded = parse_manifest(text, tmp_path / "orch.yaml")
    spec = loaded.manifest.spec
    assert loaded.manifest.metadata.name == "my-team-1" and spec.session == "my_team-1"
    assert [a.name for a in spec.agents] == ["dev-agent", "pm", "pm-2"]
    assert spec.agents[0].command == 'claude --model "opus"' and str(spec.agents[0].cwd) == str(shop)
    assert spec.agents[1].command == "sh"
    assert "window 'Dev Agent'" in text and "1 more pane(s)" in text and "from the foreground process" in text
    assert "already managed by orch project 'other'" in text
