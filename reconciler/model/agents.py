"""Plain, immutable data that flows between the layers: desired state, observed state, actions.

Nothing here does I/O. The planner takes Desired + Observed + facts + now and returns Actions;
the executor turns each Action into tmux/git/SQLite work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the check-in and worktree records build on Action and ObservedPane defined here
    from reconciler.model.checkins import DesiredCheckin
    from reconciler.model.worktrees import GitSettings


# -- desired ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesiredAgent:
    name: str
    role: str | None
    command: str
    cwd: str
    env: tuple[tuple[str, str], ...]  # the manifest's own env (defaults merged), sorted
    brief: str | None
    spec_hash: str  # what decides that the window must be recreated
    spec: tuple[tuple[str, object], ...]  # command/cwd/env (and an explicit kind), for explaining a changed hash
    kind: str = "generic"  # the driver (reconciler.drivers): given, or detected from the command
    restart: str = "resume"  # resume | fresh: whether a restarted agent keeps its conversation (not in spec_hash)


@dataclass(frozen=True)
class DesiredProject:
    name: str
    id: str
    session: str
    manifest_path: str
    agents: tuple[DesiredAgent, ...]
    orch_env: tuple[tuple[str, str], ...]  # ORCH_HOME, ORCH_TMUX_SOCKET, for every agent
    checkins: tuple[DesiredCheckin, ...] = ()
    missed_policy: str = "fire_once"  # fire_once | skip
    checkin_when: str = "idle"  # idle | any: wait for an agent that reports a turn to end
    checkin_max_wait_s: float = 600.0  # ... at most this long past the due time
    credit_patterns: tuple[str, ...] = ()
    resume_note: str = ""
    credit_shared: bool = False
    stall_after_s: float = 900.0  # a blocked or silent working agent is reported after this long
    escalate_to: str | None = None  # sync.escalate_to: told about conflicts and stalls
    git: GitSettings | None = None  # when spec.repo is set

    def agent(self, name: str) -> DesiredAgent | None:
        return next((a for a in self.agents if a.name == name), None)

    def kind_of(self, name: str) -> str:
        """The agent's driver kind; generic for an agent no longer in the manifest."""
        found = self.agent(name)
        return found.kind if found is not None else "generic"

    def launch_env(self, agent: DesiredAgent) -> tuple[tuple[str, str], ...]:
        """Everything put into the agent's environment: its own env plus the ORCH_* variables."""
        return agent.env + (("ORCH_PROJECT", self.name), ("ORCH_AGENT", agent.name)) + self.orch_env


# -- observed -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservedPane:
    """One pane as `tmux list-panes -a` reports it, with orch's ownership marks."""

    session_id: str
    session_name: str
    session_project: str  # @orch_session_project on the session ('' when not orch's)
    window_id: str
    window_index: int
    window_name: str
    pane_id: str
    pane_pid: int
    pane_tty: str
    dead: bool
    dead_status: int | None
    dead_time: float | None
    in_mode: bool
    project: str  # @orch_project on the agent's pane ('' when not orch's)
    agent: str  # @orch_agent
    spec_hash: str  # @orch_spec
    project_id: str = ""  # @orch_project_id: whose `project` (two ORCH_HOMEs may share a name); '' from an older orch
    session_project_id: str = ""  # @orch_session_project_id on the session
    session_home: str = ""  # @orch_session_home: a digest of the ORCH_HOME that made the session


@dataclass(frozen=True)
class Observed:
    panes: tuple[ObservedPane, ...] = ()
    server_running: bool = True

    def session_named(self, name: str) -> ObservedPane | None:
        """Any pane of the session called `name` (enough to know the session and its owner)."""
        return next((p for p in self.panes if p.session_name == name), None)

    def agent_panes(self, project: str) -> tuple[ObservedPane, ...]:
        return tuple(p for p in self.panes if p.project == project and p.agent)

    def sessions_of(self, project: str) -> dict[str, str]:
        """name -> id of the sessions marked as `project`'s."""
        return {p.session_name: p.session_id for p in self.panes if p.session_project == project}

    def owned(self, project: str, project_id: str, session: str) -> "Observed":
        """tmux as `project` (of `project_id`) sees it: the marks of another ORCH_HOME's project of the
        same name are hidden (never renamed, replaced or killed); a pane or session an older orch
        marked without an id counts as ours in our own session (and is adopted)."""
        def ours(mark_id: str, pane: ObservedPane) -> bool:
            return mark_id == project_id or (not mark_id and pane.session_name == session)

        panes = []
        for pane in self.panes:
            if pane.project == project and not ours(pane.project_id, pane):
                pane = replace(pane, project="", agent="", spec_hash="")
            if pane.session_project == project and not ours(pane.session_project_id, pane):
                pane = replace(pane, session_project="")
            panes.append(pane)
        return Observed(tuple(panes), self.server_running)


@dataclass(frozen=True)
class AgentFacts:
    """What orch remembers about an agent between runs (tmux holds the rest)."""

    project: str
    name: str
    started_at: float | None = None
    restarts: int = 0
    crash_streak: int = 0
    last_exit_status: int | None = None
    briefed_pane: str | None = None
    briefed_pid: int | None = None
    spec: str | None = None  # JSON of the spec the window was last launched with
    seen_dead_at: float | None = None  # the first moment orch saw the process below dead
    seen_dead_pid: int | None = None  # the pane process that death belongs to


# -- actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """Something the executor does. `symbol` and `summary` render the plan line."""

    symbol = "?"
    counts_as = "change"  # add | change | destroy | none

    @property
    def target(self) -> str:
        raise NotImplementedError

    @property
    def reason(self) -> str:
        return ""


@dataclass(frozen=True)
class CreateSession(Action):
    project: str
    session: str
    symbol = "+"
    counts_as = "add"

    @property
    def target(self) -> str:
        return f"session {self.session}"


@dataclass(frozen=True)
class RenameSession(Action):
    """orch's session under another name (renamed by hand, or spec.session changed): rename it back."""

    project: str
    session_id: str
    old: str
    new: str
    symbol = "~"

    @property
    def target(self) -> str:
        return f"session {self.new}"

    @property
    def reason(self) -> str:
        return f"renamed to {self.old!r}: rename it back (the agents keep running)"


@dataclass(frozen=True)
class AdoptSession(Action):
    """A session orch did not create, named in the manifest, taken over with `apply --adopt`."""

    project: str
    session_id: str
    session: str
    symbol = "~"

    @property
    def target(self) -> str:
        return f"session {self.session}"

    @property
    def reason(self) -> str:
        return "adopted: marked as this project's, nothing restarted"


@dataclass(frozen=True)
class AdoptWindow(Action):
    """A running window taken over as an agent's: marked (and renamed after the agent), never restarted."""

    project: str
    agent: DesiredAgent
    pane: ObservedPane
    symbol = "~"

    @property
    def target(self) -> str:
        return f"window {self.agent.name}"

    @property
    def reason(self) -> str:
        renamed = f", renamed from {self.pane.window_name!r}" if self.pane.window_name != self.agent.name else ""
        return f"adopted: its running process is kept{renamed}"


@dataclass(frozen=True)
class CreateWindow(Action):
    project: str
    session: str
    agent: DesiredAgent
    symbol = "+"
    counts_as = "add"

    @property
    def target(self) -> str:
        return f"window {self.agent.name}"

    @property
    def reason(self) -> str:
        return f"command: {self.agent.command}"


@dataclass(frozen=True)
class RestartAgent(Action):
    project: str
    agent: DesiredAgent
    pane: ObservedPane
    crash_streak: int  # the streak after this restart
    fresh: bool = False  # start a new conversation instead of resuming the last one
    why_fresh: str = ""  # set when resuming was given up (it crash-looped)
    symbol = "~"

    @property
    def target(self) -> str:
        return f"window {self.agent.name}"

    @property
    def reason(self) -> str:
        status = "" if self.pane.dead_status is None else f" (exit {self.pane.dead_status})"
        return f"agent exited{status}: restart" + (f" fresh ({self.why_fresh})" if self.why_fresh else "")


@dataclass(frozen=True)
class DeferRestart(Action):
    """A dead agent inside its crash-loop backoff: nothing to do until `until`."""

    project: str
    agent: str
    until: float
    exit_status: int | None
    symbol = "~"

    @property
    def target(self) -> str:
        return f"window {self.agent}"

    @property
    def reason(self) -> str:
        return f"agent exited (exit {self.exit_status}): restart held by crash-loop backoff"


@dataclass(frozen=True)
class ReplaceAgent(Action):
    project: str
    agent: DesiredAgent
    pane: ObservedPane
    changes: tuple[str, ...]
    disruptive: bool = False  # its process is alive: replacing it ends its conversation
    symbol = "-/+"

    @property
    def target(self) -> str:
        return f"window {self.agent.name}"

    @property
    def reason(self) -> str:
        return "; ".join(self.changes) or "agent spec changed"


@dataclass(frozen=True)
class PendingReplace(Action):
    """A replacement that would end a live agent's conversation while it reports being busy: made
    once it is idle (the watcher's next pass), or now with `orch apply --allow-restart`."""

    project: str
    agent: str
    changes: tuple[str, ...]
    state: str  # what the agent reports it is doing
    disruptive = True
    symbol = "-/+"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"window {self.agent}"

    @property
    def reason(self) -> str:
        changed = "; ".join(self.changes) or "agent spec changed"
        return (f"{changed}; pending: the agent is {self.state}, replaced once it is idle "
                "(now: orch apply --allow-restart)")


@dataclass(frozen=True)
class KillWindow(Action):
    project: str
    agent: str
    pane: ObservedPane
    why: str
    symbol = "-"
    counts_as = "destroy"

    @property
    def target(self) -> str:
        return f"window {self.agent}"

    @property
    def reason(self) -> str:
        return self.why


@dataclass(frozen=True)
class DeliverBrief(Action):
    project: str
    agent: DesiredAgent
    pane: ObservedPane
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"brief {self.agent.name}"

    @property
    def reason(self) -> str:
        return "deliver the brief to the fresh agent process"


@dataclass(frozen=True)
class Problem:
    """Something the planner will not fix by itself; the user has to act."""

    project: str
    message: str


@dataclass(frozen=True)
class Plan:
    project: str
    session: str
    actions: tuple[Action, ...] = ()
    problems: tuple[Problem, ...] = ()

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "destroy": 0}
        for action in self.actions:
            if action.counts_as == "change" and isinstance(action, ReplaceAgent):
                counts["add"] += 1
                counts["destroy"] += 1
            elif action.counts_as in counts:
                counts[action.counts_as] += 1
        return counts
