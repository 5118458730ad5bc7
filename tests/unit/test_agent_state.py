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
    ([START, PROMPT], True, True, 5 + TTL_S["working"] + 1, AgentState("unknown", T0 + 5, T0 + 5, decayed="working")),  # decayed
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


# -- a limit from the agent's own report (StopFailure rate_limit) ---------------------------------

from reconciler import drivers  # noqa: E402
from reconciler.model.checkins import CreditHold  # noqa: E402
from reconciler.plan.credit import judge_reported_limit  # noqa: E402

NOON = 1_796_212_800.0  # 2026-12-02 12:00 UTC


def failure(at: float, text: str = "You've hit your 5-hour limit · resets 2pm (UTC)") -> dict:
    return {"event": "StopFailure", "time": at, "data": {"error": "rate_limit", "last_assistant_message": text}}


def judged(events, stored=None, now=NOON + 10):
    return judge_reported_limit("p", "dev", events, stored, now, "UTC", drivers.CLAUDE)


def test_the_agents_own_limit_report_holds_it_until_the_reset_it_names():
    hold = judged([START, PROMPT, failure(NOON)])
    assert hold == CreditHold("p", "dev", "You've hit your 5-hour limit · resets 2pm (UTC)", NOON, NOON + 7200, 0,
                              "agent")


def test_no_report_or_one_already_held_changes_nothing():
    assert judged([START, PROMPT, STOP]) is None
    assert judged([ev("StopFailure", 9, error="server_error")]) is None
    held = CreditHold("p", "dev", "x", NOON, NOON + 7200, 0, "agent")
    assert judged([failure(NOON)], held) is None
    cleared = CreditHold("p", "dev", "x", NOON, NOON + 20, 0, "cleared")  # `orch credit clear`: stays cleared
    assert judged([failure(NOON)], cleared, now=NOON + 30) is None
    seen_on_screen_later = CreditHold("p", "dev", "⎿  x", NOON + 2, NOON + 7200, 0, "screen")
    assert judged([failure(NOON)], seen_on_screen_later) is None


def test_a_new_report_after_the_reset_backs_off_and_one_without_a_time_too():
    ended = CreditHold("p", "dev", "x", NOON - 7200, NOON - 60, 0, "agent")
    again = judged([failure(NOON, "You've hit your 5-hour limit · resets 11:59am (UTC)")], ended, now=NOON + 5)
    assert (again.first_seen, again.attempt, again.until) == (NOON, 1, NOON + 24 * 3600 - 60)  # tomorrow 11:59
    bare = judged([failure(NOON, "")])
    assert (bare.notice, bare.until) == ("usage limit reached", NOON + 10 + 60)


def test_the_same_report_after_its_reset_backs_off_never_waits_for_tomorrow():
    """The prompt typed after the 2pm reset failed again with the same notice: it still names 2pm,
    read against when it was first seen, so it has passed: back off (2 min on the second attempt)."""
    text = "You've hit your 5-hour limit · resets 2pm (UTC)"
    ended = CreditHold("p", "dev", text, NOON, NOON + 7200, 0, "agent")
    after = NOON + 7200 + 30
    again = judged([failure(NOON), failure(after, text)], ended, now=after + 1)
    assert (again.first_seen, again.attempt, again.until) == (NOON, 1, after + 1 + 120)
    assert judged([failure(NOON), failure(after, text)], again, now=after + 5) is None  # judged once


# -- check-ins wait for an agent that reports a turn under way (checkin_policy.when: idle) ------------

from dataclasses import replace  # noqa: E402

from reconciler.plan.checkins import next_wake, plan_checkins  # noqa: E402
from tests.unit.test_plan import pane  # noqa: E402
from tests.unit.test_plan_checkins import NOW, PANES, STARTED, desired, hold, kinds, schedule  # noqa: E402


@pytest.mark.parametrize(("when", "busy", "due", "expected"), [
    ("idle", frozenset({"dev"}), NOW - 5, []),  # in a turn: wait
    ("idle", frozenset({"dev"}), NOW - 600, ["FireCheckin"]),  # waited max_wait (10 min): typed anyway
    ("idle", frozenset(), NOW - 5, ["FireCheckin"]),  # idle, or reports nothing
    ("idle", frozenset({"qa"}), NOW - 5, ["FireCheckin"]),  # someone else's turn
    ("any", frozenset({"dev"}), NOW - 5, ["FireCheckin"]),
])
def test_a_checkin_waits_for_its_agents_turn_to_end(when, busy, due, expected):
    project = replace(desired(), checkin_when=when, checkin_max_wait_s=600.0)
    assert kinds(plan_checkins(project, [schedule(due=due)], [], PANES, {}, NOW, STARTED, busy)) == expected


def test_a_waiting_checkin_wakes_the_watcher_at_its_max_wait_not_at_once():
    project = replace(desired(), checkin_max_wait_s=600.0)
    waiting = next_wake([schedule(due=NOW - 5)], {}, PANES, False, NOW, project, frozenset({"dev"}))
    assert waiting == NOW - 5 + 600.0
    assert next_wake([schedule(due=NOW - 5)], {}, PANES, False, NOW, project, frozenset()) == NOW - 5


def test_a_hold_from_the_agents_own_report_gets_the_resume_note_too():
    project = desired(resume="carry on")
    for source in ("screen", "agent"):
        actions = plan_checkins(project, [], [], {"dev": pane("dev")}, {"dev": hold(until=NOW - 1, source=source)},
                                NOW, STARTED)
        assert kinds(actions) == ["SendResumeNote"]
