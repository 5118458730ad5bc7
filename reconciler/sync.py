"""Worktrees of one project: created, repaired, synced with upstream (conflicts escalated), hooked,
and removed on destroy when they hold nothing beyond upstream. `orch sync` is `sync_project`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from reconciler.context import Context, PassResult
from reconciler.errors import ProjectGone, UserError
from reconciler.locks import exclusive, git_lock
from reconciler.manifest.desired import desired_project, worktrees_dir
from reconciler.manifest.loader import LoadedManifest, ManifestError, parse_manifest
from reconciler.model.agents import DesiredProject
from reconciler.state.store import ProjectRecord, Store
from reconciler.windows import observe_project


def project_upstream(loaded: LoadedManifest, record: ProjectRecord | None) -> str | None:
    """The branch the project's worktrees follow: spec.upstream, else the one stored when the project was
    first applied, else (never applied, or applied before orch stored it) the branch checked out in the
    repository now. None without a repository, or when that checkout has a detached HEAD.

    Whatever the user checks out later never changes it: only spec.upstream does."""
    spec = loaded.manifest.spec
    if spec.repo is None:
        return None
    if spec.upstream is not None:
        return spec.upstream
    if record is not None and record.upstream:
        return record.upstream
    from reconciler.git.observe import current_branch  # lazy: only a project with a repository needs git

    try:
        return current_branch(loaded.resolve(spec.repo))
    except UserError:
        return None


def no_upstream(loaded: LoadedManifest) -> str:
    repo = loaded.resolve(loaded.manifest.spec.repo)
    return (f"{repo} has no current branch (detached HEAD), so orch cannot tell which branch the worktrees "
            f"should follow: set spec.upstream in {loaded.path} (or check out the branch and apply again)")


def converge_worktrees(ctx: Context, store: Store, desired: DesiredProject, sync: bool,
                       panes: dict | None = None) -> list:
    """Worktrees created or repaired (and with `sync`, brought up to upstream, conflicts escalated)."""
    from reconciler.git.observe import observe_repo  # lazy: only a project with a repository needs git
    from reconciler.plan.worktrees import plan_escalations, plan_worktrees  # lazy: only a project with a repository needs git
    from reconciler.state import worktrees as worktree_records  # lazy: only a project with a repository needs git
    from reconciler.execute.worktrees import GitExecutor  # lazy: off `orch plan`'s path
    settings = desired.git
    assert settings is not None  # called for a project with a repository
    executor = GitExecutor(store, ctx.home, desired.name, settings, ctx.tmux, panes or {},
                           _escalation_guard(store, desired))
    outcomes = []
    while True:
        repo = observe_repo(settings.repo)
        facts, leftovers = observe_worktrees(settings, repo)
        actions, problems = plan_worktrees(desired.name, settings, repo, facts,
                                           worktree_records.sync_records(store, desired.name), leftovers, sync)
        if problems:
            raise UserError("\n".join(p.message for p in problems))
        outcomes += executor.execute(actions)
        if sync:  # conflicts just recorded are escalated from the records; no second observation needed
            escalations = plan_escalations(desired.name, settings, worktree_records.sync_records(store, desired.name),
                                           repo.branches.get(settings.upstream))
            outcomes += executor.execute(escalations)
        if not (sync and executor.advanced_upstream):
            return outcomes
        executor.advanced_upstream = False  # upstream moved under us: bring the others along now


def observe_worktrees(settings, repo) -> tuple[dict, dict]:
    """Facts of each desired worktree, and of worktrees left in orch's folder by removed agents."""
    from reconciler.git.observe import observe_worktree  # lazy: only a project with a repository needs git
    from reconciler.model.worktrees import DesiredWorktree  # lazy: only a project with a repository needs git
    from concurrent.futures import ThreadPoolExecutor  # lazy: off `orch plan`'s path
    with ThreadPoolExecutor(max_workers=4) as pool:  # git processes overlap: ~40% less wall time for 10
        observed = pool.map(lambda w: observe_worktree(w, repo, settings.upstream), settings.worktrees)
        facts = {fact.agent: fact for fact in observed}
    leftovers = {}
    folder = Path(settings.projects_dir)
    wanted = {w.agent for w in settings.worktrees}
    for checkout in repo.checkouts:
        path = Path(checkout.path)
        if path.parent == folder and path.name not in wanted:
            leftover = DesiredWorktree(path.name, str(path), checkout.branch or "HEAD")
            leftovers[path.name] = observe_worktree(leftover, repo, settings.upstream)
    return facts, leftovers


def _escalation_guard(store: Store, desired: DesiredProject):
    from reconciler.execute.checkins import credit_guard  # lazy: off `orch plan`'s path
    return lambda agent: credit_guard(store, desired.name, agent, desired.credit_shared, desired.credit_patterns,
                                      desired.kind_of(agent))


def sync_project(ctx: Context, loaded: LoadedManifest, repeat_problems: bool = True) -> PassResult:
    """`orch sync`: bring the project's clean worktrees up to upstream now (its own lock: off the check-in path).

    A git problem (the repository gone, upstream deleted, ...) stops this project's git work only: it is
    recorded once (then when it changes) and, with `repeat_problems`, returned as a failed outcome each time."""
    from reconciler.model.worktrees import GitProblem  # lazy: only a project with a repository needs git
    from reconciler.execute.agents import FAILED, Outcome  # lazy: off `orch plan`'s path
    name = loaded.manifest.metadata.name
    result = PassResult(name)
    if loaded.manifest.spec.repo is None:
        return result
    with exclusive(git_lock(ctx.home, name), ctx.lock_timeout):
        store = ctx.store(maintain=True)
        record = store.project(name)
        if record is None:
            raise ProjectGone(f"project {name!r} is not applied yet: run `orch apply {loaded.path}` first")
        upstream = project_upstream(loaded, record)
        problem = None if upstream is not None else no_upstream(loaded)
        if upstream is not None:
            desired = desired_project(loaded, record.id, ctx.home, ctx.socket, upstream)
            observed = observe_project(ctx, desired)
            panes = {p.agent: p for p in observed.agent_panes(name) if p.session_name == desired.session}
            try:
                result.outcomes += converge_worktrees(ctx, store, desired, sync=True, panes=panes)
                ensure_hooks(store, desired)
            except UserError as err:
                problem = str(err)
        new = report_git_problem(store, name, problem)
        if problem is not None and (new or repeat_problems):
            result.outcomes.append(Outcome(GitProblem(name, problem), FAILED, f"git work stopped: {problem}"))
    return result


def report_git_problem(store: Store, project: str, problem: str | None) -> bool:
    """Say once that git work stopped for this project (and once when it works again)."""
    return store.report_once(project, "git", problem, "git.problem", cleared="git.recovered")


def worktrees_ready(desired: DesiredProject, quick: bool, store: Store) -> bool:
    """In a reconcile pass (quick): are the worktrees there? Only stats, no git process.

    The git lane (sync_project) looks properly and keeps the hooks in place.
    """
    if not quick:
        return False  # apply looks properly (and may repair)
    assert desired.git is not None
    return all((Path(w.path) / ".git").exists() for w in desired.git.worktrees)


def ensure_hooks(store: Store, desired: DesiredProject) -> None:
    """Git hooks that wake this ORCH_HOME's watcher when this upstream or a worktree moves.

    What was installed is recorded as it happens; a hook left alone (not orch's, or a hooks folder
    orch must not write) is recorded once, then only when that changes."""
    from reconciler.git import hooks as githooks  # lazy: off `orch plan`'s path
    assert desired.git is not None
    repo, home, upstream = Path(desired.git.repo), store.home, desired.git.upstream
    if githooks.hooks_installed(repo, home, upstream):
        store.report_once(desired.name, "hooks", None, "hooks.left_alone")
        return
    left = []
    for line in githooks.install_hooks(repo, home, upstream):
        if githooks.is_refusal(line):
            left.append(line)
        else:
            store.record_event("hooks.installed", line, project=desired.name)
    store.report_once(desired.name, "hooks", "; ".join(left) or None, "hooks.left_alone")


def destroy_worktrees(ctx: Context, store: Store, record) -> list:
    """Remove the project's worktrees that hold nothing beyond upstream; keep the rest and say where; unhook.
    The caller holds the project's git lock."""
    from reconciler.model.worktrees import KeepWorktree  # lazy: only a project with a repository needs git
    from reconciler.state import worktrees as worktree_records  # lazy: only a project with a repository needs git
    from reconciler.execute.agents import Outcome, SKIPPED  # lazy: off `orch plan`'s path
    from reconciler.git import hooks as githooks  # lazy: off `orch plan`'s path
    try:
        loaded = parse_manifest(record.manifest_text, Path(record.manifest_path))
    except ManifestError:
        return []
    if loaded.manifest.spec.repo is None or not Path(loaded.resolve(loaded.manifest.spec.repo)).is_dir():
        return []
    desired = desired_project(loaded, record.id, ctx.home, ctx.socket, project_upstream(loaded, record))
    outcomes: list = []
    if desired.git is not None:
        worktree_records.forget_sync_record(store, record.name)  # every kept worktree is said again, with where it is
        try:
            outcomes += converge_worktrees(ctx, store, replace(desired, git=replace(desired.git, worktrees=())),
                                           sync=False)
        except UserError as err:
            store.record_event("git.problem", f"worktrees not judged: {err}", project=record.name)
    said = {o.action.path for o in outcomes if isinstance(o.action, KeepWorktree)}
    for path in sorted(worktrees_dir(ctx.home, record.name, record.id).glob("*")):
        if str(path) not in said:  # git could not judge it (or does not know it): kept, never guessed at
            keep = KeepWorktree(record.name, path.name, str(path), "orch could not tell that it holds nothing "
                                "of yours")
            outcomes.append(Outcome(keep, SKIPPED, f"kept {path}: {keep.why}"))
    repo = str(loaded.resolve(loaded.manifest.spec.repo))
    if not _repo_shared(store, record.name, repo):
        for line in githooks.remove_hooks(Path(repo), home=store.home):
            store.record_event("hooks.removed", line, project=record.name)
    return outcomes


def _repo_shared(store: Store, name: str, repo: str) -> bool:
    """Does another registered project use the same repository (and so its hooks)?"""
    for other in store.projects():
        if other.name == name or not other.manifest_text:
            continue
        try:
            spec = parse_manifest(other.manifest_text, Path(other.manifest_path)).manifest.spec
        except ManifestError:
            continue
        if spec.repo and str(Path(other.manifest_path).parent.joinpath(spec.repo).resolve()) == repo:
            return True
    return False
