"""Carry out check-in actions: fire (through the ledger), skip, recover an interrupted firing.

Firings to different agents run in parallel threads (settling and verifying take a few
hundred ms; ten agents due in the same second must not queue behind each other); the
per-agent delivery lock keeps two texts for one agent apart. Under a watcher each agent's
deliveries go to its own lane (reconciler.execute.lanes) and the pass does not wait for them,
so the ledger is re-checked under the agent's delivery lock: a firing another process settled
meanwhile is neither typed nor recovered twice.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from reconciler import drivers
from reconciler.agent_events import ROTATE_AT, end_offset, receipts_stream, recent_events, rotate
from reconciler.execute.delivery import Guard, deliver, press_enter_until_submitted, snapshot
from reconciler.execute.lanes import Lanes
from reconciler.plan.screen import input_region
from reconciler.execute.agents import DONE, FAILED, HELD, SKIPPED, Outcome
from reconciler.locks import delivery_lock
from reconciler.model.agents import Action, DesiredProject, ObservedPane
from reconciler.model.checkins import CreditHold, FireCheckin, RecoverFiring, SendResumeNote, SkipCheckin
from reconciler.plan.checkins import effective_hold, next_due_after
from reconciler.plan.credit import judge_credit, marker_tag, new_output
from reconciler.state import checkins as checkin_records
from reconciler.state import credit as credit_records
from reconciler.plan.credit import judge_reported_limit
from reconciler.state.store import Store
from reconciler.timefmt import iso, local_zone
from reconciler.runtime.tmux import Tmux, batches

RETRY_FIRST_S = 10.0
RETRY_MAX_S = 300.0
RECOVERY_LOCK_S = 2.0  # a recovery that finds the agent's delivery lock busy looks again next pass


def retry_delay(failures: int) -> float:
    return min(RETRY_FIRST_S * 2 ** failures, RETRY_MAX_S)


def credit_guard(store: Store, project: str, agent: str, shared: bool, patterns: tuple[str, ...],
                 kind: str = "generic") -> Guard:
    """Before typing: is the agent held, or does its screen show a new out-of-credit notice?"""

    def guard(screen) -> str | None:
        now = time.time()
        holds = credit_records.credit_holds(store, project)
        active = effective_hold(agent, holds, shared, now)
        if active is not None:
            return f"out of credit until {iso(active.until)}"
        hold = record_new_notice(store, project, agent, screen.lines, holds.get(agent), patterns, now, kind)
        return f"out of credit until {iso(hold.until)}" if hold is not None else None

    return guard


def record_new_notice(store: Store, project: str, agent: str, lines, stored: CreditHold | None,
                      patterns: tuple[str, ...], now: float, kind: str = "generic") -> CreditHold | None:
    """A new out-of-credit notice in the agent's new output (as its kind prints them), recorded
    as a hold (with its event)."""
    region, marker = new_output(lines)
    typed_at = credit_records.marker_typed_at(store, project, marker) if marker else None
    hold = judge_credit(project, agent, region, stored, typed_at, patterns, now, local_zone(), drivers.get(kind))
    if hold is not None:
        _record_hold(store, hold)
    return hold


def _record_hold(store: Store, hold: CreditHold) -> None:
    credit_records.put_credit_hold(store, hold)
    store.record_event("credit.exhausted", f"{hold.agent} is out of credit until {iso(hold.until)}",
                       project=hold.project, agent=hold.agent, notice=hold.notice, attempt=hold.attempt,
                       source=hold.source)


def observe_credit(tmux: Tmux, store: Store, home: Path, desired: DesiredProject, panes: dict[str, ObservedPane],
                   seen: dict[str, str]) -> list[CreditHold]:
    """Every pass: did a live agent report a usage limit itself (its event stream grew), or does
    its screen show a new out-of-credit notice? (`orch status` tells.)

    One tmux process captures every live agent's screen (more only past tmux's command size); a screen whose text is the same as
    at the last look (`seen`: pane id -> digest, kept by the caller between passes) is not
    judged again: the same text gives the same answer.
    """
    live = {agent: pane for agent, pane in panes.items() if not pane.dead and desired.agent(agent) is not None}
    if not live:
        return []
    separator = "orch-screen-" + secrets.token_hex(8)
    groups = [[["display-message", "-p", "-t", pane.pane_id, f"{separator} {pane.pane_id}"],
               ["capture-pane", "-p", "-t", pane.pane_id]] for pane in live.values()]
    captured = "".join(  # a pane gone meanwhile ends its chain: seen next pass
        tmux.run(*(command for index in batch for command in groups[index]), check=False).stdout
        for batch in batches(groups))
    screens: dict[str, str] = {}
    for chunk in captured.split(separator + " ")[1:]:
        pane_id, _, text = chunk.partition("\n")
        screens[pane_id] = text
    holds, now, found = None, time.time(), []
    for agent in live:
        stream = receipts_stream(home, desired.name, desired.id, agent, desired.kind_of(agent))
        if stream is not None and rotate(stream, ROTATE_AT):
            continue  # read again once it has new events
        size = end_offset(stream) if stream is not None else 0
        if stream is None or not size or seen.get(f"events {agent}") == str(size):
            continue
        holds = holds if holds is not None else credit_records.credit_holds(store, desired.name)
        hold = judge_reported_limit(desired.name, agent, recent_events(stream), holds.get(agent), now,
                                    local_zone(), drivers.get(desired.kind_of(agent)))
        seen[f"events {agent}"] = str(size)
        if hold is not None:
            _record_hold(store, hold)
            holds[agent] = hold
            found.append(hold)
    for agent, pane in live.items():
        shown = screens.get(pane.pane_id)
        if shown is None:
            continue
        digest = hashlib.blake2b(shown.encode(), digest_size=16).hexdigest()
        if seen.get(pane.pane_id) == digest:
            continue
        holds = holds if holds is not None else credit_records.credit_holds(store, desired.name)
        hold = record_new_notice(store, desired.name, agent, shown.split("\n"), holds.get(agent),
                                 desired.credit_patterns, now, desired.kind_of(agent))
        seen[pane.pane_id] = digest
        if hold is not None:
            found.append(hold)
    return found


def _agent_of(action: Action) -> str:
    if isinstance(action, RecoverFiring):
        return action.firing.agent
    if isinstance(action, SendResumeNote):
        return action.hold.agent
    assert isinstance(action, (FireCheckin, SkipCheckin))
    return action.schedule.agent


class CheckinExecutor:
    def __init__(self, tmux: Tmux, store: Store, home: Path, desired: DesiredProject, lanes: Lanes | None = None):
        self.tmux = tmux
        self.store = store
        self.home = home
        self.desired = desired
        self.lanes = lanes

    def execute(self, actions: list[Action]) -> list[Outcome]:
        """Recoveries first (they decide whether something is typed again), then the rest in parallel;
        with lanes, each agent's actions in that order on its lane (the outcomes come from the lane)."""
        recoveries = [a for a in actions if isinstance(a, RecoverFiring)]
        rest = [a for a in actions if not isinstance(a, RecoverFiring)]
        if self.lanes is not None:
            return self._hand_to_lanes(recoveries + rest)
        outcomes = [self._one(a) for a in recoveries]
        if rest:
            with ThreadPoolExecutor(max_workers=min(16, len(rest))) as pool:
                outcomes += list(pool.map(self._one, rest))
        return outcomes

    def _hand_to_lanes(self, actions: list[Action]) -> list[Outcome]:
        by_agent: dict[str, list[Action]] = {}
        for action in actions:
            by_agent.setdefault(_agent_of(action), []).append(action)
        outcomes = []
        for agent, group in by_agent.items():
            assert self.lanes is not None  # only called with lanes
            started = self.lanes.start(self.desired.name, agent, partial(self._all, group))
            state = "handed to the agent's delivery lane" if started else "a delivery to this agent is under way"
            outcomes += [Outcome(a, HELD, f"pending: {state}") for a in group]
        return outcomes

    def _all(self, group: list[Action]) -> list[Outcome]:
        return [self._one(a) for a in group]

    def _one(self, action: Action) -> Outcome:
        handlers = {FireCheckin: self._fire, SkipCheckin: self._skip, SendResumeNote: self._resume,
                    RecoverFiring: self._recover}
        return self._guarded(handlers[type(action)], action)

    @staticmethod
    def _guarded(handler, action: Action) -> Outcome:
        try:
            return handler(action)
        except Exception as err:  # one failure never stops the others
            return Outcome(action, FAILED, f"{type(err).__name__}: {err}")

    # -- firing ----------------------------------------------------------------------------------

    def _fire(self, action: FireCheckin) -> Outcome:
        schedule = action.schedule
        firing = checkin_records.begin_firing(self.store, schedule, action.due, action.reanchor, action.pane.pane_id)
        if firing is None:
            return Outcome(action, SKIPPED, "already delivered")
        time.sleep(max(0.0, action.due - time.time()))  # planned a moment early: type it on the dot
        credit = credit_guard(self.store, self.desired.name, schedule.agent, self.desired.credit_shared,
                              self.desired.credit_patterns, self.desired.kind_of(schedule.agent))
        settled_elsewhere = []

        def guard(screen) -> str | None:
            if not checkin_records.firing_current(self.store, firing):
                settled_elsewhere.append(True)
                return "settled by another process meanwhile"
            return credit(screen)

        result = deliver(self.tmux, action.pane.pane_id, schedule.note, tag=marker_tag(firing.marker),
                         lock_file=delivery_lock(self.home, schedule.project, schedule.agent),
                         ready_timeout=10.0, guard=guard, pid=action.pane.pane_pid,
                         receipts=self._receipts(schedule.agent), dialogs=self._dialogs(schedule.agent))
        if settled_elsewhere:
            return Outcome(action, SKIPPED, result.reason)
        now = time.time()
        if result.ok:
            checkin_records.finish_firing(self.store, firing, "submitted",
                                 next_due_after(schedule, action.due, now, action.reanchor), typed_at=result.typed_at)
            late = (result.typed_at or now) - action.due
            self.store.record_event("checkin.delivered", f"check-in delivered to {schedule.agent}",
                                    project=schedule.project, agent=schedule.agent, schedule=schedule.id,
                                    due=iso(action.due), late_s=round(late, 3), marker=firing.marker,
                                    missed=action.reanchor, confirmed_by=result.confirmed_by)
            return Outcome(action, DONE, f"delivered ({late * 1000:.0f} ms after due)")
        if result.held:
            checkin_records.release_firing(self.store, firing, result.reason)
            return Outcome(action, HELD, f"held: {result.reason}")
        checkin_records.fail_firing(self.store, firing, result.reason, now + retry_delay(schedule.failures))
        self.store.record_event("checkin.failed", f"check-in to {schedule.agent} failed: {result.reason}",
                                project=schedule.project, agent=schedule.agent, schedule=schedule.id)
        return Outcome(action, FAILED, result.reason)

    def _receipts(self, agent: str) -> Path | None:
        return receipts_stream(self.home, self.desired.name, self.desired.id, agent, self.desired.kind_of(agent))

    def _dialogs(self, agent: str):
        return drivers.get(self.desired.kind_of(agent)).dialogs

    def _skip(self, action: SkipCheckin) -> Outcome:
        now = time.time()
        next_due = next_due_after(action.schedule, action.due, now, reanchor=True)
        checkin_records.skip_firing(self.store, action.schedule, action.due, next_due)
        self.store.record_event("checkin.skipped", f"missed check-in to {action.schedule.agent} skipped",
                                project=action.project, agent=action.schedule.agent, due=iso(action.due))
        return Outcome(action, SKIPPED, "skipped")

    def _resume(self, action: SendResumeNote) -> Outcome:
        hold = action.hold
        result = deliver(self.tmux, action.pane.pane_id, action.note,
                         lock_file=delivery_lock(self.home, hold.project, hold.agent), ready_timeout=10.0,
                         pid=action.pane.pane_pid, receipts=self._receipts(hold.agent),
                         dialogs=self._dialogs(hold.agent))
        if result.ok:
            credit_records.mark_resumed(self.store, hold)
            self.store.record_event("credit.resumed", f"resume note delivered to {hold.agent}",
                                    project=hold.project, agent=hold.agent, confirmed_by=result.confirmed_by)
        return Outcome(action, DONE if result.ok else HELD if result.held else FAILED, result.reason)

    # -- recovery after a crash ----------------------------------------------------------------

    def _recover(self, action: RecoverFiring) -> Outcome:
        """Was the interrupted firing typed? Its marker on the pane says so; never type it twice.

        Under the agent's delivery lock, as every delivery: an `orch send` typing meanwhile (or a
        watcher's lane) would otherwise get its text submitted by our Enter, or ours merged into
        its; a firing settled meanwhile is left alone."""
        from filelock import FileLock, Timeout

        firing = action.firing
        try:
            with FileLock(delivery_lock(self.home, firing.project, firing.agent), timeout=RECOVERY_LOCK_S,
                          mode=0o600):
                if not checkin_records.firing_current(self.store, firing):
                    return Outcome(action, SKIPPED, "settled by another process meanwhile")
                return self._recover_locked(action)
        except Timeout:
            return Outcome(action, FAILED, "another delivery to this agent holds its lock: looked at next pass")

    def _recover_locked(self, action: RecoverFiring) -> Outcome:
        firing = action.firing
        pane_id = action.pane.pane_id if action.pane is not None else firing.pane_id
        # The whole history: as deep as the pane's history-limit, and no deeper.
        history = self.tmux.run(["capture-pane", "-p", "-J", "-S", "-", "-t", pane_id or ""], check=False)
        tag = marker_tag(firing.marker)
        schedule = next((s for s in checkin_records.schedules(self.store, firing.project) if s.id == firing.schedule_id), None)
        if history.returncode == 0 and tag in history.stdout:
            screen = snapshot(self.tmux, pane_id, self._dialogs(firing.agent)) if pane_id else None
            submitted_now = screen is not None and not screen.dead and tag in input_region(screen)
            if submitted_now and pane_id and screen is not None:  # pasted, but the crash came before Enter: submit it now
                result = press_enter_until_submitted(self.tmux, pane_id, screen,
                                                     action.pane.pane_pid if action.pane is not None else 0)
                if not result.ok:
                    checkin_records.fail_firing(self.store, firing, result.reason, time.time() + RETRY_FIRST_S)
                    return Outcome(action, FAILED, result.reason)
            # Submitted only now, after downtime: the next one is `every` from now, not a burst.
            reanchor = firing.missed or submitted_now
            next_due = next_due_after(schedule, firing.due, time.time(), reanchor) if schedule else None
            checkin_records.finish_firing(self.store, firing, "submitted", next_due)
            self.store.record_event("checkin.recovered", f"interrupted check-in to {firing.agent} had been typed",
                                    project=firing.project, agent=firing.agent, marker=firing.marker)
            return Outcome(action, DONE, "found on the screen: recorded as delivered")
        checkin_records.release_firing(self.store, firing, "interrupted before it reached the pane")
        self.store.record_event("checkin.recovered", f"interrupted check-in to {firing.agent} was never typed",
                                project=firing.project, agent=firing.agent, marker=firing.marker)
        return Outcome(action, DONE, "not on the screen: will be delivered")
