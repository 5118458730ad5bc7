"""The worktree planner: git settings + repository + worktree facts + sync records -> actions. Pure.

Data safety is decided here, before anything runs: a worktree that is dirty or in the middle
of an operation is never synced; one whose HEAD is not the agent's branch (the user switched
it) is never synced or integrated; a worktree or branch holding anything not on upstream is
never removed (it is kept, and said where); a branch checked out somewhere else is reported,
not forced.
"""

from __future__ import annotations

from typing import Mapping

from reconciler.model.agents import Action, Problem
from reconciler.model.worktrees import (
    CreateWorktree, Escalate, GitSettings, Integrate, KeepWorktree, RemoveWorktree, RepoFacts, SkipSync,
    SyncRecord, SyncWorktree, WorktreeFacts,
)


def worktree_state(facts: WorktreeFacts | None, record: SyncRecord | None, upstream_commit: str | None) -> str:
    """The first that applies of missing, foreign-branch, conflict, dirty, behind, synced (DESIGN.md section 6)."""
    if facts is None or not (facts.folder_exists and facts.registered):
        return "missing"
    if facts.foreign:
        return "foreign-branch"
    if record is not None and record.conflict_upstream and record.conflict_upstream == upstream_commit \
            and facts.behind:
        return "conflict"
    if facts.dirty or facts.operation:
        return "dirty"
    if facts.behind:
        return "behind"
    return "synced"


def plan_worktrees(project: str, git: GitSettings, repo: RepoFacts, facts: Mapping[str, WorktreeFacts],
                   records: Mapping[str, SyncRecord], leftovers: Mapping[str, WorktreeFacts],
                   sync: bool) -> tuple[list[Action], list[Problem]]:
    """Create or repair worktrees; with `sync`, bring clean ones up to upstream and integrate.

    `leftovers`: worktrees in orch's folder whose agent left the manifest.
    """
    actions: list[Action] = []
    problems: list[Problem] = []
    upstream_commit = repo.branches.get(git.upstream)
    if upstream_commit is None:
        problems.append(Problem(project, f"upstream branch {git.upstream!r} does not exist in {git.repo}; "
                                         "create it or set spec.upstream"))
        return actions, problems
    ours = git.projects_dir.rstrip("/") + "/"
    foreign_prunable = [c.path for c in repo.checkouts if c.prunable and not c.path.startswith(ours)]
    for worktree in git.worktrees:
        seen = facts.get(worktree.agent)
        if seen is not None and seen.folder_exists and seen.registered:
            if sync and git.mode != "off":
                actions += _sync_actions(project, git, worktree, seen, records.get(worktree.agent), upstream_commit)
            continue
        elsewhere = repo.checkout_of(worktree.branch)
        if elsewhere is not None and elsewhere.path != worktree.path:
            problems.append(Problem(project, (
                f"branch {worktree.branch} (agent {worktree.agent}) is already checked out at {elsewhere.path}; "
                f"check out another branch there, or set agents[].branch for {worktree.agent}")))
            continue
        start = None if worktree.branch in repo.branches else git.upstream
        stale = repo.checkout_at(worktree.path)
        prune = stale is not None and stale.prunable
        if prune and foreign_prunable:
            # `git worktree prune` forgets every missing worktree, the user's too (their index and HEAD).
            problems.append(Problem(project, (
                f"the worktree of {worktree.agent} at {worktree.path} was deleted, and git would also forget "
                f"worktrees that are not orch's ({', '.join(foreign_prunable)}); run `git worktree prune` "
                "yourself once they are safe to forget")))
            continue
        actions.append(CreateWorktree(project, worktree, start, prune_first=prune,
                                      set_aside=seen is not None and seen.folder_exists and not seen.registered))
    for agent, left in sorted(leftovers.items()):
        if not left.registered:
            continue
        work = left.holds_work
        if work is None:
            checkout = repo.checkout_at(left.path)
            own = checkout is not None and checkout.branch == f"orch/{agent}"  # never delete a user's branch
            actions.append(RemoveWorktree(project, agent, left.path, checkout.branch if checkout is not None and own else None))
        elif (record := records.get(agent)) is None or record.state != "kept":
            actions.append(KeepWorktree(project, agent, left.path, work))
    return actions, problems


def _sync_actions(project: str, git: GitSettings, worktree, seen: WorktreeFacts, record: SyncRecord | None,
                  upstream_commit: str) -> list[Action]:
    if seen.foreign:  # the user's branch: never rebased, merged or integrated; said once
        if record is not None and record.state == "foreign-branch":
            return []
        on = f"on branch {seen.checked_out}" if seen.checked_out else "detached"
        return [SkipSync(project, worktree.agent, upstream_commit,
                         f"HEAD is {on}, not {worktree.branch}: orch leaves this worktree alone until "
                         f"{worktree.branch} is checked out in it again", state="foreign-branch")]
    if seen.behind:
        if seen.operation or seen.dirty:
            why = f"in the middle of a {seen.operation}" if seen.operation else "uncommitted changes"
            if seen.operation == "index.lock":
                why = "index.lock present (a git command is running, or one crashed: remove it if none runs)"
            if record is None or record.skipped_upstream != upstream_commit:
                return [SkipSync(project, worktree.agent, upstream_commit, why)]
            return []
        if record is not None and record.conflict_upstream == upstream_commit:
            return []  # this upstream commit conflicts with the branch: escalated already, wait for a new one
        return [SyncWorktree(project, worktree, git.mode, git.upstream, upstream_commit, seen.behind)]
    if git.integrate == "fast-forward" and seen.ahead and not seen.dirty and not seen.operation \
            and (record is None or record.gate_failed_head != seen.head):
        return [Integrate(project, worktree, git.upstream, upstream_commit, git.gate)]
    return []


def plan_escalations(project: str, git: GitSettings, records: Mapping[str, SyncRecord],
                     upstream_commit: str | None) -> list[Action]:
    """One message per conflicting upstream commit, to the agent named in sync.escalate_to."""
    if git.escalate_to is None or upstream_commit is None:
        return []
    actions: list[Action] = []
    for agent, record in sorted(records.items()):
        worktree = git.worktree(agent)
        if worktree is None or record.conflict_upstream != upstream_commit:
            continue
        if record.escalated_upstream == upstream_commit:
            continue
        actions.append(Escalate(project, git.escalate_to, agent, worktree.branch, worktree.path, git.upstream,
                                upstream_commit, record.conflict_files, git.mode))
    return actions
