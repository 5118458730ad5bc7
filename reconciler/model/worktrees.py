"""Plain data of git worktrees: settings, what git shows, sync records, and their actions."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model.agents import Action


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
    operation: str | None = None  # rebase | merge | cherry-pick | revert | bisect | sequence | index.lock
    ahead: int = 0
    behind: int = 0
    head: str | None = None
    checked_out: str | None = None  # the branch HEAD is on (None: detached)
    foreign: bool = False  # HEAD is not the agent's branch (and no operation explains it): never synced

    @property
    def holds_work(self) -> str | None:
        """What of the user's this worktree holds, in words; None when nothing beyond upstream."""
        if self.operation:
            return f"in the middle of a {self.operation}"
        if self.dirty:
            return "uncommitted or untracked files"
        if self.ahead:
            return f"{self.ahead} commit{'s' if self.ahead != 1 else ''} not on upstream"
        return None


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
    state: str = "dirty"  # dirty | foreign-branch: what the sync record says until the next sync
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
class KeepWorktree(Action):
    """A removed agent's worktree that holds something of the user's: kept, and said where (once)."""

    project: str
    agent: str
    path: str
    why: str
    symbol = "="
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"worktree {self.agent}"

    @property
    def reason(self) -> str:
        return f"kept at {self.path}: {self.why}"


@dataclass(frozen=True)
class GitProblem(Action):
    """Not something to do: the reason git work stopped for a project (an outcome of `orch sync`)."""

    project: str
    message: str
    symbol = "!"
    counts_as = "none"

    @property
    def target(self) -> str:
        return f"git of {self.project}"

    @property
    def reason(self) -> str:
        return self.message


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
    mode: str = "rebase"
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
                f"Conflicting files:\n{files}\norch did not {'merge' if self.mode == 'merge' else 'rebase'}; "
                f"nothing in the worktree changed. "
                f"Please resolve it with {self.agent} (rebase {self.branch} onto {self.upstream} by hand).")
