"""Stalls: an agent blocked (a permission prompt or dialog) or silent while working for longer than
`spec.stall_after` is reported once per stall to `sync.escalate_to`, with the last lines of its
screen, and recorded as `agent.stalled` (`agent.unstalled` when it ends). Nothing is typed into the
stalled agent itself.

The planner (`plan_stalls`) is pure: agent states from their own events (reconciler/agent_state.py),
what was already said (the store's `reported` rows: the stall's message, and to whom it was told),
and `now`. Progress is any event but a wait for a person, or (Claude Code) a write to its
transcript, which it makes for every message and tool result. Only kinds that report their state can stall: a generic agent's screen cannot tell
"working but stuck" from "idle at a prompt orch does not know".

The executor records the stall at once, and tells `escalate_to` through the ordinary delivery
(its per-agent lock, and held while it is out of credit, like sync escalations); a report not
delivered yet is tried again next pass, and is said once it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from reconciler.agent_state import AgentState
from reconciler.model.agents import Action

SCREEN_LINES = 12  # what the manager sees of the stalled agent's screen
_WHAT = {"blocked": "blocked on a permission prompt or dialog", "working": "working without a sign of life"}


@dataclass(frozen=True)
class ReportStall(Action):
    """Record an agent's stall (once) and tell `to` about it (once, when delivered)."""

    project: str
    agent: str
    message: str  # the stall's identity: the same stall says the same thing on every pass
    what: str  # what it is stuck in now: blocked | working
    to: str | None  # None: nobody to tell (no escalate_to, or the stalled agent is escalate_to itself)
    record: bool  # the event is not recorded yet
    symbol = "!"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"stall of {self.agent}"

    @property
    def reason(self) -> str:
        return self.message


@dataclass(frozen=True)
class EndStall(Action):
    project: str
    agent: str
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"stall of {self.agent}"

    @property
    def reason(self) -> str:
        return "the agent moved on"


def stalled_from(state: AgentState) -> tuple[str, float] | None:
    """What the agent is stuck in, and since when it has shown no progress: its last event that was
    not a wait for a person (a silent turn that then asks for permission is one stall, not two). A
    state that decayed (TTL) still counts as what it was."""
    current = state.decayed or state.state
    if current not in _WHAT:
        return None
    anchor = next((t for t in (state.progress, state.since) if t is not None), None)
    return (current, anchor) if anchor is not None else None


def stall_message(agent: str, anchor: float) -> str:
    """The stall's identity: the same for as long as it lasts, whatever it is stuck in meanwhile."""
    from reconciler.timefmt import iso

    return f"{agent} has shown no progress since {iso(anchor)}"


def told_message(to: str, message: str) -> str:
    return f"told {to}: {message}"


def plan_stalls(project: str, states: dict[str, AgentState], reported: dict[str, str | None],
                told: dict[str, str | None], stall_after: float, escalate_to: str | None,
                now: float) -> tuple[list["ReportStall | EndStall"], float | None]:
    """The stall actions due now, and the next moment a stall may begin (None: none can).

    `reported[agent]`: the stall message recorded for it; `told[agent]`: what escalate_to was told."""
    actions: list[ReportStall | EndStall] = []
    wake: float | None = None
    for agent in sorted(set(states) | {a for a, m in reported.items() if m}):
        state = states.get(agent)
        stuck = stalled_from(state) if state is not None else None
        if stuck is not None and now - stuck[1] < stall_after:
            wake = min(wake, stuck[1] + stall_after) if wake is not None else stuck[1] + stall_after
            stuck = None
        if stuck is None:
            if reported.get(agent):
                actions.append(EndStall(project, agent))
            continue
        message = stall_message(agent, stuck[1])
        to = escalate_to if escalate_to != agent else None
        record = reported.get(agent) != message
        untold = to is not None and told.get(agent) != told_message(to, message)
        if record or untold:
            actions.append(ReportStall(project, agent, message, stuck[0], to if untold else None, record))
    return actions, wake


# -- the executor ---------------------------------------------------------------------------------

def topic(agent: str) -> str:
    return f"stall {agent}"


def told_topic(agent: str) -> str:
    return f"stall told {agent}"


def check_stalls(tmux, store, home: Path, desired, panes: dict, states: dict[str, AgentState], now: float,
                 lanes=None) -> tuple[list, float | None]:
    """One pass: plan from the agents' states and the store, then record and tell. Returns the outcomes
    and when to look again. `panes`: ObservedPane by agent (live ones are told and captured)."""
    from reconciler.execute.agents import FAILED, Outcome

    live = {a: s for a, s in states.items() if a in panes and not panes[a].dead}
    live = with_transcript_progress(home, desired, live, now)
    names = set(live) | {a.name for a in desired.agents}
    reported = {a: store.reported(desired.name, topic(a)) for a in names}
    told = {a: store.reported(desired.name, told_topic(a)) for a in names if reported[a] or a in live}
    actions, wake = plan_stalls(desired.name, live, reported, told, desired.stall_after_s, desired.escalate_to, now)
    outcomes = []
    for action in actions:
        try:
            outcomes.append(_execute(tmux, store, home, desired, panes, action, lanes))
        except Exception as err:  # one failure never stops the others
            outcomes.append(Outcome(action, FAILED, f"{type(err).__name__}: {err}"))
    return outcomes, wake


def with_transcript_progress(home: Path, desired, states: dict[str, AgentState], now: float) -> dict:
    """Claude Code reports no event between a prompt and the end of its turn (orch hooks no tool calls),
    but it writes every message and tool result to its transcript: a transcript written after the
    last event is progress. Looked at only for agents that would count as stalled (one stat each)."""
    from dataclasses import replace

    from reconciler.agent_events import receipts_stream, recent_events

    changed = dict(states)
    for agent, state in states.items():
        stuck = stalled_from(state)
        if stuck is None or now - stuck[1] < desired.stall_after_s:
            continue
        stream = receipts_stream(home, desired.name, desired.id, agent, desired.kind_of(agent))
        paths = [e["data"].get("transcript_path") for e in recent_events(stream) if isinstance(e.get("data"), dict)] \
            if stream is not None else []
        path = next((p for p in reversed(paths) if isinstance(p, str) and p.startswith("/")), None)
        try:
            written = Path(path).stat().st_mtime if path else None
        except OSError:
            written = None
        if written is not None and written > stuck[1]:
            changed[agent] = replace(state, progress=written)
    return changed


def _execute(tmux, store, home: Path, desired, panes: dict, action: "ReportStall | EndStall", lanes):
    from reconciler.execute.agents import DONE, HELD, Outcome

    if isinstance(action, EndStall):
        store.report_once(action.project, topic(action.agent), None, "agent.stalled", cleared="agent.unstalled",
                          agent=action.agent)
        store.report_once(action.project, told_topic(action.agent), None, "agent.stall_told")
        return Outcome(action, DONE, "stall over")
    screen, dialog = screen_tail(tmux, panes[action.agent].pane_id, desired.kind_of(action.agent))
    if dialog and action.what != "blocked":  # its screen shows the dialog before its own report of it
        from dataclasses import replace

        action = replace(action, what="blocked")
    if action.record:
        store.report_once(action.project, topic(action.agent), action.message, "agent.stalled", agent=action.agent,
                          state=action.what, screen=screen, to=action.to)
    if action.to is None:
        return Outcome(action, DONE, "recorded")
    work = lambda: [_tell(tmux, store, home, desired, panes, action, screen)]  # noqa: E731
    if lanes is None:
        return work()[0]
    started = lanes.start(action.project, action.to, work)
    return Outcome(action, HELD, "pending: handed to the agent's delivery lane" if started
                   else f"pending: a delivery to {action.to} is under way")


def screen_tail(tmux, pane_id: str, kind: str, lines: int = SCREEN_LINES) -> tuple[list[str], bool]:
    """The last non-blank lines of the pane's visible screen, and whether it shows a menu or dialog
    (as the agent's kind draws them)."""
    from reconciler import drivers
    from reconciler.execute.delivery import snapshot
    from reconciler.plan.screen import menu_open

    screen = snapshot(tmux, pane_id, drivers.get(kind).dialogs)
    if screen is None:
        return [], False
    rows = [row.rstrip() for row in screen.lines]
    return [row for row in rows if row][-lines:], menu_open(screen)


def report_text(desired, action: ReportStall, screen: list[str]) -> str:
    shown = "\n".join(f"  | {row}" for row in screen) or "  (its screen is empty)"
    return (f"orch: agent {action.agent} of project {action.project} is stalled: {_WHAT[action.what]}; it "
            f"{action.message.split(' ', 1)[1]} (longer than stall_after). orch typed nothing into it. Its "
            f"screen ends with:\n{shown}\n"
            f"Look at it in tmux window {desired.session}:{action.agent}.")


def _tell(tmux, store, home: Path, desired, panes: dict, action: ReportStall, screen: list[str]):
    from reconciler.execute.checkins import credit_guard
    from reconciler.execute.delivery import deliver
    from reconciler.execute.agents import DONE, FAILED, HELD, Outcome
    from reconciler.locks import delivery_lock

    to = action.to
    assert to is not None  # only a stall with someone to tell gets here
    pane = panes.get(to)
    if pane is None or pane.dead:
        return Outcome(action, FAILED, f"{action.to} is not running: the stall report waits for it")
    from reconciler import drivers
    from reconciler.agent_events import receipts_stream

    kind = desired.kind_of(to)
    result = deliver(tmux, pane.pane_id, report_text(desired, action, screen),
                     lock_file=delivery_lock(home, action.project, to), ready_timeout=10.0,
                     guard=credit_guard(store, action.project, to, desired.credit_shared,
                                        desired.credit_patterns, kind),
                     pid=pane.pane_pid, receipts=receipts_stream(home, action.project, desired.id, to, kind),
                     dialogs=drivers.get(kind).dialogs)
    if not result.ok:  # held back (out of credit) is as it should be; a failed delivery is tried next pass
        return Outcome(action, HELD if result.held else FAILED, f"stall report not delivered yet: {result.reason}")
    store.report_once(action.project, told_topic(action.agent), told_message(to, action.message),
                      "agent.stall_told", agent=action.agent, to=to, confirmed_by=result.confirmed_by,
                      at=time.time())
    return Outcome(action, DONE, f"told {action.to}")
