"""The planner on plain data: desired + observed + facts + now -> actions. No tmux, no clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.model.agents import (
    CreateSession, CreateWindow, DeferRestart, DeliverBrief, DesiredAgent, DesiredProject, KillWindow,
    Observed, ObservedPane, ReplaceAgent, RestartAgent,
)
from reconciler.plan.agents import plan_destroy, plan_project, restart_delay
from reconciler.model.agents import AgentFacts

NOW = 1_800_000_000.0
SESSION = "shop-1a2b3c4d"


def agent(name: str, command: str = "claude", brief: str | None = None, spec_hash: str | None = None) -> DesiredAgent:
    return DesiredAgent(name=name, role=None, command=command, cwd="/work", env=(), brief=brief,
                        spec_hash=spec_hash or f"h-{name}-{command}", spec=(("command", command),))


def project(*agents: DesiredAgent, session: str = SESSION) -> DesiredProject:
    return DesiredProject(name="shop", id="1a2b3c4d", session=session, manifest_path="/m/orch.yaml",
                          agents=agents, orch_env=())


_pane_counter = iter(range(1000))


def pane(agent_name: str = "", *, session: str = SESSION, project_name: str = "shop", spec: str | None = None,
         dead: bool = False, status: int | None = None, dead_time: float | None = None, index: int = 0,
         session_project: str = "shop", pid: int = 4000) -> ObservedPane:
    number = next(_pane_counter)
    return ObservedPane(
        session_id="$1", session_name=session, session_project=session_project, window_id=f"@{number}",
        window_index=index, window_name=agent_name or "bash", pane_id=f"%{number}", pane_pid=pid,
        pane_tty="/dev/pts/9", dead=dead, dead_status=status, dead_time=dead_time, in_mode=False,
        project=project_name if agent_name else "", agent=agent_name,
        spec_hash=spec if spec is not None else (f"h-{agent_name}-claude" if agent_name else ""),
    )


def kinds(plan) -> list[tuple[str, str]]:
    return [(type(a).__name__, a.target) for a in plan.actions]


def test_nothing_exists_creates_session_and_every_window():
    plan = plan_project(project(agent("pm"), agent("dev")), Observed(), {}, NOW)
    assert kinds(plan) == [("CreateSession", f"session {SESSION}"), ("CreateWindow", "window pm"),
                           ("CreateWindow", "window dev")]
    assert plan.counts() == {"add": 3, "change": 0, "destroy": 0}


def test_converged_plans_nothing():
    plan = plan_project(project(agent("pm"), agent("dev")), Observed((pane("pm"), pane("dev", index=1))), {}, NOW)
    assert plan.actions == () and plan.problems == ()


def test_apply_twice_plans_nothing():
    """Simulate apply: every planned window now exists with the planned hash; the second plan is empty."""
    desired = project(agent("pm", brief="hi"), agent("dev"))
    first = plan_project(desired, Observed(), {}, NOW)
    windows = [a for a in first.actions if isinstance(a, CreateWindow)]
    created = tuple(pane(a.agent.name, spec=a.agent.spec_hash, pid=100 + i) for i, a in enumerate(windows))
    facts = {"pm": AgentFacts("shop", "pm", started_at=NOW, briefed_pane=created[0].pane_id, briefed_pid=100)}
    second = plan_project(desired, Observed(created), facts, NOW + 1)
    assert second.actions == ()


@pytest.mark.parametrize(
    "observed, expected",
    [
        ((), [("CreateSession", f"session {SESSION}"), ("CreateWindow", "window pm")]),
        ((pane("other-thing", project_name="shop"),),
         [("KillWindow", "window other-thing"), ("CreateWindow", "window pm")]),
        ((pane("pm", spec="old"),), [("ReplaceAgent", "window pm")]),
        ((pane("pm"), pane("pm", index=3)), [("KillWindow", "window pm")]),
        ((pane("pm", session="shop-old"),), [("RenameSession", f"session {SESSION}")]),  # agents keep running
        ((pane("pm", session="shop-old"), pane("qa", session="shop-older")),
         [("KillWindow", "window pm"), ("KillWindow", "window qa"), ("CreateSession", f"session {SESSION}"),
          ("CreateWindow", "window pm")]),  # which one to keep is not clear: start clean
        ((pane("pm", project_name="other", session="other-1", session_project="other"),),
         [("CreateSession", f"session {SESSION}"), ("CreateWindow", "window pm")]),
        ((pane("", session=SESSION),), [("CreateWindow", "window pm")]),
    ],
    ids=["empty", "removed-agent", "spec-changed", "duplicate", "renamed-session", "two-old-sessions", "other-project",
         "user-window"],
)
def test_drift_table(observed, expected):
    assert kinds(plan_project(project(agent("pm")), Observed(observed), {}, NOW)) == expected


def test_user_window_in_our_session_is_never_touched():
    user = pane("", session=SESSION)
    plan = plan_destroy("shop", SESSION, Observed((user, pane("pm"))))
    assert [a.pane.pane_id for a in plan.actions if isinstance(a, KillWindow)] != [user.pane_id]
    assert all(a.pane.agent for a in plan.actions)


def test_session_taken_by_someone_else_is_a_problem_not_an_action():
    plan = plan_project(project(agent("pm")), Observed((pane("", session_project=""),)), {}, NOW)
    assert plan.actions == ()
    assert "already exists" in plan.problems[0].message


def test_replace_carries_the_explanation():
    plan = plan_project(project(agent("pm")), Observed((pane("pm", spec="old"),)), {}, NOW,
                        explain=lambda name: (f"command: 'a' → 'b' for {name}",))
    assert isinstance(plan.actions[0], ReplaceAgent)
    assert plan.actions[0].reason == "command: 'a' → 'b' for pm"
    assert plan.counts() == {"add": 1, "change": 0, "destroy": 1}


@pytest.mark.parametrize("streak, delay", [(0, 1), (1, 2), (2, 4), (5, 32), (8, 256), (9, 300), (30, 300)])
def test_backoff_doubles_from_one_second_to_five_minutes(streak, delay):
    assert restart_delay(streak) == delay


@pytest.mark.parametrize(
    "started_before_death, streak, seconds_since_death, expected",
    [
        (5, 0, 0.5, "DeferRestart"),  # first quick crash: wait 1 s
        (5, 0, 1.0, "RestartAgent"),
        (5, 3, 7.9, "DeferRestart"),  # fourth quick crash: wait 8 s
        (5, 3, 8.0, "RestartAgent"),
        (700, 6, 1.0, "RestartAgent"),  # ran 10+ minutes: the backoff starts again at 1 s
        (None, 6, 1.0, "RestartAgent"),  # nothing known about its start: treat as healthy
    ],
)
def test_crash_loop_backoff(started_before_death, streak, seconds_since_death, expected):
    died = NOW - seconds_since_death
    started = None if started_before_death is None else died - started_before_death
    facts = {"pm": AgentFacts("shop", "pm", started_at=started, crash_streak=streak)}
    plan = plan_project(project(agent("pm")), Observed((pane("pm", dead=True, status=1, dead_time=died),)), facts, NOW)
    assert type(plan.actions[0]).__name__ == expected


def test_restart_increments_the_streak_only_for_quick_crashes():
    died = NOW - 100
    quick = {"pm": AgentFacts("shop", "pm", started_at=died - 5, crash_streak=2)}
    healthy = {"pm": AgentFacts("shop", "pm", started_at=died - 5000, crash_streak=2)}
    dead = Observed((pane("pm", dead=True, status=1, dead_time=died),))
    assert plan_project(project(agent("pm")), dead, quick, NOW).actions[0].crash_streak == 3
    assert plan_project(project(agent("pm")), dead, healthy, NOW).actions[0].crash_streak == 1


def test_deferred_restart_says_until_when():
    died = NOW - 0.25
    plan = plan_project(project(agent("pm")), Observed((pane("pm", dead=True, status=3, dead_time=died),)),
                        {"pm": AgentFacts("shop", "pm", started_at=died - 1)}, NOW)
    action = plan.actions[0]
    assert isinstance(action, DeferRestart) and action.until == died + 1 and action.exit_status == 3


@pytest.mark.parametrize(
    "tmux_dead_time, seen_dead_ago, seen_pid, expected, until_from_now",
    [
        # tmux has not reaped the process: no exit time, and orch never saw it die (a read-only
        # `orch plan`): restart, never "held by crash-loop backoff" for ever
        (None, None, None, "RestartAgent", None),
        (None, 0.25, 4000, "DeferRestart", 0.75),  # orch first saw it dead 0.25 s ago: that anchors the 1 s backoff
        (None, 1.0, 4000, "RestartAgent", None),  # ... and 1 s later it is restarted
        (None, 0.25, 3999, "RestartAgent", None),  # a sighting of the process before (another pid) does not count
        (NOW - 0.25, 0.75, 4000, "DeferRestart", 0.25),  # both known: the earlier one
        (NOW - 0.75, 0.25, 4000, "DeferRestart", 0.25),
    ],
)
def test_a_death_without_a_time_from_tmux_is_anchored_where_orch_first_saw_it(
        tmux_dead_time, seen_dead_ago, seen_pid, expected, until_from_now):
    seen = None if seen_dead_ago is None else NOW - seen_dead_ago
    facts = {"pm": AgentFacts("shop", "pm", started_at=NOW - 5, seen_dead_at=seen, seen_dead_pid=seen_pid)}
    dead = Observed((pane("pm", dead=True, status=None, dead_time=tmux_dead_time, pid=4000),))
    action = plan_project(project(agent("pm")), dead, facts, NOW).actions[0]
    assert type(action).__name__ == expected
    if until_from_now is not None:
        assert action.until == pytest.approx(NOW + until_from_now)


@pytest.mark.parametrize(
    "facts, deliver, expected",
    [
        (None, True, ["DeliverBrief"]),  # fresh process never briefed
        (AgentFacts("shop", "pm", briefed_pane="%X", briefed_pid=4000), True, ["DeliverBrief"]),  # other pane
        (AgentFacts("shop", "pm", briefed_pane="PANE", briefed_pid=3999), True, ["DeliverBrief"]),  # restarted
        (AgentFacts("shop", "pm", briefed_pane="PANE", briefed_pid=4000), True, []),  # same process: never twice
        (None, False, []),
    ],
)
def test_brief_goes_once_to_each_fresh_process(facts, deliver, expected):
    observed_pane = pane("pm", pid=4000)
    if facts is not None and facts.briefed_pane == "PANE":
        facts = replace(facts, briefed_pane=observed_pane.pane_id)
    plan = plan_project(project(agent("pm", brief="You are the PM")), Observed((observed_pane,)),
                        {"pm": facts} if facts else {}, NOW, deliver_briefs=deliver)
    assert [type(a).__name__ for a in plan.actions] == expected


def test_dead_agent_gets_no_brief_until_restarted():
    plan = plan_project(project(agent("pm", brief="b")), Observed((pane("pm", dead=True, dead_time=NOW - 10),)), {}, NOW)
    assert [type(a) for a in plan.actions] == [RestartAgent]


def test_destroy_kills_only_this_projects_agent_windows():
    mine, other, user = pane("pm"), pane("pm", project_name="other", session="other-1"), pane("")
    plan = plan_destroy("shop", SESSION, Observed((mine, other, user)))
    assert [a.pane for a in plan.actions] == [mine]


def test_plan_is_fast_enough_for_thousands_of_cases():
    """Not a timing assert: a smoke test that a 10-agent plan is plain computation (no I/O)."""
    desired = project(*(agent(f"a{i}") for i in range(10)))
    observed = Observed(tuple(pane(f"a{i}", index=i) for i in range(10)))
    for _ in range(1000):
        assert plan_project(desired, observed, {}, NOW).actions == ()


def test_new_session_comes_before_its_windows():
    plan = plan_project(project(agent("a"), agent("b")), Observed(), {}, NOW)
    assert isinstance(plan.actions[0], CreateSession)
    assert all(isinstance(a, CreateWindow) for a in plan.actions[1:])


def test_deliver_brief_only_when_alive_and_spec_matches():
    plan = plan_project(project(agent("pm", brief="b")), Observed((pane("pm", spec="stale"),)), {}, NOW)
    assert not any(isinstance(a, DeliverBrief) for a in plan.actions)


OTHER_HOME_SESSION = "shop-9f9f9f9f"


def replace_session(observed_pane: ObservedPane, session: str) -> ObservedPane:
    from dataclasses import replace

    return replace(observed_pane, session_name=session)


def foreign(agent_name: str, **kw) -> ObservedPane:
    """A pane of another ORCH_HOME's project that is also called `shop` (its own id)."""
    from dataclasses import replace

    return replace(pane(agent_name, session=OTHER_HOME_SESSION, **kw), project_id="9f9f9f9f",
                   session_project_id="9f9f9f9f")


def mine(agent_name: str, project_id: str = "1a2b3c4d", **kw) -> ObservedPane:
    from dataclasses import replace

    return replace(pane(agent_name, **kw), project_id=project_id, session_project_id=project_id)


@pytest.mark.parametrize(("observed", "expected"), [
    # another home's `shop` only: ours is created beside it, theirs is neither renamed nor killed
    ((foreign("pm"), foreign("dev", index=1)),
     [("CreateSession", f"session {SESSION}"), ("CreateWindow", "window pm"), ("CreateWindow", "window dev")]),
    # both: ours is converged, theirs (an agent ours does not have, too) is left alone
    ((mine("pm"), mine("dev", index=1), foreign("pm"), foreign("qa", index=2)), []),
    # marked by an older orch (no id) in our session: ours
    ((mine("pm", project_id=""), mine("dev", project_id="", index=1)), []),
    # no id outside our session: not ours (it might be anyone's)
    ((replace_session(mine("pm", project_id=""), "shop-old"),),
     [("CreateSession", f"session {SESSION}"), ("CreateWindow", "window pm"), ("CreateWindow", "window dev")]),
], ids=["theirs-only", "both", "unmarked-in-our-session", "unmarked-elsewhere"])
def test_another_homes_project_of_the_same_name_is_not_ours(observed, expected):
    desired = project(agent("pm"), agent("dev"))
    plan = plan_project(desired, Observed(observed).owned("shop", desired.id, desired.session), {}, NOW)
    assert kinds(plan) == expected
    killed = plan_destroy("shop", SESSION, Observed(observed).owned("shop", desired.id, SESSION)).actions
    assert all(a.pane.session_name == SESSION for a in killed)
    assert len(killed) == (0 if expected else 2)


def hand_made(window_name: str, index: int) -> ObservedPane:
    """A window of a session orch did not create: no marks at all."""
    return replace(pane("", session_project="", index=index), window_name=window_name)


def test_adopt_takes_over_windows_named_after_agents_or_their_roles_and_creates_the_rest():
    desired = project(agent("pm"), replace(agent("dev-agent"), role="Dev Agent"), agent("qa"))
    observed = Observed((hand_made("Dev Agent", 0), hand_made("pm", 1), hand_made("htop", 2)))
    plan = plan_project(desired, observed, {}, NOW, adopt=True)
    assert plan.problems == ()
    assert kinds(plan) == [("AdoptSession", f"session {SESSION}"), ("AdoptWindow", "window dev-agent"),
                           ("AdoptWindow", "window pm"), ("CreateWindow", "window qa")]
    assert "renamed from 'Dev Agent'" in plan.actions[1].reason  # htop matches no agent: left alone


def test_adopt_never_takes_a_session_another_project_owns():
    observed = Observed((pane("", session_project="blog"),))
    plan = plan_project(project(agent("pm")), observed, {}, NOW, adopt=True)
    assert plan.actions == () and "belongs to orch project 'blog'" in plan.problems[0].message


@pytest.mark.parametrize(
    "restart, streak, fresh, why",
    [
        ("resume", 0, False, ""),  # the first death: resume the conversation
        ("resume", 2, False, ""),  # died quickly twice on resume: still resume
        ("resume", 3, True, "resuming died 3 times in a row"),  # the third quick death on resume: fresh
        ("resume", 5, True, "resuming died 5 times in a row"),
        ("fresh", 0, True, ""),  # asked for: always fresh, nothing to say
    ],
)
def test_restart_resumes_until_resuming_crash_loops(restart, streak, fresh, why):
    died = NOW - 400  # past every backoff
    facts = {"pm": AgentFacts("shop", "pm", started_at=died - 5, crash_streak=streak)}
    desired = project(replace(agent("pm"), restart=restart))
    action = plan_project(desired, Observed((pane("pm", dead=True, status=1, dead_time=died),)), facts, NOW).actions[0]
    assert isinstance(action, RestartAgent)
    assert (action.fresh, action.why_fresh) == (fresh, why)
    assert ("fresh" in action.reason) == bool(why)


def test_a_healthy_run_resumes_again():
    died = NOW - 100
    facts = {"pm": AgentFacts("shop", "pm", started_at=died - 5000, crash_streak=7)}
    action = plan_project(project(agent("pm")), Observed((pane("pm", dead=True, status=1, dead_time=died),)),
                          facts, NOW).actions[0]
    assert isinstance(action, RestartAgent) and not action.fresh


@pytest.mark.parametrize(
    "dead, busy, allow, expected, disruptive",
    [
        (False, {}, False, "ReplaceAgent", True),  # idle, or reports nothing (generic): replaced, flagged
        (False, {"pm": "working"}, False, "PendingReplace", True),  # mid-turn: waits for idle
        (False, {"pm": "blocked"}, False, "PendingReplace", True),
        (False, {"pm": "working"}, True, "ReplaceAgent", True),  # apply --allow-restart
        (True, {"pm": "working"}, False, "ReplaceAgent", False),  # dead: no conversation to lose
        (False, {"dev": "working"}, False, "ReplaceAgent", True),  # another agent's state counts not
    ],
)
def test_a_replacement_that_ends_a_live_conversation_is_flagged_and_waits_for_idle(dead, busy, allow, expected,
                                                                                    disruptive):
    observed = Observed((pane("pm", spec="old", dead=dead, status=0 if dead else None, dead_time=NOW - 900),))
    plan = plan_project(project(agent("pm")), observed, {}, NOW, busy=busy, allow_restart=allow,
                        explain=lambda name: ("command changed",))
    [action] = plan.actions
    assert type(action).__name__ == expected and action.disruptive is disruptive
    if expected == "PendingReplace":
        assert "pending: the agent is " + busy["pm"] in action.reason and "--allow-restart" in action.reason
        assert plan.counts() == {"add": 0, "change": 0, "destroy": 0}


def test_plan_text_and_json_mark_a_disruptive_line():
    from reconciler.cli.render import plan_document, plan_text

    desired = project(agent("pm"), agent("dev"))
    observed = Observed((pane("pm", spec="old"), pane("dev", spec="old", index=1)))
    plan = plan_project(desired, observed, {}, NOW, busy={"dev": "working"}, explain=lambda name: ("command changed",))
    text = plan_text(plan, desired)
    assert "-/+ window pm (restarts a live agent)" in text
    assert "-/+ window dev (restarts a live agent)" in text and "pending: the agent is working" in text
    actions = plan_document(plan)["actions"]
    assert [(a["kind"], a.get("disruptive")) for a in actions] == [("ReplaceAgent", True), ("PendingReplace", True)]
