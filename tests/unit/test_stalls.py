"""Stalls planned from plain data: the agent's state, since when, now, and what was already said."""

from __future__ import annotations

import pytest

from reconciler.agent_state import TTL_S, AgentState
from reconciler.stalls import EndStall, ReportStall, plan_stalls, stall_message, told_message

T0 = 1_800_000_000.0
AFTER = 900.0
BLOCKED = AgentState("blocked", T0, T0)  # its last sign of progress: its start
WORKING = AgentState("working", T0, T0 + 100, progress=T0 + 100)  # submitted at T0, its last event at T0 + 100
BLOCKED_MSG = stall_message("dev", T0)
WORKING_MSG = stall_message("dev", T0 + 100)


def plan(state, now, reported=None, told=None, escalate_to="pm", agent="dev"):
    states = {agent: state} if state is not None else {}
    actions, wake = plan_stalls("shop", states, {agent: reported}, {agent: told}, AFTER, escalate_to, T0 + now)
    return actions, (None if wake is None else wake - T0)


def report(message, to="pm", record=True, what="blocked"):
    return ReportStall("shop", "dev", message, what, to, record)


@pytest.mark.parametrize(("state", "now", "reported", "told", "escalate_to", "expected", "wake"), [
    # blocked: counted from the moment it blocked
    (BLOCKED, 899, None, None, "pm", [], 900),
    (BLOCKED, 900, None, None, "pm", [report(BLOCKED_MSG)], None),
    (BLOCKED, 5000, None, None, "pm", [report(BLOCKED_MSG)], None),
    # said and told: nothing more while the stall lasts
    (BLOCKED, 901, BLOCKED_MSG, told_message("pm", BLOCKED_MSG), "pm", [], None),
    (BLOCKED, 20000, BLOCKED_MSG, told_message("pm", BLOCKED_MSG), "pm", [], None),
    # recorded but not delivered yet (held for credit, manager not running): told, not recorded again
    (BLOCKED, 950, BLOCKED_MSG, None, "pm", [report(BLOCKED_MSG, record=False)], None),
    # escalate_to changed meanwhile: the new one is told
    (BLOCKED, 950, BLOCKED_MSG, told_message("pm", BLOCKED_MSG), "lead", [report(BLOCKED_MSG, "lead", False)], None),
    # nobody to tell: recorded only, once
    (BLOCKED, 950, None, None, None, [report(BLOCKED_MSG, None)], None),
    (BLOCKED, 950, BLOCKED_MSG, None, None, [], None),
    # the manager itself stalls: recorded, nothing typed into it
    (AgentState("blocked", T0, T0), 950, None, None, "dev", [report(BLOCKED_MSG, None)], None),
    # working: counted from its last event, not from the prompt
    (WORKING, 999, None, None, "pm", [], 1000),
    (WORKING, 1000, None, None, "pm", [report(WORKING_MSG, what="working")], None),
    # silent while working, then it asks for permission: the same stall, not said again
    (AgentState("blocked", T0 + 950, T0 + 950, progress=T0 + 100), 2000, WORKING_MSG, told_message("pm", WORKING_MSG),
     "pm", [], None),
    # blocked after progress: counted from its last progress, so at most stall_after without any
    (AgentState("blocked", T0 + 110, T0 + 110, progress=T0 + 100), 999, None, None, "pm", [], 1000),
    # a working state that decayed to unknown (TTL) is still the same stall
    (AgentState("unknown", T0, T0 + 100, decayed="working", progress=T0 + 100), TTL_S["working"] + 200, WORKING_MSG,
     told_message("pm", WORKING_MSG), "pm", [], None),
    # a new event while working: that stall is over, a new one is counted from it
    (AgentState("working", T0, T0 + 1500, progress=T0 + 1500), 1600, WORKING_MSG, told_message("pm", WORKING_MSG), "pm",
     [EndStall("shop", "dev")], 2400),
    # over: idle, limited, dead (gone from the states), unknown for a generic agent
    (AgentState("idle", T0 + 2000, T0 + 2000), 2001, BLOCKED_MSG, told_message("pm", BLOCKED_MSG), "pm",
     [EndStall("shop", "dev")], None),
    (AgentState("limited", T0 + 2000, T0 + 2000), 2001, BLOCKED_MSG, None, "pm", [EndStall("shop", "dev")], None),
    (None, 2001, BLOCKED_MSG, None, "pm", [EndStall("shop", "dev")], None),
    (AgentState("unknown"), 5000, None, None, "pm", [], None),
    (AgentState("idle", T0, T0), 5000, None, None, "pm", [], None),
    # blocked again later: a new stall, said again
    (AgentState("blocked", T0 + 3000, T0 + 3000), 3900, None, None, "pm",
     [report(stall_message("dev", T0 + 3000))], None),
])
def test_plan_stalls(state, now, reported, told, escalate_to, expected, wake):
    assert plan(state, now, reported, told, escalate_to) == (expected, wake)


def test_the_next_moment_is_the_earliest_stall_to_come():
    states = {"a": AgentState("blocked", T0, T0), "b": AgentState("working", T0, T0 + 50, progress=T0 + 50),
              "c": AgentState("idle", T0)}
    actions, wake = plan_stalls("shop", states, {}, {}, AFTER, "pm", T0 + 10)
    assert actions == [] and wake == T0 + 900


def test_a_stall_said_and_told_stays_quiet_on_every_later_pass():
    reported, told = {}, {}
    said = []
    for now in range(0, 5000, 7):
        actions, _ = plan_stalls("shop", {"dev": BLOCKED}, reported, told, AFTER, "pm", T0 + now)
        for action in actions:
            said.append(now)
            reported["dev"], told["dev"] = action.message, told_message("pm", action.message)
    assert said == [903]


def test_progress_is_the_last_event_that_was_not_a_wait_for_a_person():
    from reconciler.agent_state import agent_state

    def ev(name, at, **data):
        return {"event": name, "time": T0 + at, "data": data}

    events = [ev("SessionStart", 0), ev("UserPromptSubmit", 5),
              ev("Notification", 12, notification_type="permission_prompt"),
              ev("Notification", 70, notification_type="permission_prompt")]
    state = agent_state(events, True, T0, True, T0 + 80)
    assert (state.state, state.since, state.progress) == ("blocked", T0 + 12, T0 + 5)
    state = agent_state(events + [ev("Stop", 90)], True, T0, True, T0 + 95)
    assert (state.state, state.progress) == ("idle", T0 + 90)


def test_a_transcript_written_after_the_last_event_is_progress(tmp_path):
    """Claude Code hooks report nothing between a prompt and its Stop; its transcript shows the turn moves."""
    import json
    import os

    from reconciler.agent_events import events_file
    from reconciler.model.agents import DesiredAgent, DesiredProject
    from reconciler.stalls import with_transcript_progress

    agent = DesiredAgent("dev", None, "claude", str(tmp_path), (), None, "h", (), kind="claude")
    desired = DesiredProject("shop", "1a2b3c4d", "shop-1a2b3c4d", str(tmp_path / "orch.yaml"), (agent,), (),
                             stall_after_s=AFTER)
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text("{}\n")
    stream = events_file(tmp_path, "shop", "1a2b3c4d", "dev")
    stream.parent.mkdir(parents=True)
    stream.write_text(json.dumps({"event": "UserPromptSubmit", "time": T0 + 100,
                                  "data": {"transcript_path": str(transcript)}}) + "\n")
    states = {"dev": WORKING}
    os.utime(transcript, (T0 + 50, T0 + 50))  # written before the last event: no news
    assert with_transcript_progress(tmp_path, desired, states, T0 + 1000)["dev"].progress == T0 + 100
    os.utime(transcript, (T0 + 700, T0 + 700))
    assert with_transcript_progress(tmp_path, desired, states, T0 + 999)["dev"].progress == T0 + 100  # not stuck yet
    moved = with_transcript_progress(tmp_path, desired, states, T0 + 1000)
    assert moved["dev"].progress == T0 + 700
    actions, wake = plan_stalls("shop", moved, {"dev": WORKING_MSG}, {}, AFTER, "pm", T0 + 1000)
    assert actions == [EndStall("shop", "dev")] and wake == T0 + 1600
