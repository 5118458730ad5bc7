"""A generic agent (the toy agent) reports nothing: the screen confirms its deliveries, its state is unknown."""

from __future__ import annotations

import json

from tests.conftest import toy_manifest, tmux, wait_until


def test_a_generic_agents_delivery_is_confirmed_by_the_screen(tmp_path, orch, tmux_socket, orch_home):
    manifest = toy_manifest(tmp_path, agents={"dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    pane = tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_id}").split()[0]
    wait_until(lambda: "ready" in tmux(tmux_socket, "capture-pane", "-p", "-t", pane), what="the prompt")
    assert orch("send", "demo/dev", "hello").returncode == 0
    events = [json.loads(line) for line in orch("events", "demo", "-o", "json").stdout.splitlines()]
    sent = [e for e in events if e["kind"] == "message.delivered"]
    assert [e["data"]["confirmed_by"] for e in sent] == ["screen"]
    assert not list(orch_home.glob("projects/*/agents/*/events.jsonl"))  # nothing injected, no stream


def test_a_generic_agents_state_is_unknown_while_it_lives_and_dead_after(tmp_path, orch, tmux_socket):
    manifest = toy_manifest(tmp_path, agents={"dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    agent = orch.json("status")["projects"][0]["agents"][0]
    assert (agent["state"], agent["state_age_s"]) == ("unknown", None)  # last_activity: tmux's pane activity
    assert " up " in orch("status").stdout
    pane = tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_id}").split()[0]
    tmux(tmux_socket, "respawn-pane", "-k", "-t", pane, "true")
    wait_until(lambda: orch.json("status")["projects"][0]["agents"][0]["state"] == "dead", what="dead")
