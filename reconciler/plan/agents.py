"""The planner: desired + observed + remembered facts + now -> the actions that converge them.

Pure: no tmux, no git, no clock, no database. Everything it needs comes in as arguments, so
it is tested on plain data tables (tests/unit/test_plan.py).
"""

from __future__ import annotations

from typing import Callable, Mapping

from reconciler.model.agents import (
    Action, AdoptSession, AdoptWindow, AgentFacts, CreateSession, CreateWindow, DeferRestart, DeliverBrief, DesiredProject, KillWindow,
    Observed, ObservedPane, PendingReplace, Plan, Problem, RenameSession, ReplaceAgent, RestartAgent,
)

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0
HEALTHY_RUN_S = 600.0  # an agent that ran this long before dying starts a fresh backoff
RESUME_TRIES = 3  # quick deaths in a row on resume after which a restart starts a fresh conversation

Explain = Callable[[str], tuple[str, ...]]


def restart_delay(crash_streak: int) -> float:
    """Crash-loop backoff: 1 s, doubling with each quick crash, capped at 5 min."""
    return min(BACKOFF_FIRST_S * (2 ** max(crash_streak, 0)), BACKOFF_MAX_S)


def plan_project(
    desired: DesiredProject,
    observed: Observed,
    facts: Mapping[str, AgentFacts],
    now: float,
    *,
    deliver_briefs: bool = True,
    explain: Explain = lambda name: (),
    adopt: bool = False,
    busy: Mapping[str, str] | None = None,
    allow_restart: bool = False,
) -> Plan:
    """Actions that make tmux match `desired`. `explain(agent)` says why a spec changed. `adopt`:
    a session of the manifest's name that orch does not own is taken over, its windows kept.
    `busy`: agent -> the state it reports when that is not idle; replacing such a live agent
    waits (PendingReplace) unless `allow_restart`. An agent that reports nothing is replaced."""
    project = desired.name
    problems: list[Problem] = []
    actions: list[Action] = []

    session_pane = observed.session_named(desired.session)
    adopted: dict[str, ObservedPane] = {}
    if adopt and session_pane is not None and not session_pane.session_project \
            and not session_pane.session_project_id:  # not another ORCH_HOME's either
        actions.append(AdoptSession(project, session_pane.session_id, desired.session))
        adopted = adoptable_windows(observed, desired)
        actions += [AdoptWindow(project, agent, pane) for name, pane in adopted.items()
                    if (agent := desired.agent(name)) is not None]
    elif session_pane is not None and session_pane.session_project != project:
        owner = (f"orch project {session_pane.session_project!r}" if session_pane.session_project
                 else "another ORCH_HOME's orch project" if session_pane.session_project_id else "not orch")
        problems.append(Problem(project, (
            f"tmux session {desired.session!r} already exists and belongs to {owner}; "
            "rename it, or set another spec.session in the manifest")))
        return Plan(project, desired.session, problems=tuple(problems))

    renamed_from = None
    if session_pane is None:
        ours = observed.sessions_of(project)
        if len(ours) == 1:  # renamed by a user, or spec.session changed: rename it back, keep the agents
            renamed_from, session_id = next(iter(ours.items()))
            actions.append(RenameSession(project, session_id, renamed_from, desired.session))
        else:
            actions.append(CreateSession(project, desired.session))

    kept, doomed = _one_pane_per_agent(observed.agent_panes(project), desired, renamed_from)
    actions[:0] = doomed

    for agent in desired.agents:
        pane = kept.get(agent.name)
        if agent.name in adopted:
            continue
        if pane is None:
            actions.append(CreateWindow(project, desired.session, agent))
        elif pane.spec_hash != agent.spec_hash:
            state = (busy or {}).get(agent.name)
            if not pane.dead and state is not None and not allow_restart:
                actions.append(PendingReplace(project, agent.name, explain(agent.name), state))
            else:
                actions.append(ReplaceAgent(project, agent, pane, explain(agent.name), disruptive=not pane.dead))
        elif pane.dead:
            actions.append(_restart_or_wait(project, agent, pane, facts.get(agent.name), now))
        elif deliver_briefs and agent.brief and not _briefed(facts.get(agent.name), pane):
            actions.append(DeliverBrief(project, agent, pane))
    return Plan(project, desired.session, tuple(actions), tuple(problems))


def adoptable_windows(observed: Observed, desired: DesiredProject) -> dict[str, ObservedPane]:
    """agent -> the first pane of the unmarked window in the manifest's session that is named after
    it (or after its role, as `orch import` writes it). Windows matching no agent are left alone."""
    found: dict[str, ObservedPane] = {}
    for pane in observed.panes:
        if pane.session_name != desired.session or pane.project or pane.project_id:
            continue
        for agent in desired.agents:
            if agent.name not in found and pane.window_name in (agent.name, agent.role) and \
                    pane.window_id not in {p.window_id for p in found.values()}:
                found[agent.name] = pane
                break
    return found


def plan_destroy(project: str, session: str, observed: Observed) -> Plan:
    """Kill every window orch made for `project`; the session goes with its last window."""
    actions = tuple(
        KillWindow(project, pane.agent, pane, "project destroyed") for pane in observed.agent_panes(project)
    )
    return Plan(project, session, actions)


def _one_pane_per_agent(
    panes: tuple[ObservedPane, ...], desired: DesiredProject, renamed_from: str | None = None
) -> tuple[dict[str, ObservedPane], list[Action]]:
    """The window each desired agent keeps, and kills for the rest (removed, moved, duplicated)."""
    home = {desired.session, renamed_from}
    kept: dict[str, ObservedPane] = {}
    doomed: list[Action] = []
    for pane in sorted(panes, key=lambda p: (p.session_name not in home, p.window_index)):
        if desired.agent(pane.agent) is None:
            doomed.append(KillWindow(desired.name, pane.agent, pane, "agent removed from the manifest"))
        elif pane.session_name not in home:
            doomed.append(KillWindow(desired.name, pane.agent, pane, f"session is now {desired.session}"))
        elif pane.agent in kept:
            doomed.append(KillWindow(desired.name, pane.agent, pane, "duplicate window of the same agent"))
        else:
            kept[pane.agent] = pane
    return kept, doomed


def death_time(pane: ObservedPane, facts: AgentFacts | None) -> float | None:
    """When the pane's process died: the earlier of tmux's time and the first moment orch saw it
    dead (tmux gives no time while it has not reaped the process)."""
    seen = facts.seen_dead_at if facts is not None and facts.seen_dead_pid == pane.pane_pid else None
    known = [t for t in (pane.dead_time, seen) if t is not None]
    return min(known) if known else None


def _restart_or_wait(project, agent, pane: ObservedPane, facts: AgentFacts | None, now: float) -> Action:
    died_at = death_time(pane, facts)  # None: nobody saw it die (a read-only `orch plan`): restart, never wait
    started_at = facts.started_at if facts and facts.started_at is not None else None
    quick_crash = started_at is not None and (died_at if died_at is not None else now) - started_at < HEALTHY_RUN_S
    streak = (facts.crash_streak if facts else 0) if quick_crash else 0
    if died_at is not None and now < died_at + restart_delay(streak):
        return DeferRestart(project, agent.name, died_at + restart_delay(streak), pane.dead_status)
    if agent.restart == "fresh":
        return RestartAgent(project, agent, pane, streak + 1, fresh=True)
    if streak >= RESUME_TRIES:  # the conversation itself may be what kills it
        return RestartAgent(project, agent, pane, streak + 1, fresh=True,
                            why_fresh=f"resuming died {streak} times in a row")
    return RestartAgent(project, agent, pane, streak + 1)


def _briefed(facts: AgentFacts | None, pane: ObservedPane) -> bool:
    """Was the brief already delivered to the process now running in this pane?"""
    return facts is not None and facts.briefed_pane == pane.pane_id and facts.briefed_pid == pane.pane_pid
