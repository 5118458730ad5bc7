"""Plain, immutable data that flows between the layers: desired state, observed state, actions.

Nothing here does I/O. The planner takes Desired + Observed + facts + now and returns Actions;
the executor turns each Action into tmux/git/SQLite work.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    spec: tuple[tuple[str, object], ...]  # command/cwd/env, for explaining a changed hash


@dataclass(frozen=True)
class DesiredProject:
    name: str
    id: str
    session: str
    manifest_path: str
    agents: tuple[DesiredAgent, ...]
    orch_env: tuple[tuple[str, str], ...]  # ORCH_HOME, ORCH_TMUX_SOCKET, for every agent
    checkins: tuple["DesiredCheckin", ...] = ()
    missed_policy: str = "fire_once"  # fire_once | skip
    credit_patterns: tuple[str, ...] = ()
    resume_note: str = ""
    credit_shared: bool = False
    git: "GitSettings | None" = None

    def agent(self, name: str) -> DesiredAgent | None:
        return next((a for a in self.agents if a.name == name), None)

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
    project: str  # @orch_project on the window ('' when not orch's)
    agent: str  # @orch_agent
    spec_hash: str  # @orch_spec


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

    def foreign_windows_in(self, session_id: str) -> tuple[ObservedPane, ...]:
        return tuple(p for p in self.panes if p.session_id == session_id and not p.agent)


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
    symbol = "~"

    @property
    def target(self) -> str:
        return f"window {self.agent.name}"

    @property
    def reason(self) -> str:
        status = "" if self.pane.dead_status is None else f" (exit {self.pane.dead_status})"
        return f"agent exited{status}: restart"


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
    symbol = "-/+"

    @property
    def target(self) -> str:
        return f"window {self.agent.name}"

    @property
    def reason(self) -> str:
        return "; ".join(self.changes) or "agent spec changed"


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
class KillSession(Action):
    project: str
    session: str
    session_id: str
    symbol = "-"
    counts_as = "destroy"

    @property
    def target(self) -> str:
        return f"session {self.session}"


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
    notes: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "destroy": 0}
        for action in self.actions:
            if action.counts_as == "change" and isinstance(action, ReplaceAgent):
                counts["add"] += 1
                counts["destroy"] += 1
            elif action.counts_as in counts:
                counts[action.counts_as] += 1
        return counts

    @property
    def empty(self) -> bool:
        return not self.actions and not self.problems


# -- check-ins ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesiredCheckin:
    """A recurring check-in from the manifest; `key` changes when `every` or `note` changes."""

    agent: str
    key: str
    every_s: float
    note: str


@dataclass(frozen=True)
class Schedule:
    """A stored check-in: recurring (from the manifest) or one-off (scheduled by an agent)."""

    id: int
    project: str
    agent: str
    source: str  # manifest | agent
    key: str | None
    every_s: float | None
    note: str
    next_due: float | None
    created_at: float
    failures: int = 0
    retry_after: float | None = None


@dataclass(frozen=True)
class Firing:
    """One delivery attempt of a schedule's due time: the ledger row (planned → typing → submitted)."""

    id: int
    schedule_id: int
    project: str
    agent: str
    due: float
    state: str  # planned | typing | submitted | failed | skipped
    marker: str
    missed: bool
    reason: str | None
    typed_at: float | None
    pane_id: str | None


@dataclass(frozen=True)
class CreditHold:
    """An agent that is out of credit: nothing orch sends reaches it before `until`."""

    project: str
    agent: str
    notice: str
    first_seen: float
    until: float
    attempt: int
    source: str  # screen | manual | cleared
    resumed: bool = False


@dataclass(frozen=True)
class FireCheckin(Action):
    project: str
    schedule: Schedule
    due: float
    pane: ObservedPane
    reanchor: bool  # missed or held back: the next one is due `every` after this delivery
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"check-in {self.schedule.agent}"

    @property
    def reason(self) -> str:
        late = " (missed while nothing ran)" if self.reanchor else ""
        return f"deliver {self.schedule.note[:60]!r}{late}"


@dataclass(frozen=True)
class SkipCheckin(Action):
    """A missed check-in under `missed: skip`: recorded, not delivered; the next is due `every` from now."""

    project: str
    schedule: Schedule
    due: float
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"check-in {self.schedule.agent}"

    @property
    def reason(self) -> str:
        return "missed while nothing ran: skipped (checkin_policy.missed: skip)"


@dataclass(frozen=True)
class RecoverFiring(Action):
    """A firing left in `typing` by a crashed process: look at the pane before anything is typed again."""

    project: str
    firing: Firing
    pane: ObservedPane | None
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"check-in {self.firing.agent}"

    @property
    def reason(self) -> str:
        return "interrupted delivery: check the screen for its marker"


@dataclass(frozen=True)
class SendResumeNote(Action):
    """An agent's credit hold ended: send `credit.resume_note` once."""

    project: str
    hold: CreditHold
    pane: ObservedPane
    note: str
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"resume {self.hold.agent}"

    @property
    def reason(self) -> str:
        return "credit reset passed: send the resume note"


# -- git worktrees --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesiredWorktree:
    agent: str
    path: str
    branch: str


@dataclass(frozen=True)
class GitSettings:
    """The project's repository and how its worktrees follow upstream."""

    repo: str
    upstream: str
    worktrees: tuple[DesiredWorktree, ...]
    projects_dir: str  # ORCH_HOME/projects/<project>-<id>/worktrees: what orch may remove
    mode: str = "rebase"  # rebase | merge | off
    escalate_to: str | None = None
    integrate: str = "off"  # off | fast-forward
    gate: str | None = None

    def worktree(self, agent: str) -> DesiredWorktree | None:
        return next((w for w in self.worktrees if w.agent == agent), None)


@dataclass(frozen=True)
class CheckedOut:
    """One entry of `git worktree list --porcelain`."""

    path: str
    head: str | None
    branch: str | None
    prunable: bool = False
    primary: bool = False


@dataclass(frozen=True)
class RepoFacts:
    branches: dict  # branch name -> commit
    checkouts: tuple[CheckedOut, ...]

    def checkout_of(self, branch: str) -> CheckedOut | None:
        return next((c for c in self.checkouts if c.branch == branch and not c.prunable), None)

    def checkout_at(self, path: str) -> CheckedOut | None:
        return next((c for c in self.checkouts if c.path == path), None)


@dataclass(frozen=True)
class WorktreeFacts:
    """What one agent's worktree looks like now (None fields: unknown because it is missing)."""

    agent: str
    path: str
    folder_exists: bool
    registered: bool
    dirty: bool = False
    operation: str | None = None  # rebase | merge | cherry-pick | revert | index.lock
    ahead: int = 0
    behind: int = 0
    head: str | None = None


@dataclass(frozen=True)
class SyncRecord:
    """What orch remembers about a worktree's sync between runs."""

    agent: str
    state: str | None = None
    last_sync: float | None = None
    conflict_upstream: str | None = None
    conflict_files: tuple[str, ...] = ()
    escalated_upstream: str | None = None
    skipped_upstream: str | None = None
    gate_failed_head: str | None = None


@dataclass(frozen=True)
class CreateWorktree(Action):
    project: str
    worktree: DesiredWorktree
    start_point: str | None  # upstream when the branch must be created
    prune_first: bool = False
    set_aside: bool = False  # the folder exists but git does not know it: move it aside first
    symbol = "+"
    counts_as = "add"

    @property
    def target(self) -> str:
        return f"worktree {self.worktree.agent}"

    @property
    def reason(self) -> str:
        made = f"new branch {self.worktree.branch} from {self.start_point}" if self.start_point else \
            f"existing branch {self.worktree.branch}"
        return f"{self.worktree.path} ({made})"


@dataclass(frozen=True)
class SyncWorktree(Action):
    project: str
    worktree: DesiredWorktree
    mode: str
    upstream: str
    upstream_commit: str
    behind: int
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"worktree {self.worktree.agent}"

    @property
    def reason(self) -> str:
        return f"{self.mode} onto {self.upstream} ({self.behind} behind)"


@dataclass(frozen=True)
class SkipSync(Action):
    project: str
    agent: str
    upstream_commit: str
    why: str
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"worktree {self.agent}"

    @property
    def reason(self) -> str:
        return f"not synced: {self.why}"


@dataclass(frozen=True)
class Integrate(Action):
    project: str
    worktree: DesiredWorktree
    upstream: str
    upstream_commit: str
    gate: str | None
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"upstream {self.upstream}"

    @property
    def reason(self) -> str:
        return f"fast-forward to {self.worktree.branch}" + (" after the gate passes" if self.gate else "")


@dataclass(frozen=True)
class RemoveWorktree(Action):
    project: str
    agent: str
    path: str
    branch: str | None
    symbol = "-"
    counts_as = "destroy"

    @property
    def target(self) -> str:
        return f"worktree {self.agent}"

    @property
    def reason(self) -> str:
        return "agent removed; nothing in it beyond upstream"


@dataclass(frozen=True)
class Escalate(Action):
    """Tell the `escalate_to` agent about a conflict, once per conflicting upstream commit."""

    project: str
    to: str
    agent: str
    branch: str
    path: str
    upstream: str
    upstream_commit: str
    files: tuple[str, ...]
    symbol = "~"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"escalation to {self.to}"

    @property
    def reason(self) -> str:
        return f"{self.agent}'s branch conflicts with {self.upstream} ({len(self.files)} files)"

    def message(self) -> str:
        files = "\n".join(f"  - {name}" for name in self.files) or "  (git named no files)"
        return (f"orch: the worktree of agent {self.agent} conflicts with {self.upstream} at "
                f"{self.upstream_commit[:12]}.\nBranch: {self.branch}\nWorktree: {self.path}\n"
                f"Conflicting files:\n{files}\nThe rebase was aborted; nothing in the worktree changed. "
                f"Please resolve it with {self.agent} (rebase {self.branch} onto {self.upstream} by hand).")
