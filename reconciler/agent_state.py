"""What an agent is doing, from its own events (Claude Code's hooks, reconciler/agent_events.py). Pure.

starting  launched, no event from its process yet (for at most STARTING_S)
idle      its session started, or its turn ended (`Stop`, a `Notification` that it waits)
working   a prompt was submitted (`UserPromptSubmit`) or it compacts its context (`PreCompact`)
blocked   it waits for a person: a permission prompt or dialog (`Notification` permission_prompt)
limited   its turn failed on a usage limit (`StopFailure` with `error: rate_limit`)
dead      its process is gone
unknown   it reports nothing (generic agents), or its state is older than that state's TTL
          (a hook that never came must not keep it "working" for ever)

Only events of the current process count: those after the moment orch started it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STARTING_S = 120.0
TTL_S = {"idle": 24 * 3600.0, "working": 30 * 60.0, "blocked": 6 * 3600.0, "limited": 12 * 3600.0}
_WAITING = {"idle_prompt"}
_BLOCKING = {"permission_prompt", "elicitation_dialog"}


@dataclass(frozen=True)
class AgentState:
    state: str
    since: float | None = None  # when it entered this state (None: not known)
    last_activity: float | None = None  # the time of its last event
    decayed: str | None = None  # unknown after its TTL: the state it had (a stall outlasts the TTL)
    # its last event that was not a wait for a person (reconciler/stalls.py); not part of the state's identity
    progress: float | None = field(default=None, compare=False)

    def age(self, now: float) -> float | None:
        return None if self.since is None else max(0.0, now - self.since)


def state_of(event: dict) -> str | None:
    """The state one event puts the agent in; None when it changes nothing."""
    name, data = event.get("event"), event.get("data") or {}
    if not isinstance(data, dict):
        data = {}
    if name in ("SessionStart", "Stop"):
        return "idle"
    if name in ("UserPromptSubmit", "PreCompact"):
        return "working"
    if name == "StopFailure":
        return "limited" if data.get("error") == "rate_limit" else "idle"
    if name == "Notification":
        kind = data.get("notification_type")
        if kind in _BLOCKING:
            return "blocked"
        if kind in _WAITING:
            return "idle"
    return None


def agent_state(events: list[dict], alive: bool, started_at: float | None, reports: bool, now: float,
                dead_since: float | None = None) -> AgentState:
    """The agent's state at `now` from its events (oldest first), its liveness and its start."""
    current = [e for e in events if isinstance(e.get("time"), (int, float))
               and (started_at is None or e["time"] >= started_at - 1.0)]
    last_activity = current[-1]["time"] if current else None
    if not alive:
        return AgentState("dead", dead_since, last_activity)
    state, since, progress = None, None, None
    for event in current:
        new = state_of(event)
        if new is not None and new != state:
            state, since = new, event["time"]
        if new != "blocked":
            progress = event["time"]
    if state is None:
        if reports and started_at is not None and now - started_at < STARTING_S:
            return AgentState("starting", started_at, last_activity, progress=progress)
        return AgentState("unknown", None, last_activity, progress=progress)
    assert since is not None  # set with the state
    if now - since > TTL_S[state]:
        return AgentState("unknown", since, last_activity, decayed=state, progress=progress)
    return AgentState(state, since, last_activity, progress=progress)
