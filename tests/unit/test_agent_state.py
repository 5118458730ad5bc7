"""Agent state from its own events: a table of event sequences, liveness and clocks."""

from __future__ import annotations

import pytest

from reconciler.agent_state import STARTING_S, TTL_S, AgentState, agent_state

T0 = 1_800_000_000.0


def ev(name: str, at: float, **data) -> dict:
    return {"event": name, "time": T0 + at, "data": data}


START = ev("SessionStart", 1, source="startup")
PROMPT = ev("UserPromptSubmit", 5, prompt="hi")
STOP = ev("Stop", 9, last_assistant_message="ok")
LIMIT = ev("StopFailure", 9, error="rate_limit", last_assistant_message="You've hit your 5-hour limit · resets 10am")
PERMISSION = ev("Notification", 12, notification_type="permission_prompt", message="Claude needs your permission")
IDLE_NOTE = ev("Notification", 70, notification_type="idle_prompt", message="Claude is waiting for your input")


@pytest.mark.parametrize(("events", "alive", "reports", "now", "expected"), [
    ([], True, True, 10, AgentState("starting", T0, None)),
    ([], True, True, STARTING_S + 1, AgentState("unknown")),  # started long ago and never said anything
    ([], True, False, 10, AgentState("unknown")),  # a generic agent reports nothing
    ([START], True, True, 3, AgentState("idle", T0 + 1, T0 + 1)),
    ([START, PROMPT], True, True, 6, AgentState("working", T0 + 5, T0 + 5)),
    ([START, PROMPT, STOP], True, True, 20, AgentState("idle", T0 + 9, T0 + 9)),
    ([START, PROMPT, LIMIT], True, True, 20, AgentState("limited", T0 + 9, T0 + 9)),
    ([START, PROMPT, ev("StopFailure", 9, error="server_error")], True, True, 20, AgentState("idle", T0 + 9, T0 + 9)),
    ([START, PROMPT, PERMISSION], True, True, 20, AgentState("blocked", T0 + 12, T0 + 12)),
    ([START, PROMPT, PERMISSION, ev("UserPromptSubmit", 30)], True, True, 31,
     AgentState("working", T0 + 30, T0 + 30)),
    ([START, PROMPT, STOP, IDLE_NOTE], True, True, 80, AgentState("idle", T0 + 9, T0 + 70)),  # still idle since 9
    ([START, PROMPT, ev("Notification", 7, notification_type="auth_success")], True, True, 8,
     AgentState("working", T0 + 5, T0 + 7)),  # a notification that changes nothing
    ([START, PROMPT, ev("PreCompact", 8, trigger="auto")], True, True, 9, AgentState("working", T0 + 5, T0 + 8)),
    ([START, PROMPT], True, True, 5 + TTL_S["working"] + 1, AgentState("unknown", T0 + 5, T0 + 5)),  # decayed
    ([START, PROMPT, STOP], False, True, 20, AgentState("dead", None, T0 + 9)),
    ([{"event": "Stop"}, {"time": T0}, START], True, True, 3, AgentState("idle", T0 + 1, T0 + 1)),  # malformed: skipped
])
def test_state_table(events, alive, reports, now, expected):
    assert agent_state(events, alive, T0, reports, T0 + now) == expected


def test_only_the_current_process_counts():
    before_restart = [START, PROMPT]  # the previous process was working when it died
    restarted_at = T0 + 100
    assert agent_state(before_restart, True, restarted_at, True, restarted_at + 2).state == "starting"
    later = before_restart + [ev("SessionStart", 103, source="resume")]
    assert agent_state(later, True, restarted_at, True, restarted_at + 4) == AgentState("idle", T0 + 103, T0 + 103)


def test_age_of_a_state():
    assert AgentState("idle", T0).age(T0 + 7.5) == 7.5
    assert AgentState("unknown").age(T0) is None
