"""The check-in and credit planners on plain data."""

from __future__ import annotations

import pytest

from reconciler.model.agents import DesiredProject
from reconciler.model.checkins import CreditHold, FireCheckin, Firing, RecoverFiring, Schedule
from reconciler.plan.checkins import effective_hold, next_due_after, next_wake, plan_checkins
from reconciler.plan.credit import judge_credit, marker_tag, new_output
from tests.unit.test_plan import pane

NOW = 1_800_000_000.0
STARTED = NOW - 100  # when this reconcile/watcher began looking


def desired(policy: str = "fire_once", shared: bool = False, resume: str = "") -> DesiredProject:
    return DesiredProject(name="shop", id="1a2b3c4d", session="shop-1a2b3c4d", manifest_path="/m", agents=(),
                          orch_env=(), missed_policy=policy, credit_shared=shared, resume_note=resume)


def schedule(agent: str = "dev", due: float = NOW, every: float | None = 60.0, sid: int = 1,
             retry_after: float | None = None) -> Schedule:
    return Schedule(sid, "shop", agent, "manifest" if every else "agent", None, every, "status?", due, NOW - 1000,
                    0, retry_after)


def hold(agent: str = "dev", until: float = NOW + 600, source: str = "screen", resumed: bool = False) -> CreditHold:
    return CreditHold("shop", agent, "You've hit your limit · resets 5pm", NOW - 60, until, 0, source, resumed)


PANES = {"dev": pane("dev"), "qa": pane("qa")}


def kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


@pytest.mark.parametrize(
    "schedules, holds, policy, panes, expected",
    [
        ([schedule(due=NOW + 1)], {}, "fire_once", PANES, []),  # not due yet
        ([schedule(due=NOW)], {}, "fire_once", PANES, ["FireCheckin"]),
        ([schedule(due=STARTED + 10)], {}, "skip", PANES, ["FireCheckin"]),  # late but not missed: fire
        ([schedule(due=STARTED - 10)], {}, "skip", PANES, ["SkipCheckin"]),  # missed while nothing ran
        ([schedule(due=STARTED - 10_000)], {}, "fire_once", PANES, ["FireCheckin"]),  # many missed: one firing
        ([schedule()], {"dev": hold()}, "fire_once", PANES, []),  # out of credit: nothing typed
        ([schedule()], {"dev": hold(until=NOW - 1)}, "fire_once", PANES, ["FireCheckin"]),  # reset passed
        ([schedule()], {"dev": hold(source="cleared")}, "fire_once", PANES, ["FireCheckin"]),
        ([schedule()], {"qa": hold()}, "fire_once", PANES, ["FireCheckin"]),  # someone else's limit
        ([schedule()], {}, "fire_once", {"dev": pane("dev", dead=True)}, []),  # wait for the agent
        ([schedule()], {}, "fire_once", {}, []),
        ([schedule(retry_after=NOW + 5)], {}, "fire_once", PANES, []),  # failed recently: retry later
        ([schedule(retry_after=NOW - 1)], {}, "fire_once", PANES, ["FireCheckin"]),
        ([schedule(sid=1), schedule(agent="qa", sid=2)], {}, "fire_once", PANES, ["FireCheckin", "FireCheckin"]),
    ],
)
def test_checkin_table(schedules, holds, policy, panes, expected):
    assert kinds(plan_checkins(desired(policy), schedules, [], panes, holds, NOW, STARTED)) == expected


def test_shared_credit_holds_every_agent_of_the_project():
    actions = plan_checkins(desired(shared=True), [schedule(agent="dev")], [], PANES, {"qa": hold(agent="qa")},
                            NOW, STARTED)
    assert actions == []


def test_missed_and_held_back_firings_reanchor():
    missed = plan_checkins(desired(), [schedule(due=STARTED - 5)], [], PANES, {}, NOW, STARTED)[0]
    held = plan_checkins(desired(), [schedule(due=NOW - 30)], [], PANES, {"dev": hold(until=NOW - 1)}, NOW, STARTED)[0]
    on_time = plan_checkins(desired(), [schedule(due=NOW)], [], PANES, {}, NOW, STARTED)[0]
    assert isinstance(missed, FireCheckin) and missed.reanchor
    assert isinstance(held, FireCheckin) and held.reanchor
    assert isinstance(on_time, FireCheckin) and not on_time.reanchor


def test_an_interrupted_firing_is_recovered_before_its_schedule_fires_again():
    firing = Firing(7, 1, "shop", "dev", NOW - 5, "typing", "abc123", False, None, NOW - 5, "%1")
    actions = plan_checkins(desired(), [schedule(due=NOW - 5)], [firing], PANES, {}, NOW, STARTED)
    assert kinds(actions) == ["RecoverFiring"]
    assert isinstance(actions[0], RecoverFiring) and actions[0].firing is firing


def test_resume_note_once_after_the_reset():
    ended = hold(until=NOW - 1)
    assert kinds(plan_checkins(desired(resume="carry on"), [], [], PANES, {"dev": ended}, NOW, STARTED)) == [
        "SendResumeNote"]
    done = hold(until=NOW - 1, resumed=True)
    assert plan_checkins(desired(resume="carry on"), [], [], PANES, {"dev": done}, NOW, STARTED) == []
    assert plan_checkins(desired(resume=""), [], [], PANES, {"dev": ended}, NOW, STARTED) == []
    still = hold(until=NOW + 1)
    assert plan_checkins(desired(resume="carry on"), [], [], PANES, {"dev": still}, NOW, STARTED) == []


@pytest.mark.parametrize(
    "due, delivered, reanchor, every, expected",
    [
        (NOW, NOW + 0.05, False, 60, NOW + 60),  # on time: keep the cadence
        (NOW, NOW + 90, False, 60, NOW + 150),  # far behind: coalesce, next `every` after delivery
        (NOW - 5000, NOW, True, 60, NOW + 60),  # missed: re-anchored on the delivery
        (NOW, NOW, False, None, None),  # a one-off is done
    ],
)
def test_next_due_after(due, delivered, reanchor, every, expected):
    assert next_due_after(schedule(every=every), due, delivered, reanchor) == expected


def test_next_wake_is_the_earliest_due_retry_or_end_of_hold():
    schedules = [schedule(due=NOW + 50), schedule(due=NOW + 10, retry_after=NOW + 30, sid=2)]
    assert next_wake(schedules, {}, PANES, False, NOW) == NOW + 30
    assert next_wake(schedules, {"dev": hold(until=NOW + 20)}, PANES, False, NOW) == NOW + 20
    assert next_wake([], {}, PANES, False, NOW) is None


def test_overdue_checkins_of_held_or_dead_agents_do_not_spin_the_watcher():
    overdue = [schedule(due=NOW - 30)]
    assert next_wake(overdue, {"dev": hold(until=NOW + 600)}, PANES, False, NOW) == NOW + 600
    assert next_wake(overdue, {}, {"dev": pane("dev", dead=True)}, False, NOW) is None
    assert next_wake(overdue, {"qa": hold(agent="qa", until=NOW + 99)}, PANES, True, NOW) == NOW + 99


def test_effective_hold_prefers_the_longest():
    holds = {"dev": hold(until=NOW + 10), "qa": hold(agent="qa", until=NOW + 99)}
    assert effective_hold("dev", holds, shared=False, now=NOW).until == NOW + 10
    assert effective_hold("dev", holds, shared=True, now=NOW).until == NOW + 99


# -- credit judgement -----------------------------------------------------------------------------


NOTICE = "⎿  Claude AI usage limit reached|1800000600"


def test_new_output_is_what_follows_the_last_marker():
    lines = ["old stuff", f"> x {marker_tag('aaaaaa')}", "reply", f"> y {marker_tag('bbbbbb')}",
             "fresh line"]
    region, marker = new_output(lines)
    assert (region, marker) == (["fresh line"], "bbbbbb")
    region, marker = new_output(["a"] * 30)
    assert marker is None and len(region) == 12


def test_a_new_notice_holds_until_the_stated_reset():
    made = judge_credit("shop", "dev", ["> hi", NOTICE], None, None, (), NOW)
    assert made is not None and made.until == 1800000600 and made.attempt == 0 and made.first_seen == NOW


def test_the_same_notice_again_is_not_a_new_hold():
    stored = judge_credit("shop", "dev", [NOTICE], None, None, (), NOW)
    assert judge_credit("shop", "dev", [NOTICE], stored, None, (), NOW + 5000) is None


def test_a_notice_after_something_typed_after_the_reset_backs_off():
    stored = judge_credit("shop", "dev", [NOTICE], None, None, (), NOW)
    later = stored.until + 10
    again = judge_credit("shop", "dev", [NOTICE], stored, stored.until + 1, (), later)
    assert again is not None and again.attempt == 1
    assert again.until == later + 120  # the printed time has passed: back off (60 s doubling), never "tomorrow"


def test_continuing_shortly_means_the_reset_passed():
    lines = ["⚠ Usage limit reached · limit resets 10am", "Continuing shortly · Esc to cancel"]
    assert judge_credit("shop", "dev", lines, None, None, (), NOW) is None


def test_a_warning_is_not_a_hold():
    assert judge_credit("shop", "dev", ["You've used 97% of your session limit"], None, None, (), NOW) is None


def test_user_patterns_count():
    made = judge_credit("shop", "dev", ["QUOTA EXCEEDED for org"], None, None, (r"QUOTA EXCEEDED",), NOW)
    assert made is not None and made.until == NOW + 60
