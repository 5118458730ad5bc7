"""Observe git: the repository's branches and checkouts (two processes), and each agent worktree.

Read-only. A worktree's own facts (dirty? mid-operation? ahead/behind?) cost two git
processes each and only file checks beyond that; they are gathered off the check-in path.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from reconciler.errors import UserError
from reconciler.model.worktrees import CheckedOut, DesiredWorktree, RepoFacts, WorktreeFacts

OPERATIONS = (("rebase-merge", "rebase"), ("rebase-apply", "rebase"), ("MERGE_HEAD", "merge"),
              ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert"), ("BISECT_LOG", "bisect"),
              ("sequencer", "cherry-pick or revert sequence"), ("index.lock", "index.lock"))


def git(*args: str, cwd: str | Path, check: bool = True, timeout: float = 120,
        input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run git with an argv list (never a shell), English messages, no prompts; `env` adds variables.

    ORCH_HOOKS_QUIET keeps orch's own hooks from waking the watcher for orch's own work.
    """
    env = dict(os.environ, LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_EDITOR="true", ORCH_HOOKS_QUIET="1",
               **(env or {}))
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                                input=input)
    except FileNotFoundError:
        if not Path(cwd).is_dir():
            raise UserError(f"{cwd} does not exist any more (moved or deleted?)") from None
        raise UserError("git is not installed (install it, e.g. `apt-get install git`)") from None
    if check and result.returncode != 0:
        raise UserError(f"git {args[0]} failed in {cwd}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def current_branch(repo: str | Path) -> str | None:
    result = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=repo, check=False)
    return result.stdout.strip() or None


def parse_worktree_list(porcelain: str) -> tuple[CheckedOut, ...]:
    checkouts: list[CheckedOut] = []
    entry: dict[str, str] = {}
    for line in porcelain.splitlines() + [""]:
        if not line:
            if entry:
                branch = entry.get("branch")
                checkouts.append(CheckedOut(
                    path=entry["worktree"], head=entry.get("HEAD"),
                    branch=branch[len("refs/heads/"):] if branch and branch.startswith("refs/heads/") else None,
                    prunable="prunable" in entry, primary=not checkouts))
            entry = {}
            continue
        key, _, value = line.partition(" ")
        entry[key] = value
    return tuple(checkouts)


def observe_repo(repo: str | Path) -> RepoFacts:
    listing = git("worktree", "list", "--porcelain", cwd=repo).stdout
    refs = git("for-each-ref", "--format=%(refname:short)%00%(objectname)", "refs/heads", cwd=repo).stdout
    branches = dict(line.split("\0", 1) for line in refs.splitlines() if "\0" in line)
    return RepoFacts(branches=branches, checkouts=parse_worktree_list(listing))


def worktree_git_dir(path: Path) -> Path | None:
    """The private git folder of a linked worktree, from its `.git` file."""
    dot_git = path / ".git"
    try:
        text = dot_git.read_text().strip() if dot_git.is_file() else ""
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return path / ".git" if dot_git.is_dir() else None
    target = Path(text[len("gitdir:"):].strip())
    return target if target.is_absolute() else (path / target).resolve()


def operation_in_progress(git_dir: Path | None) -> str | None:
    if git_dir is None:
        return None
    for name, operation in OPERATIONS:
        if (git_dir / name).exists():
            return operation
    return None


def observe_worktree(worktree: DesiredWorktree, repo: RepoFacts, upstream: str) -> WorktreeFacts:
    path = Path(worktree.path)
    checkout = repo.checkout_at(str(path))
    registered = checkout is not None and not checkout.prunable
    folder_exists = (path / ".git").exists()
    if not (registered and folder_exists):
        return WorktreeFacts(worktree.agent, str(path), folder_exists, registered)
    assert checkout is not None  # registered
    git_dir = worktree_git_dir(path)
    operation = operation_in_progress(git_dir)
    status = git("--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=normal",
                 cwd=path, check=False)
    dirty = status.returncode != 0 or bool(status.stdout.strip("\0"))
    ahead = behind = 0
    counts = git("rev-list", "--left-right", "--count", f"{worktree.branch}...{upstream}", cwd=path, check=False)
    if counts.returncode == 0 and counts.stdout.split():
        ahead, behind = (int(n) for n in counts.stdout.split()[:2])
    foreign = operation is None and checkout.branch != worktree.branch
    return WorktreeFacts(worktree.agent, str(path), True, True, dirty, operation, ahead, behind, checkout.head,
                         checkout.branch, foreign)


def diff_size(worktree: str, upstream_commit: str) -> dict[str, int] | None:
    """Lines the worktree's branch adds and removes on top of upstream (its commits since the merge
    base), for the board; None if git cannot say."""
    import re

    result = git("diff", "--shortstat", f"{upstream_commit}...HEAD", cwd=worktree, check=False)
    if result.returncode != 0:
        return None
    added = re.search(r"(\d+) insertion", result.stdout)
    removed = re.search(r"(\d+) deletion", result.stdout)
    return {"added": int(added.group(1)) if added else 0, "removed": int(removed.group(1)) if removed else 0}
