"""The reconcile loop: load -> desired -> observe -> plan -> execute, under the project's lock.

`converge` is one `orch apply`: it repeats observe/plan/execute a few times, because
creating a window produces a fresh agent process whose brief is only plannable once the
new pane can be observed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reconciler.manifest.desired import desired_project
from reconciler.errors import LockTimeout, ProjectGone, UserError
from reconciler.locks import exclusive, project_lock
from reconciler.manifest.loader import LoadedManifest
from reconciler.execute.lanes import Lanes
from reconciler.model.agents import DeferRestart, DeliverBrief, DesiredProject, Observed, Plan, Problem
from reconciler import session_state
from reconciler.runtime.observe import observe
from reconciler.plan.agents import plan_destroy, plan_project
from reconciler.state.store import ProjectRecord, Store
from reconciler.runtime.tmux import Tmux

UNASSIGNED_ID = "????????"
MAX_PASSES = 4
WAIT_FOR_BACKOFF_S = 10.0

Progress = Callable[[str], None]
_STORE_LOCK = threading.Lock()


@dataclass
class Context:
    home: Path
    socket: str | None
    lock_timeout: float = 60.0
    progress: Progress = lambda message: None
    notices: list[str] = field(default_factory=list)
    screens_seen: dict[str, str] = field(default_factory=dict)  # pane id -> digest of its last screen judged for credit
    show_sensitive: bool = False  # `orch plan --show-sensitive`: env values in the explanations
    adopt: bool = False  # `apply --adopt`: take over a session of the manifest's name that orch did not create
    _store: Store | None = None

    @property
    def tmux(self) -> Tmux:
        return Tmux(self.socket)

    def store(self, maintain: bool = False) -> Store:
        """The one store connection of this process (threads share it; opening it is serialised)."""
        with _STORE_LOCK:
            if self._store is None:
                self._store = Store(self.home, maintain=maintain, notices=self.notices)
            return self._store


def load_registered(store: Store, record: ProjectRecord) -> LoadedManifest | None:
    """A registered project's manifest: the file as it is now, else the last applied text (with an
    event saying why), else None. One broken project never stops commands over all of them."""
    from reconciler.manifest.loader import ManifestError, load_manifest, parse_manifest

    try:
        return load_manifest(record.manifest_path)
    except ManifestError as err:
        problem = str(err).splitlines()[0]
    try:
        loaded = parse_manifest(record.manifest_text, Path(record.manifest_path))
        store.record_event("manifest.invalid", f"{problem}; using the last applied version", project=record.name)
        return loaded
    except ManifestError as err:
        store.record_event("manifest.invalid", f"{problem}; the last applied version fails too: "
                           f"{str(err).splitlines()[0]}; skipped", project=record.name)
        return None


def check_registration(record: ProjectRecord | None, loaded: LoadedManifest) -> None:
    """A project name belongs to one manifest file; a second file with the same name is refused."""
    if record is not None and record.manifest_path != str(loaded.path) and Path(record.manifest_path).exists():
        raise UserError(
            f"project {record.name!r} is already registered from {record.manifest_path}; "
            f"rename metadata.name in {loaded.path}, or run `orch destroy {record.name}` first"
        )


def explain_changes(store: Store, desired: DesiredProject,
                    show_sensitive: bool = False) -> Callable[[str], tuple[str, ...]]:
    """Say which fields of an agent's spec changed since its window was launched (deepdiff). Env
    values may be secrets: only that they changed, unless `show_sensitive` (never in the audit log)."""
    facts = store.agent_facts(desired.name)

    def explain(name: str) -> tuple[str, ...]:
        agent = desired.agent(name)
        old = facts.get(name)
        if agent is None or old is None or not old.spec:
            return ("agent spec changed",)
        from deepdiff import DeepDiff

        before, after = json.loads(old.spec), dict(agent.spec)
        diff = DeepDiff(before, after, ignore_order=True, verbose_level=2)
        lines = []
        for path, change in {**diff.get("values_changed", {}), **diff.get("type_changes", {})}.items():
            name = _field(path)
            if not show_sensitive and (name == "env" or name.startswith("env.")):
                lines.append(f"{name} changed (value hidden: --show-sensitive shows it)")
            else:
                lines.append(f"{name}: {change['old_value']!r} → {change['new_value']!r}")
        for kind, verb in (("dictionary_item_added", "added"), ("dictionary_item_removed", "removed")):
            for path in diff.get(kind, {}):
                lines.append(f"{_field(path)} {verb}")
        return tuple(sorted(lines)) or ("agent spec changed",)

    return explain


def _field(deepdiff_path: str) -> str:
    return deepdiff_path.replace("root['", "").replace("']['", ".").replace("']", "")


def plan_for(ctx: Context, loaded: LoadedManifest) -> tuple[DesiredProject, Plan]:
    """What `orch apply` would do now, without writing anything."""
    store = ctx.store()
    name = loaded.manifest.metadata.name
    record = store.project(name)
    check_registration(record, loaded)
    upstream = project_upstream(loaded, record)
    desired = desired_project(loaded, record.id if record else UNASSIGNED_ID, ctx.home, ctx.socket, upstream)
    plan = _plan_desired(ctx, store, desired)
    if loaded.manifest.spec.repo is not None and upstream is None:
        from dataclasses import replace

        plan = replace(plan, problems=plan.problems + (Problem(name, no_upstream(loaded)),))
    return desired, plan


def plan_from_cache(ctx: Context, file: str) -> tuple[DesiredProject, Plan] | None:
    """The plan of a file that is byte for byte the last applied manifest, from the cached desired
    state (no YAML, no pydantic); None when anything differs."""
    from reconciler.manifest import desired_cache
    raw = desired_cache.read_bytes(file)
    if raw is None:
        return None
    store = ctx.store()
    record = store.project_at(str(Path(file).expanduser().resolve()))
    if record is None or not record.desired_json:
        return None
    if record.desired_key != desired_cache.cache_key(hashlib.sha256(raw).hexdigest(), record.upstream):
        return None
    desired = desired_cache.load(record.desired_json, (("ORCH_HOME", str(ctx.home)),
                                                       ("ORCH_TMUX_SOCKET", ctx.socket or "")))
    return desired, _plan_desired(ctx, store, desired)


def _plan_desired(ctx: Context, store: Store, desired: DesiredProject) -> Plan:
    observed = observe_project(ctx, desired)
    plan = plan_project(desired, observed, store.agent_facts(desired.name), time.time(),
                        explain=explain_changes(store, desired, ctx.show_sensitive), adopt=ctx.adopt)
    if desired.git is not None:
        from dataclasses import replace

        from reconciler.git.observe import observe_repo
        from reconciler.plan.worktrees import plan_worktrees
        from reconciler.state import worktrees as worktree_records
        repo = observe_repo(desired.git.repo)
        facts, leftovers = observe_worktrees(desired.git, repo)
        actions, problems = plan_worktrees(desired.name, desired.git, repo, facts,
                                           worktree_records.sync_records(store, desired.name), leftovers, sync=False)
        plan = replace(plan, actions=tuple(actions) + plan.actions, problems=tuple(problems) + plan.problems)
    return plan


@dataclass
class PassResult:
    """What one reconcile pass of a project did, and when it wants to run again."""

    project: str
    outcomes: list = field(default_factory=list)
    wake_at: float | None = None
    pids: tuple[int, ...] = ()  # the agents' live pane processes at the end of the pass (the watcher checks them)


def converge(ctx: Context, loaded: LoadedManifest) -> list:
    """One `orch apply`: windows, restarts and briefs, schedules stored; no check-in fires."""
    return reconcile_project(ctx, loaded, fire_checkins=False, missed_before=None, wait_for_backoff=True).outcomes


def reconcile_project(ctx: Context, loaded: LoadedManifest, *, fire_checkins: bool, missed_before: float | None,
                      wait_for_backoff: bool, lookahead: float = 0.0, lanes: Lanes | None = None,
                      register: bool = True) -> PassResult:
    """Converge one project under its lock: windows (and briefs), stored schedules, due check-ins.

    With `lanes` (the watcher's), deliveries are handed to the agents' lanes, not awaited. Without
    `register`, a project found unregistered under the lock raises ProjectGone."""
    name = loaded.manifest.metadata.name
    with exclusive(project_lock(ctx.home, name), ctx.lock_timeout,
                   on_wait=lambda who: ctx.progress(f"waiting for the lock on {name}, held by {who}")):
        store = ctx.store(maintain=True)
        desired = _register(store, loaded, ctx, register)
        result = PassResult(name)
        if loaded.manifest.spec.repo is not None and desired.git is None:  # stored before orch kept upstreams
            if not fire_checkins:
                raise UserError(no_upstream(loaded))
            report_git_problem(store, name, no_upstream(loaded))
        elif desired.git is not None and not _worktrees_ready(desired, fire_checkins, store):
            try:
                with exclusive(git_lock(ctx.home, name), ctx.lock_timeout if not fire_checkins else 0):
                    result.outcomes += converge_worktrees(ctx, store, desired, sync=False)
                    _ensure_hooks(store, desired)
                report_git_problem(store, name, None)
            except LockTimeout:
                if not fire_checkins:
                    raise  # apply: say who holds the lock rather than converging half
                # The git lane is busy (a slow repository): never let it hold up check-ins.
                # Windows need their worktrees, so they wait for the next pass.
                result.wake_at = time.time() + 1.0
                observed = observe_project(ctx, desired)
                result.pids = _live_pids(observed, desired)
                if fire_checkins:
                    _fire_checkins(ctx, store, desired, observed, result, missed_before or time.time(),
                                   lookahead, lanes)
                return result
            except UserError as err:
                if not fire_checkins:
                    raise
                report_git_problem(store, name, str(err))  # git work waits; agents and check-ins carry on
        observed = _converge_windows(ctx, store, desired, result, wait_for_backoff, lanes)
        result.pids = _live_pids(observed, desired)
        _sync_schedules(store, desired)
        if fire_checkins:
            _fire_checkins(ctx, store, desired, observed, result, missed_before or time.time(), lookahead, lanes)
        session_state.refresh(ctx.home, store, desired, observed)
        store.record_applied(name, str(loaded.path), loaded.text, loaded.sha256, desired.session)
        _remember_desired(store, loaded, desired)
        return result


def _remember_desired(store: Store, loaded: LoadedManifest, desired: DesiredProject) -> None:
    from reconciler.manifest import desired_cache
    if loaded.manifest.spec.repo is not None and desired.git is None:  # upstream unknown: no cache to trust
        store.record_desired(desired.name, None, None)
        return
    store.record_desired(desired.name, desired_cache.cache_key(loaded.sha256, desired.git and desired.git.upstream),
                         desired_cache.dump(desired))


def _register(store: Store, loaded: LoadedManifest, ctx: Context, register: bool) -> DesiredProject:
    """The project registered (first apply: its id, and its upstream resolved and stored), as desired.
    An unregistered project is registered only when `register` (apply, reconcile once), else
    ProjectGone (read under the project's lock, so after any destroy)."""
    name = loaded.manifest.metadata.name
    record = store.project(name)
    check_registration(record, loaded)
    if record is None and not register:
        raise ProjectGone(f"project {name!r} is no longer registered (destroyed)")
    upstream = project_upstream(loaded, record)
    has_repo = loaded.manifest.spec.repo is not None
    if record is None:
        if has_repo and upstream is None:  # before anything is registered: a clear error changes nothing
            raise UserError(no_upstream(loaded))
        project_id = _adoptable_id(ctx, name) or secrets.token_hex(4)
        session = loaded.manifest.spec.session or f"{name}-{project_id}"
        record = store.register_project(name, project_id, str(loaded.path), session)
        store.record_event("project.registered", f"registered project {name}", project=name,
                           manifest=str(loaded.path), id=record.id)
    if has_repo and upstream is not None and record.upstream != upstream:
        store.record_upstream(name, upstream)
        how = "spec.upstream" if loaded.manifest.spec.upstream else "the branch checked out at first apply"
        store.record_event("project.upstream", f"worktrees follow {upstream} ({how})", project=name,
                           upstream=upstream, before=record.upstream)
    return desired_project(loaded, record.id, ctx.home, ctx.socket, upstream)


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
    from reconciler.git.observe import current_branch

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
    from reconciler.execute.worktrees import GitExecutor
    from reconciler.git.observe import observe_repo
    from reconciler.plan.worktrees import plan_escalations, plan_worktrees
    from reconciler.state import worktrees as worktree_records
    settings = desired.git
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
    from reconciler.model.worktrees import DesiredWorktree
    from reconciler.git.observe import observe_worktree

    from concurrent.futures import ThreadPoolExecutor

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
    from reconciler.execute.checkins import credit_guard

    return lambda agent: credit_guard(store, desired.name, agent, desired.credit_shared, desired.credit_patterns)


def sync_project(ctx: Context, loaded: LoadedManifest, repeat_problems: bool = True) -> PassResult:
    """`orch sync`: bring the project's clean worktrees up to upstream now (its own lock: off the check-in path).

    A git problem (the repository gone, upstream deleted, ...) stops this project's git work only: it is
    recorded once (then when it changes) and, with `repeat_problems`, returned as a failed outcome each time."""
    from reconciler.execute.agents import Outcome
    from reconciler.model.worktrees import GitProblem

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
                _ensure_hooks(store, desired)
            except UserError as err:
                problem = str(err)
        new = report_git_problem(store, name, problem)
        if problem is not None and (new or repeat_problems):
            result.outcomes.append(Outcome(GitProblem(name, problem), False, f"git work stopped: {problem}"))
    return result


def report_git_problem(store: Store, project: str, problem: str | None) -> bool:
    """Say once that git work stopped for this project (and once when it works again)."""
    return store.report_once(project, "git", problem, "git.problem", cleared="git.recovered")


def _worktrees_ready(desired: DesiredProject, quick: bool, store: Store) -> bool:
    """In a reconcile pass (quick): are the worktrees there? Only stats, no git process.

    The git lane (sync_project) looks properly and keeps the hooks in place.
    """
    if not quick:
        return False  # apply looks properly (and may repair)
    return all((Path(w.path) / ".git").exists() for w in desired.git.worktrees)


def _ensure_hooks(store: Store, desired: DesiredProject) -> None:
    """Git hooks that wake this ORCH_HOME's watcher when this upstream or a worktree moves.

    What was installed is recorded as it happens; a hook left alone (not orch's, or a hooks folder
    orch must not write) is recorded once, then only when that changes."""
    from reconciler.git import hooks as githooks
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


def git_lock(home: Path, project: str) -> Path:
    return home / "locks" / f"{project}.git.lock"


def _destroy_worktrees(ctx: Context, store: Store, record) -> list:
    """Remove the project's worktrees that hold nothing beyond upstream; keep the rest and say where; unhook.
    The caller holds the project's git lock."""
    from dataclasses import replace

    from reconciler.manifest.desired import worktrees_dir
    from reconciler.execute.agents import Outcome
    from reconciler.manifest.loader import ManifestError, parse_manifest
    from reconciler.model.worktrees import KeepWorktree
    from reconciler.state import worktrees as worktree_records
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
            outcomes.append(Outcome(keep, True, f"kept {path}: {keep.why}"))
    repo = str(loaded.resolve(loaded.manifest.spec.repo))
    if not _repo_shared(store, record.name, repo):
        from reconciler.git import hooks as githooks
        for line in githooks.remove_hooks(Path(repo), home=store.home):
            store.record_event("hooks.removed", line, project=record.name)
    return outcomes


def _repo_shared(store: Store, name: str, repo: str) -> bool:
    """Does another registered project use the same repository (and so its hooks)?"""
    from reconciler.manifest.loader import ManifestError, parse_manifest

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


def _adoptable_id(ctx: Context, name: str) -> str | None:
    """A project that lost its store keeps its id: read it back from its running session (its id
    mark, else its name), only from a session this ORCH_HOME made (or an older orch, unmarked)."""
    import re

    from reconciler.execute.agents import home_mark

    mine = home_mark(ctx.home)
    ids = set()
    for pane in observe(ctx.tmux).panes:
        if pane.session_project == name and pane.session_home in ("", mine):
            named = re.fullmatch(re.escape(name) + r"-([0-9a-f]{8})", pane.session_name)
            ids.add(pane.session_project_id or (named.group(1) if named else None))
    ids.discard(None)
    return ids.pop() if len(ids) == 1 else None


def observe_project(ctx: Context, desired: DesiredProject, adopt: bool = False) -> Observed:
    """tmux as this project sees it (`Observed.owned`); with `adopt`, the id marks an older orch did
    not set are set first (one tmux call, once)."""
    observed = observe(ctx.tmux).owned(desired.name, desired.id, desired.session)
    if adopt:
        from reconciler.execute.agents import adopt_marks

        commands = adopt_marks(desired, observed, ctx.home)
        if commands:
            ctx.tmux.run(*commands, check=False)
            observed = observe(ctx.tmux).owned(desired.name, desired.id, desired.session)
    return observed


def _converge_windows(ctx: Context, store: Store, desired: DesiredProject, result: PassResult,
                      wait_for_backoff: bool, lanes: Lanes | None) -> Observed:
    """Observe/plan/execute until tmux matches (or only backoff waits remain); the last observation."""
    from reconciler.execute.agents import TmuxExecutor

    # apply waits for a slow agent's prompt to deliver its brief; the watcher hands it to the agent's lane
    executor = TmuxExecutor(ctx.tmux, store, ctx.home, lanes)
    for _ in range(MAX_PASSES):
        observed = notice_deaths(ctx.tmux, store, desired, observe_project(ctx, desired, adopt=True))
        plan = plan_project(desired, observed, store.agent_facts(desired.name), time.time(),
                            explain=explain_changes(store, desired), adopt=ctx.adopt)
        if plan.problems:
            raise UserError("\n".join(p.message for p in plan.problems))
        work = [a for a in plan.actions if not isinstance(a, DeferRestart)
                and not (isinstance(a, DeliverBrief) and lanes is not None and lanes.busy(a.project, a.agent.name))]
        waits = [a.until for a in plan.actions if isinstance(a, DeferRestart)]
        if not work:
            if wait_for_backoff and waits and min(waits) - time.time() <= WAIT_FOR_BACKOFF_S:
                ctx.progress(f"waiting {min(waits) - time.time():.1f}s for the crash-loop backoff")
                time.sleep(max(0.0, min(waits) - time.time()))
                continue
            result.outcomes += [_pending(a) for a in plan.actions]
            result.wake_at = _earliest(result.wake_at, lanes.next_free() if lanes is not None else None)
            result.wake_at = _earliest(result.wake_at, min(waits, default=None))
            return observed
        for action in work:
            ctx.progress(f"{action.symbol} {action.target}: {action.reason or 'working'}")
        pass_outcomes = executor.execute(Plan(plan.project, plan.session, tuple(work)), desired)
        result.outcomes += pass_outcomes
        if all(not o.ok for o in pass_outcomes):
            break
    return observe_project(ctx, desired)


def notice_deaths(tmux: Tmux, store: Store, desired: DesiredProject, observed: Observed) -> Observed:
    """Record the first moment each dead agent was seen dead (it anchors the crash-loop backoff), and
    make tmux collect the exit status of a process it has not reaped yet (then look again)."""
    dead = [p for p in observed.agent_panes(desired.name) if p.dead and p.session_name == desired.session]
    if not dead:
        return observed
    facts = store.agent_facts(desired.name)
    now = time.time()
    for pane in dead:
        fact = facts.get(pane.agent)
        if fact is None or fact.seen_dead_pid != pane.pane_pid:
            store.update_agent(desired.name, pane.agent, seen_dead_at=now, seen_dead_pid=pane.pane_pid)
            _save_last_screen(tmux, store, desired, pane)
    if any(p.dead_status is None for p in dead):
        tmux.run(["run-shell", "true"], check=False)  # a child's exit makes tmux reap all its children
        observed = observe(tmux).owned(desired.name, desired.id, desired.session)
    return observed


def _save_last_screen(tmux: Tmux, store: Store, desired: DesiredProject, pane) -> None:
    """Keep a dead agent's history before the restart clears it: the last screen of a crash is
    what a person needs to see why it died."""
    from reconciler.pane_logs import save_history

    path = save_history(tmux, store.home, desired.name, desired.id, pane.agent, pane.pane_id)
    if path is not None:
        store.record_event("agent.log_saved", f"{pane.agent} died; its screen is kept in {path}",
                           project=desired.name, agent=pane.agent, path=str(path))


def _sync_schedules(store: Store, desired: DesiredProject) -> None:
    from reconciler.state import checkins as checkin_records
    added, removed = checkin_records.sync_manifest_schedules(store, desired.name, list(desired.checkins),
                                                    {a.name for a in desired.agents}, time.time())
    for what, verb in [(a, "added") for a in added] + [(r, "removed") for r in removed]:
        store.record_event(f"schedule.{verb}", f"check-in {verb}: {what}", project=desired.name)


def _fire_checkins(ctx: Context, store: Store, desired: DesiredProject, observed: Observed, result: PassResult,
                   missed_before: float, lookahead: float, lanes: Lanes | None = None) -> None:
    from reconciler.execute.checkins import CheckinExecutor, observe_credit
    from reconciler.plan.checkins import next_wake, plan_checkins
    from reconciler.state import checkins as checkin_records
    from reconciler.state import credit as credit_records
    panes = {p.agent: p for p in observed.agent_panes(desired.name) if p.session_name == desired.session}
    observe_credit(ctx.tmux, store, desired, panes, ctx.screens_seen)  # `orch status` tells within this pass
    firings = checkin_records.open_firings(store, desired.name)
    if lanes is not None:  # an agent whose lane is busy is left alone: its own delivery settles its firing
        now = time.time()
        busy = {agent for agent in {*panes, *(f.agent for f in firings)} if lanes.busy(desired.name, agent, now)}
        panes = {agent: pane for agent, pane in panes.items() if agent not in busy}
        firings = [f for f in firings if f.agent not in busy]
        result.wake_at = _earliest(result.wake_at, lanes.next_free())
    now = time.time()
    actions = plan_checkins(desired, checkin_records.schedules(store, desired.name), firings,
                            panes, credit_records.credit_holds(store, desired.name), now + lookahead, missed_before)
    if actions:
        result.outcomes += CheckinExecutor(ctx.tmux, store, ctx.home, desired, lanes).execute(actions)
    wake = next_wake(checkin_records.schedules(store, desired.name), credit_records.credit_holds(store, desired.name), panes,
                     desired.credit_shared, time.time())
    result.wake_at = _earliest(result.wake_at, wake)


def _live_pids(observed: Observed, desired: DesiredProject) -> tuple[int, ...]:
    return tuple(p.pane_pid for p in observed.agent_panes(desired.name)
                 if p.session_name == desired.session and not p.dead and p.pane_pid)


def _pending(action):
    from reconciler.execute.agents import Outcome

    return Outcome(action, True, f"pending: {action.reason}")


def _earliest(*moments: float | None) -> float | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None


def destroy(ctx: Context, name: str) -> list:
    """Kill the project's agent windows (and so its session, unless a user's window is in it), remove
    its clean worktrees and forget it. Every lock of the project is taken first (its own, the git
    lane's, each agent's delivery lock): a busy one fails there, before anything is changed."""
    from contextlib import ExitStack

    from reconciler.execute.agents import TmuxExecutor, delivery_lock
    from reconciler.state import checkins as checkin_records
    from reconciler.state import worktrees as worktree_records
    def wait(who: str) -> None:
        ctx.progress(f"waiting for a lock on {name}, held by {who}")

    with ExitStack() as held:
        try:
            held.enter_context(exclusive(project_lock(ctx.home, name), ctx.lock_timeout, wait))
            store = ctx.store(maintain=True)
            record = store.project(name)
            # Forgotten by a lost store: only what this ORCH_HOME made is destroyed (its id read back).
            project_id = record.id if record else _adoptable_id(ctx, name) or UNASSIGNED_ID
            observed = observe(ctx.tmux).owned(name, project_id, record.session if record else f"{name}-{project_id}")
            if record is None and not observed.agent_panes(name):
                raise UserError(f"no project named {name!r} (see `orch status`)")
            held.enter_context(exclusive(git_lock(ctx.home, name), ctx.lock_timeout, wait))
            for agent in sorted(set(store.agent_facts(name)) | {p.agent for p in observed.agent_panes(name)}):
                held.enter_context(exclusive(delivery_lock(ctx.home, name, agent), ctx.lock_timeout, wait))
        except LockTimeout as err:
            raise LockTimeout(f"{err}; nothing was destroyed") from None
        plan = plan_destroy(name, record.session if record else "", observed)
        outcomes = TmuxExecutor(ctx.tmux, store, ctx.home).execute(plan, None)
        if record is not None:
            outcomes += _destroy_worktrees(ctx, store, record)
        checkin_records.forget_schedules(store, name)
        worktree_records.forget_sync_record(store, name)
        store.forget_project(name)
        if record is not None:
            session_state.forget(ctx.home, name, record.id)
        store.record_event("project.destroyed", f"destroyed project {name}", project=name)
        return outcomes
