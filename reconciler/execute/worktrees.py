"""Carry out worktree actions: create/repair, rebase or merge, skip, escalate, integrate, keep, remove.

Data safety: never `reset --hard`, `checkout --force`, `stash`, `worktree remove --force` or
`branch -D`. A sync never works in the agent's worktree: the rebased commits (or the merge
commit) are computed in the object database alone (`merge-tree --write-tree` and
`commit-tree`, nothing checked out), so a conflict leaves nothing to abort. Then the worktree
is moved to the result with `reset --keep`, which refuses (and changes nothing) when it would
overwrite a change the agent made meanwhile, under git's own lock on the worktree's index.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from reconciler.execute.delivery import deliver
from reconciler.execute.agents import DONE, FAILED, HELD, SKIPPED, Outcome
from reconciler.locks import delivery_lock
from reconciler.home import private_dir
from reconciler.model.agents import Action, ObservedPane
from reconciler.model.worktrees import (
    CreateWorktree, Escalate, GitSettings, Integrate, KeepWorktree, RemoveWorktree, SkipSync, SyncWorktree,
)
from reconciler.git.observe import git, operation_in_progress, worktree_git_dir
from reconciler.state import worktrees as worktree_records
from reconciler.state.store import Store
from reconciler.runtime.tmux import Tmux

GATE_TIMEOUT_S = 600
SYNC_WORKERS = 4  # like the observation: git processes of different worktrees overlap
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
        """Each action once, in order; the syncs of different worktrees overlap (each touches only its own
        worktree and branch, and git's object database takes concurrent writers)."""
        syncs = [a for a in actions if isinstance(a, SyncWorktree)]
        done: dict[int, Outcome] = {}
        if len(syncs) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=SYNC_WORKERS) as pool:
                done = {id(a): o for a, o in zip(syncs, pool.map(self._guarded, syncs))}
        return [done.get(id(action)) or self._guarded(action) for action in actions]

    def _guarded(self, action: Action) -> Outcome:
        try:
            outcome = self._one(action)
        except Exception as err:  # one failure never stops the others
            outcome = Outcome(action, FAILED, f"{type(err).__name__}: {err}")
        if not outcome.ok:
            self._event("sync.failed", f"{action.target}: {outcome.message}", agent=_agent_of(action))
        return outcome

    def _one(self, action: Action) -> Outcome:
        handler: dict[type, Callable[[Any], Outcome]] = {CreateWorktree: self._create, SyncWorktree: self._sync, SkipSync: self._skip,
                   Escalate: self._escalate, Integrate: self._integrate, RemoveWorktree: self._remove,
                   KeepWorktree: self._keep}
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
            return Outcome(action, FAILED, result.stderr.strip() or "git worktree add failed")
        worktree_records.update_sync_record(self.store, self.project, worktree.agent, state="synced", last_sync=time.time())
        self._event("worktree.created", f"worktree for {worktree.agent} at {path} on {worktree.branch}",
                    agent=worktree.agent)
        return Outcome(action, DONE, "created")

    # -- sync ---------------------------------------------------------------------------------------

    def _sync(self, action: SyncWorktree) -> Outcome:
        path, agent, branch = action.worktree.path, action.worktree.agent, action.worktree.branch
        repo, onto = self.settings.repo, action.upstream_commit
        found = git("log", "--no-walk=unsorted", "-s", "--format=%H %T %ct", f"refs/heads/{branch}", onto, "--",
                    cwd=repo, check=False)
        rows = [line.split() for line in found.stdout.splitlines()]
        if found.returncode != 0 or len(rows) != 2 or any(len(row) != 3 for row in rows):
            return Outcome(action, FAILED, f"branch {branch} or upstream commit {onto[:12]} is not there any more")
        tip, (_, onto_tree, committed) = rows[0][0], rows[1]
        built = merged(repo, tip, onto, action.upstream, branch) if action.mode == "merge" else \
            rebased(repo, tip, onto, onto_tree)
        if built.conflicts is not None:
            files = list(built.conflicts)
            worktree_records.update_sync_record(self.store, self.project, agent, state="conflict", last_sync=time.time(),
                                      conflict_upstream=onto, conflict_files=tuple(files))
            self._event("sync.conflict", f"{agent}: {action.mode} onto {action.upstream} conflicts in "
                        f"{', '.join(files) or 'files git did not name'}; not applied, nothing changed", agent=agent,
                        files=files, upstream=onto)
            return Outcome(action, HELD, f"conflict in {', '.join(files) or 'files git did not name'}: "
                           "not applied, worktree unchanged")
        if built.error:
            return Outcome(action, FAILED, f"{action.mode} not computed: {built.error}")
        assert built.commit is not None  # built without error
        refused = move_forward(path, branch, tip, built.commit, action.reason)
        if refused:  # the agent changed something meanwhile (or its own git command runs): left exactly as it is
            worktree_records.update_sync_record(self.store, self.project, agent, state="dirty", skipped_upstream=onto)
            self._event("sync.skipped", f"{agent}: left as it was: {refused}", agent=agent, upstream=onto)
            return Outcome(action, SKIPPED, f"left as it was: {refused}")
        worktree_records.update_sync_record(self.store, self.project, agent, state="synced", last_sync=time.time(),
                                  conflict_upstream=None, conflict_files=(), skipped_upstream=None)
        verb = "merged" if action.mode == "merge" else "rebased"
        # since the upstream commit was made (git keeps whole seconds): what `orch metrics` calls sync latency
        self._event(f"sync.{verb}", f"{agent}: {action.reason}", agent=agent, upstream=onto,
                    latency_s=round(max(0.0, time.time() - int(committed)), 3))
        return Outcome(action, DONE, f"{verb} onto {action.upstream}")

    def _skip(self, action: SkipSync) -> Outcome:
        worktree_records.update_sync_record(self.store, self.project, action.agent, state=action.state,
                                  skipped_upstream=action.upstream_commit)
        self._event("sync.skipped", f"{action.agent}: {action.reason}", agent=action.agent)
        return Outcome(action, SKIPPED, action.reason)

    # -- escalation -----------------------------------------------------------------------------

    def _escalate(self, action: Escalate) -> Outcome:
        pane = self.panes.get(action.to)
        if pane is None or pane.dead:
            return Outcome(action, FAILED, f"{action.to} is not running: the escalation waits for it")
        result = deliver(self.tmux, pane.pane_id, action.message(),
                         lock_file=delivery_lock(self.home, self.project, action.to), ready_timeout=10.0,
                         guard=self.guard_for(action.to))
        if not result.ok:  # held back (out of credit) is as it should be; a failed delivery is not
            return Outcome(action, HELD if result.held else FAILED, f"escalation not delivered yet: {result.reason}")
        worktree_records.update_sync_record(self.store, self.project, action.agent, escalated_upstream=action.upstream_commit)
        self._event("sync.escalated", f"told {action.to} about {action.agent}'s conflict", agent=action.agent,
                    to=action.to, files=list(action.files))
        return Outcome(action, DONE, f"told {action.to}")

    # -- integration ------------------------------------------------------------------------------

    def _integrate(self, action: Integrate) -> Outcome:
        worktree = action.worktree
        # the agent's branch, never the worktree's HEAD (the user may have switched it to a branch of theirs)
        head = git("rev-parse", "--verify", f"refs/heads/{worktree.branch}", cwd=self.settings.repo).stdout.strip()
        if action.gate:
            passed, output = run_gate(action.gate, worktree.path)
            self._event("gate.passed" if passed else "gate.failed", f"gate `{action.gate}` in {worktree.agent}: "
                        f"{'passed' if passed else 'failed'}", agent=worktree.agent, output=output, head=head)
            if not passed:
                worktree_records.update_sync_record(self.store, self.project, worktree.agent, gate_failed_head=head)
                return Outcome(action, HELD, "gate failed: upstream not advanced")
        repo = self.settings.repo
        ancestor = git("merge-base", "--is-ancestor", action.upstream_commit, head, cwd=repo, check=False)
        if ancestor.returncode != 0:
            return Outcome(action, SKIPPED, "not a fast-forward any more: left for the next sync")
        checkout = _checkout_of(repo, action.upstream)
        if checkout is not None:
            if _tracked_changes(checkout) or operation_in_progress(worktree_git_dir(Path(checkout))):
                self._event("sync.integration_blocked", f"{action.upstream} is checked out at {checkout} with "
                            "uncommitted changes: not advanced", agent=worktree.agent)
                return Outcome(action, HELD, f"{action.upstream} checked out in a dirty tree at {checkout}: not advanced")
            result = git("-c", "merge.autoStash=false", "merge", "--ff-only", "--no-autostash", head, cwd=checkout,
                         check=False)
        else:
            result = git("update-ref", f"refs/heads/{action.upstream}", head, action.upstream_commit, cwd=repo,
                         check=False)
        if result.returncode != 0:
            why = _named(result.stderr) or result.stderr.strip() or "could not advance upstream"
            return Outcome(action, FAILED, f"{action.upstream} not advanced: {why}")
        self.advanced_upstream = True
        self._event("sync.integrated", f"{action.upstream} advanced to {worktree.branch} ({head[:12]})",
                    agent=worktree.agent, head=head)
        return Outcome(action, DONE, f"{action.upstream} advanced to {head[:12]}")

    # -- removal ----------------------------------------------------------------------------------

    def _remove(self, action: RemoveWorktree) -> Outcome:
        repo = self.settings.repo
        ignored = git("--no-optional-locks", "status", "--porcelain", "--ignored", cwd=action.path, check=False)
        if ignored.returncode != 0 or ignored.stdout.strip():  # `worktree remove` would delete ignored files
            return self._keep(KeepWorktree(self.project, action.agent, action.path,
                                           "it holds files git does not track (ignored or untracked)"))
        result = git("worktree", "remove", action.path, cwd=repo, check=False)  # refuses if anything is unsaved
        if result.returncode != 0:
            return self._keep(KeepWorktree(self.project, action.agent, action.path, result.stderr.strip()))
        if action.branch:
            git("branch", "-d", action.branch, cwd=repo, check=False)  # -d refuses an unmerged branch
        worktree_records.forget_sync_record(self.store, self.project, action.agent)
        self._event("worktree.removed", f"removed {action.path}; nothing in it beyond upstream", agent=action.agent)
        return Outcome(action, DONE, "removed")

    def _keep(self, action: KeepWorktree) -> Outcome:
        worktree_records.update_sync_record(self.store, self.project, action.agent, state="kept")
        self._event("worktree.kept", f"kept {action.path}: {action.why}", agent=action.agent, path=action.path)
        return Outcome(action, SKIPPED, f"kept {action.path}: {action.why}")


@dataclass(frozen=True)
class Built:
    """The commit a sync would move the branch to, or the conflicting paths, or git's error."""

    commit: str | None = None
    conflicts: tuple[str, ...] | None = None
    error: str | None = None


_FIELDS = 8  # %m %H %P %T %an %ae %ad %B


def rebased(repo: str, tip: str, onto: str, onto_tree: str) -> Built:
    """The branch at `tip` rebased onto `onto`, as `git rebase` would make it (non-merge commits replayed
    in order, those that become empty dropped), built without touching any worktree or ref.

    Each commit C (parent P) is a three-way merge of P, the new base and C: `merge-tree --write-tree`
    (git 2.38+) takes the merge base from history, so where P is not already an ancestor of the base a
    stand-in commit with the base's tree and parent P makes P the merge base."""
    log = git("log", "--reverse", "--topo-order", "--no-merges", "--boundary", "--date=raw", "-z",
              "--format=%m%x00%H%x00%P%x00%T%x00%an%x00%ae%x00%ad%x00%B", f"{onto}..{tip}", cwd=repo, check=False)
    if log.returncode != 0:
        return Built(error=log.stderr.strip())
    fields = log.stdout.split("\0")
    records = [fields[i:i + _FIELDS] for i in range(0, len(fields) - _FIELDS + 1, _FIELDS)]
    below = {r[1] for r in records if r[0] == "-"}  # boundary: ancestors of `onto`
    base, base_tree = onto, onto_tree
    for mark, commit, parents, tree, name, email, date, message in records:
        if mark == "-":
            continue
        parent = parents.split()[0] if parents else None
        if parent is None:
            return Built(error=f"commit {commit[:12]} has no parent: {tip[:12]} shares no history with {onto[:12]}")
        if parent == base:  # already on top of the base: kept as it is
            base, base_tree = commit, tree
            continue
        ours = base
        if parent not in below:
            stand_in = git("commit-tree", base_tree, "-p", parent, "-m", "orch: rebase base", cwd=repo, check=False)
            if stand_in.returncode != 0:
                return Built(error=stand_in.stderr.strip())
            ours = stand_in.stdout.strip()
        merge = git("merge-tree", "--write-tree", "--name-only", "--no-messages", ours, commit, cwd=repo, check=False)
        if merge.returncode == 1:
            return Built(conflicts=tuple(dict.fromkeys(merge.stdout.splitlines()[1:])))
        if merge.returncode != 0:
            return Built(error=merge.stderr.strip())
        new_tree = merge.stdout.split("\n", 1)[0].strip()
        if new_tree == base_tree and tree != git("rev-parse", f"{parent}^{{tree}}", cwd=repo).stdout.strip():
            continue  # its change is upstream already: dropped, as `git rebase` does (one made empty is kept)
        made = git("commit-tree", new_tree, "-p", base, cwd=repo, check=False, input=message,
                   env={"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date})
        if made.returncode != 0:
            return Built(error=made.stderr.strip())
        base, base_tree = made.stdout.strip(), new_tree
    return Built(commit=base)


def merged(repo: str, tip: str, onto: str, upstream: str, branch: str) -> Built:
    """The merge commit of `onto` into the branch at `tip` (or `onto` itself when that is a fast-forward)."""
    if git("merge-base", "--is-ancestor", tip, onto, cwd=repo, check=False).returncode == 0:
        return Built(commit=onto)
    merge = git("merge-tree", "--write-tree", "--name-only", "--no-messages", tip, onto, cwd=repo, check=False)
    if merge.returncode == 1:
        return Built(conflicts=tuple(dict.fromkeys(merge.stdout.splitlines()[1:])))
    if merge.returncode != 0:
        return Built(error=merge.stderr.strip())
    made = git("commit-tree", merge.stdout.split("\n", 1)[0].strip(), "-p", tip, "-p", onto,
               "-m", f"Merge branch '{upstream}' into {branch}", cwd=repo, check=False)
    if made.returncode != 0:
        return Built(error=made.stderr.strip())
    return Built(commit=made.stdout.strip())


def move_forward(path: str, branch: str, tip: str, new: str, why: str) -> str | None:
    """Move the agent's branch, checked out at `path`, from `tip` to `new`, keeping every local change; why
    not, or None.

    `reset --keep` (never --hard) updates only the files that differ between the two commits and refuses,
    changing nothing, where one of them has a local change or an untracked file is in the way; it holds
    the worktree's index.lock meanwhile. It is only run while HEAD is still the agent's branch at `tip`."""
    head, _, on = git("rev-parse", "HEAD", "--symbolic-full-name", "HEAD", cwd=path,
                      check=False).stdout.strip().partition("\n")
    if on != f"refs/heads/{branch}":
        return f"HEAD is not {branch} any more ({on or 'unreadable'})"
    if head != tip:
        return f"{branch} moved during the sync (a new commit?); it is synced on a later pass"
    result = git("reset", "--quiet", "--keep", new, cwd=path, check=False, env={"GIT_REFLOG_ACTION": f"orch: {why}"})
    if result.returncode == 0:
        return None
    return _named(result.stderr) or f"git refused to move it: {(result.stderr or result.stdout).strip()[:300]}"


def _named(stderr: str) -> str | None:
    """git's refusal to overwrite something, in a few words with the files it names (quoted in
    `Entry 'x' not uptodate`, or tab-indented under `Your local changes ...`)."""
    files = re.findall(r"(?:Entry|file) '([^']+)'", stderr) + \
        [line.strip() for line in stderr.splitlines() if line.startswith("\t")]
    if not files:
        return None
    kind = "untracked files" if "untracked working tree file" in stderr.lower() else "local changes"
    return f"git would overwrite {kind} in {', '.join(dict.fromkeys(files))}"


def _tracked_changes(path: str) -> bool:
    """Changes to tracked files. Untracked files do not count: a fast-forward minds only those in its
    way, and then refuses by itself, naming them."""
    status = git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no", cwd=path, check=False)
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
    from reconciler.git.observe import observe_repo

    checkout = observe_repo(repo).checkout_of(branch)
    return checkout.path if checkout else None


def _agent_of(action: Action) -> str | None:
    for attribute in ("agent",):
        value = getattr(action, attribute, None)
        if isinstance(value, str):
            return value
    worktree = getattr(action, "worktree", None)
    return worktree.agent if worktree is not None else None
