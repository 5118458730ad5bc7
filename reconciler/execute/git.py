"""Carry out worktree actions: create/repair, rebase or merge, skip, escalate, integrate, remove.

Data safety: never `reset --hard`, `checkout --force`, `stash`, `worktree remove --force` or
`branch -D`. A rebase or merge that conflicts is aborted, and HEAD is checked to be exactly
where it was; autostash is switched off so nothing of the user's is ever stashed.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from reconciler.execute.delivery import deliver
from reconciler.execute.tmux import Outcome, delivery_lock
from reconciler.home import private_dir
from reconciler.model import Action, ObservedPane
from reconciler.model_git import (
    CreateWorktree, Escalate, GitSettings, Integrate, RemoveWorktree, SkipSync, SyncWorktree,
)
from reconciler.observe.git import git, operation_in_progress, worktree_git_dir
from reconciler.state import ledger
from reconciler.state.store import Store
from reconciler.tmux import Tmux

GATE_TIMEOUT_S = 600
GATE_OUTPUT_CHARS = 4000


class GitExecutor:
    def __init__(self, store: Store, home: Path, project: str, settings: GitSettings, tmux: Tmux,
                 panes: dict[str, ObservedPane], guard_for=None):
        self.store = store
        self.home = home
        self.project = project
        self.settings = settings
        self.tmux = tmux
        self.panes = panes
        self.guard_for = guard_for or (lambda agent: None)
        self.advanced_upstream = False

    def execute(self, actions: list[Action]) -> list[Outcome]:
        outcomes = []
        for action in actions:
            try:
                outcomes.append(self._one(action))
            except Exception as err:  # one failure never stops the others
                outcomes.append(Outcome(action, False, f"{type(err).__name__}: {err}"))
            if not outcomes[-1].ok:
                self._event("sync.failed", f"{action.target}: {outcomes[-1].message}", agent=_agent_of(action))
        return outcomes

    def _one(self, action: Action) -> Outcome:
        handler = {CreateWorktree: self._create, SyncWorktree: self._sync, SkipSync: self._skip,
                   Escalate: self._escalate, Integrate: self._integrate, RemoveWorktree: self._remove}
        return handler[type(action)](action)

    def _event(self, kind: str, message: str, agent: str | None = None, **data) -> None:
        self.store.record_event(kind, message, project=self.project, agent=agent, **data)

    # -- create and repair ------------------------------------------------------------------------

    def _create(self, action: CreateWorktree) -> Outcome:
        repo, worktree = self.settings.repo, action.worktree
        path = Path(worktree.path)
        if action.prune_first:
            git("worktree", "prune", cwd=repo)
        if action.set_aside:
            aside = path.with_name(f"{path.name}.set-aside-{int(time.time())}")
            os.replace(path, aside)
            self._event("worktree.set_aside", f"{path} was not a worktree git knows; moved it to {aside}",
                        agent=worktree.agent)
        private_dir(path.parent)
        if action.start_point:
            result = git("worktree", "add", "-b", worktree.branch, str(path), action.start_point, cwd=repo, check=False)
        else:
            result = git("worktree", "add", str(path), worktree.branch, cwd=repo, check=False)
        if result.returncode != 0:
            return Outcome(action, False, result.stderr.strip() or "git worktree add failed")
        ledger.update_sync_record(self.store, self.project, worktree.agent, state="synced", last_sync=time.time())
        self._event("worktree.created", f"worktree for {worktree.agent} at {path} on {worktree.branch}",
                    agent=worktree.agent)
        return Outcome(action, True, "created")

    # -- sync ---------------------------------------------------------------------------------------

    def _sync(self, action: SyncWorktree) -> Outcome:
        path, agent = action.worktree.path, action.worktree.agent
        if _dirty(path):  # an agent may have started editing since the observation: never touch it
            return self._skip(SkipSync(self.project, agent, action.upstream_commit, "uncommitted changes"))
        before = git("rev-parse", "HEAD", cwd=path).stdout.strip()
        if action.mode == "merge":
            result = git("-c", "merge.autoStash=false", "merge", "--no-edit", "--no-autostash", action.upstream,
                         cwd=path, check=False)
        else:
            result = git("-c", "rebase.autoStash=false", "rebase", "--no-autostash", action.upstream,
                         cwd=path, check=False)
        if result.returncode == 0:
            ledger.update_sync_record(self.store, self.project, agent, state="synced", last_sync=time.time(),
                                      conflict_upstream=None, conflict_files=(), skipped_upstream=None)
            self._event(f"sync.{action.mode}d" if action.mode == "merge" else "sync.rebased",
                        f"{agent}: {action.reason}", agent=agent, upstream=action.upstream_commit)
            return Outcome(action, True, f"{action.mode}d onto {action.upstream}" if action.mode == "merge"
                           else f"rebased onto {action.upstream}")
        files = git("diff", "--name-only", "--diff-filter=U", cwd=path, check=False).stdout.split()
        in_progress = operation_in_progress(worktree_git_dir(Path(path)))
        if not files and not in_progress:  # refused before starting (e.g. a file appeared): not a conflict
            return Outcome(action, False, f"{action.mode} refused: {(result.stderr or result.stdout).strip()[:300]}")
        self._abort(path, action.mode)
        after = git("rev-parse", "HEAD", cwd=path).stdout.strip()
        if after != before or operation_in_progress(worktree_git_dir(Path(path))):
            self._event("sync.abort_incomplete", f"{agent}: the aborted {action.mode} did not return to {before[:12]}",
                        agent=agent)
        ledger.update_sync_record(self.store, self.project, agent, state="conflict", last_sync=time.time(),
                                  conflict_upstream=action.upstream_commit, conflict_files=tuple(files))
        self._event("sync.conflict", f"{agent}: {action.mode} onto {action.upstream} conflicts in "
                    f"{', '.join(files) or 'unknown files'}; aborted, nothing changed", agent=agent,
                    files=files, upstream=action.upstream_commit)
        return Outcome(action, True, f"conflict in {', '.join(files) or '?'}: aborted, worktree unchanged")

    def _abort(self, path: str, mode: str) -> None:
        git(mode, "--abort", cwd=path, check=False)

    def _skip(self, action: SkipSync) -> Outcome:
        ledger.update_sync_record(self.store, self.project, action.agent, state="dirty",
                                  skipped_upstream=action.upstream_commit)
        self._event("sync.skipped", f"{action.agent}: {action.reason}", agent=action.agent)
        return Outcome(action, True, action.reason)

    # -- escalation -----------------------------------------------------------------------------

    def _escalate(self, action: Escalate) -> Outcome:
        pane = self.panes.get(action.to)
        if pane is None or pane.dead:
            return Outcome(action, False, f"{action.to} is not running: the escalation waits for it")
        result = deliver(self.tmux, pane.pane_id, action.message(),
                         lock_file=delivery_lock(self.home, self.project, action.to), ready_timeout=10.0,
                         guard=self.guard_for(action.to))
        if not result.ok:
            return Outcome(action, not result.held, f"escalation not delivered yet: {result.reason}")
        ledger.update_sync_record(self.store, self.project, action.agent, escalated_upstream=action.upstream_commit)
        self._event("sync.escalated", f"told {action.to} about {action.agent}'s conflict", agent=action.agent,
                    to=action.to, files=list(action.files))
        return Outcome(action, True, f"told {action.to}")

    # -- integration ------------------------------------------------------------------------------

    def _integrate(self, action: Integrate) -> Outcome:
        worktree = action.worktree
        head = git("rev-parse", "HEAD", cwd=worktree.path).stdout.strip()
        if action.gate:
            passed, output = run_gate(action.gate, worktree.path)
            self._event("gate.passed" if passed else "gate.failed", f"gate `{action.gate}` in {worktree.agent}: "
                        f"{'passed' if passed else 'failed'}", agent=worktree.agent, output=output, head=head)
            if not passed:
                ledger.update_sync_record(self.store, self.project, worktree.agent, gate_failed_head=head)
                return Outcome(action, True, "gate failed: upstream not advanced")
        repo = self.settings.repo
        ancestor = git("merge-base", "--is-ancestor", action.upstream_commit, head, cwd=repo, check=False)
        if ancestor.returncode != 0:
            return Outcome(action, True, "not a fast-forward any more: left for the next sync")
        checkout = _checkout_of(repo, action.upstream)
        if checkout is not None:
            if _dirty(checkout) or operation_in_progress(worktree_git_dir(Path(checkout))):
                self._event("sync.integration_blocked", f"{action.upstream} is checked out at {checkout} with "
                            "uncommitted changes: not advanced", agent=worktree.agent)
                return Outcome(action, True, f"{action.upstream} checked out in a dirty tree at {checkout}: not advanced")
            result = git("merge", "--ff-only", head, cwd=checkout, check=False)
        else:
            result = git("update-ref", f"refs/heads/{action.upstream}", head, action.upstream_commit, cwd=repo,
                         check=False)
        if result.returncode != 0:
            return Outcome(action, False, result.stderr.strip() or "could not advance upstream")
        self.advanced_upstream = True
        self._event("sync.integrated", f"{action.upstream} advanced to {worktree.branch} ({head[:12]})",
                    agent=worktree.agent, head=head)
        return Outcome(action, True, f"{action.upstream} advanced to {head[:12]}")

    # -- removal ----------------------------------------------------------------------------------

    def _remove(self, action: RemoveWorktree) -> Outcome:
        repo = self.settings.repo
        ignored = git("--no-optional-locks", "status", "--porcelain", "--ignored", cwd=action.path, check=False)
        if ignored.returncode != 0 or ignored.stdout.strip():  # `worktree remove` would delete ignored files
            return Outcome(action, True, "kept: it holds files git does not track (ignored or untracked)")
        result = git("worktree", "remove", action.path, cwd=repo, check=False)  # refuses if anything is unsaved
        if result.returncode != 0:
            return Outcome(action, True, f"kept: {result.stderr.strip()}")
        if action.branch:
            git("branch", "-d", action.branch, cwd=repo, check=False)  # -d refuses an unmerged branch
        ledger.forget_sync_record(self.store, self.project, action.agent)
        self._event("worktree.removed", f"removed {action.path}; nothing in it beyond upstream", agent=action.agent)
        return Outcome(action, True, "removed")


def _dirty(path: str) -> bool:
    status = git("--no-optional-locks", "status", "--porcelain", cwd=path, check=False)
    return status.returncode != 0 or bool(status.stdout.strip())


def run_gate(command: str, cwd: str) -> tuple[bool, str]:
    """The manifest author's own gate command, run as one shell command line in the worktree."""
    try:
        result = subprocess.run(["/bin/sh", "-c", command], cwd=cwd, capture_output=True, text=True,
                                timeout=GATE_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        output = (err.stdout or "") + (err.stderr or "") if isinstance(err.stdout, str) else ""
        return False, f"timed out after {GATE_TIMEOUT_S}s\n{output[-GATE_OUTPUT_CHARS:]}"
    return result.returncode == 0, (result.stdout + result.stderr)[-GATE_OUTPUT_CHARS:]


def _checkout_of(repo: str, branch: str) -> str | None:
    from reconciler.observe.git import observe_repo

    checkout = observe_repo(repo).checkout_of(branch)
    return checkout.path if checkout else None


def _agent_of(action: Action) -> str | None:
    for attribute in ("agent",):
        value = getattr(action, attribute, None)
        if isinstance(value, str):
            return value
    worktree = getattr(action, "worktree", None)
    return worktree.agent if worktree is not None else None
