"""The check-in planner: schedules + ledger + credit holds + panes + now -> firings. Pure.

Missed check-ins: a due time earlier than `missed_before` (when this reconcile or watcher
began looking) passed while nothing ran. `fire_once` delivers one however many intervals
were missed and re-anchors the schedule on that delivery; `skip` delivers none and the next
is due `every` from now. A check-in held back by a credit hold is delivered once after the
reset and re-anchored the same way.
"""

from __future__ import annotations

from typing import Mapping

from reconciler.model.agents import Action, DesiredProject, ObservedPane
from reconciler.model.checkins import (
    CreditHold, FireCheckin, Firing, RecoverFiring, Schedule, SendResumeNote, SkipCheckin,
)


def holds_on(agent: str, holds: Mapping[str, CreditHold], shared: bool) -> list[CreditHold]:
    """The holds that apply to `agent`: its own, or every agent's when the account is shared."""
    mine = list(holds.values()) if shared else [holds[agent]] if agent in holds else []
    return [h for h in mine if h.source != "cleared"]


def effective_hold(agent: str, holds: Mapping[str, CreditHold], shared: bool, now: float) -> CreditHold | None:
    """The hold that keeps messages from `agent` now, if any."""
    active = [h for h in holds_on(agent, holds, shared) if h.until > now]
    return max(active, key=lambda h: h.until) if active else None


def next_due_after(schedule: Schedule, due: float, delivered_at: float, reanchor: bool) -> float | None:
    """When a schedule is due again after a delivery (or skip) of `due` at `delivered_at`."""
    if schedule.every_s is None:
        return None  # a one-off is done
    if reanchor:
        return delivered_at + schedule.every_s
    following = due + schedule.every_s
    return following if following > delivered_at else delivered_at + schedule.every_s


def plan_checkins(
    desired: DesiredProject,
    schedules: list[Schedule],
    open_firings: list[Firing],
    panes: Mapping[str, ObservedPane],
    holds: Mapping[str, CreditHold],
    now: float,
    missed_before: float,
    in_turn: frozenset[str] = frozenset(),
) -> list[Action]:
    """Firings, skips and recoveries due now. `panes` maps agent -> its (alive or dead) pane;
    `in_turn`: the agents that report being in a turn (working, blocked), whose check-ins
    wait (with `checkin_policy.when: idle`) until they are idle or `max_wait` past the due time."""
    actions: list[Action] = []
    busy = {f.schedule_id for f in open_firings}
    for firing in open_firings:
        actions.append(RecoverFiring(desired.name, firing, panes.get(firing.agent)))
    for schedule in schedules:
        if schedule.id in busy or schedule.next_due is None or schedule.next_due > now:
            continue
        if schedule.retry_after is not None and schedule.retry_after > now:
            continue
        pane = panes.get(schedule.agent)
        if pane is None or pane.dead:
            continue  # delivered once the agent is back
        missed = schedule.next_due < missed_before
        if missed and desired.missed_policy == "skip":
            actions.append(SkipCheckin(desired.name, schedule, schedule.next_due))
            continue
        if effective_hold(schedule.agent, holds, desired.credit_shared, now) is not None:
            continue
        if _waits(desired, schedule, in_turn, now):
            continue
        held_back = any(h.until > schedule.next_due for h in holds_on(schedule.agent, holds, desired.credit_shared))
        actions.append(FireCheckin(desired.name, schedule, schedule.next_due, pane, missed or held_back))
    if desired.resume_note:
        for agent, hold in holds.items():
            pane = panes.get(agent)
            if (hold.source in ("screen", "agent") and not hold.resumed and hold.until <= now
                    and pane is not None and not pane.dead):
                actions.append(SendResumeNote(desired.name, hold, pane, desired.resume_note))
    return actions


def _waits(desired: DesiredProject, schedule: Schedule, in_turn: frozenset[str], now: float) -> bool:
    """Does this due check-in wait for its agent's turn to end?"""
    return (desired.checkin_when == "idle" and schedule.agent in in_turn and schedule.next_due is not None
            and now < schedule.next_due + desired.checkin_max_wait_s)


def next_wake(schedules: list[Schedule], holds: Mapping[str, CreditHold], panes: Mapping[str, ObservedPane],
              shared: bool, now: float, desired: DesiredProject | None = None,
              in_turn: frozenset[str] = frozenset()) -> float | None:
    """The earliest moment a check-in may become deliverable: a due time or retry, pushed past its
    agent's credit hold, and for an agent in a turn past `max_wait` (its turn's end wakes the
    watcher through its hook). Agents that are not running are left to the pane-died hook and the
    resync, so a dead, held or busy agent never turns the watcher into a busy loop."""
    moments = []
    for schedule in schedules:
        pane = panes.get(schedule.agent)
        if schedule.next_due is None or pane is None or pane.dead:
            continue
        hold = effective_hold(schedule.agent, holds, shared, now)
        waiting = desired is not None and _waits(desired, schedule, in_turn, now)
        moments.append(max(schedule.next_due, schedule.retry_after or 0.0, hold.until if hold else 0.0,
                           schedule.next_due + desired.checkin_max_wait_s if waiting and desired is not None else 0.0))
    moments += [h.until for h in holds.values() if h.until > now]
    return min(moments) if moments else None
