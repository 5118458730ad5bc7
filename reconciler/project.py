"""One project applied, planned, reconciled or destroyed: load -> desired -> observe -> plan -> execute, under the project's lock.

`converge` is one `orch apply`: it repeats observe/plan/execute a few times, because
creating a window produces a fresh agent process whose brief is only plannable once the
new pane can be observed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import replace
from pathlib import Path

from reconciler.agent_events import agent_states, in_turn as turns
from reconciler.context import Context, PassResult
from reconciler.errors import LockTimeout, ProjectGone, UserError
from reconciler.execute.lanes import Lanes
from reconciler.locks import exclusive, git_lock, project_lock
from reconciler.manifest import desired_cache
from reconciler.manifest.desired import desired_project
from reconciler.manifest.loader import LoadedManifest, ManifestError, load_manifest, parse_manifest
from reconciler.model.agents import DesiredProject, Observed, Plan, Problem
from reconciler.plan.agents import plan_destroy, plan_project
from reconciler.runtime.observe import observe
from reconciler.state import checkins as checkin_records
from reconciler.state import credit as credit_records
from reconciler.state.store import ProjectRecord, Store
from reconciler.sync import (converge_worktrees, destroy_worktrees, ensure_hooks, no_upstream, observe_worktrees,
                             project_upstream, report_git_problem, worktrees_ready)
from reconciler.windows import busy_agents, converge_windows, earliest, explain_changes, live_pids, observe_project

UNASSIGNED_ID = "????????"


def load_registered(store: Store, record: ProjectRecord) -> LoadedManifest | None:
    """A registered project's manifest: the file as it is now, else the last applied text (with an
    event saying why), else None. One broken project never stops commands over all of them."""
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
        plan = replace(plan, problems=plan.problems + (Problem(name, no_upstream(loaded)),))
    return desired, plan


def plan_from_cache(ctx: Context, file: str) -> tuple[DesiredProject, Plan] | None:
    """The plan of a file that is byte for byte the last applied manifest, from the cached desired
    state (no YAML, no pydantic); None when anything differs."""
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
    agent_facts, now = store.agent_facts(desired.name), time.time()
    plan = plan_project(desired, observed, agent_facts, now,
                        explain=explain_changes(store, desired, ctx.show_sensitive), adopt=ctx.adopt,
                        busy=busy_agents(ctx, desired, observed, agent_facts, now))
    if desired.git is not None:
        # lazy: only a project with a repository needs git (start-up of `orch plan`)
        from reconciler.git.observe import observe_repo
        from reconciler.plan.worktrees import plan_worktrees
        from reconciler.state import worktrees as worktree_records

        repo = observe_repo(desired.git.repo)
        facts, leftovers = observe_worktrees(desired.git, repo)
        actions, problems = plan_worktrees(desired.name, desired.git, repo, facts,
                                           worktree_records.sync_records(store, desired.name), leftovers, sync=False)
        plan = replace(plan, actions=tuple(actions) + plan.actions, problems=tuple(problems) + plan.problems)
    return plan


def converge(ctx: Context, loaded: LoadedManifest) -> list:
    """One `orch apply`: windows, restarts and briefs, schedules stored; no check-in fires."""
    return reconcile_project(ctx, loaded, fire_checkins=False, missed_before=None, wait_for_backoff=True).outcomes


def reconcile_project(ctx: Context, loaded: LoadedManifest, *, fire_checkins: bool, missed_before: float | None,
                      wait_for_backoff: bool, lookahead: float = 0.0, lanes: Lanes | None = None,
                      register: bool = True) -> PassResult:
    """Converge one project under its lock: windows (and briefs), stored schedules, due check-ins.

    With `lanes` (the watcher's), deliveries are handed to the agents' lanes, not awaited. Without
    `register`, a project found unregistered under the lock raises ProjectGone."""
    from reconciler import session_state  # lazy: off `orch plan`'s path
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
        elif desired.git is not None and not worktrees_ready(desired, fire_checkins, store):
            try:
                with exclusive(git_lock(ctx.home, name), ctx.lock_timeout if not fire_checkins else 0):
                    result.outcomes += converge_worktrees(ctx, store, desired, sync=False)
                    ensure_hooks(store, desired)
                report_git_problem(store, name, None)
            except LockTimeout:
                if not fire_checkins:
                    raise  # apply: say who holds the lock rather than converging half
                # The git lane is busy (a slow repository): never let it hold up check-ins.
                # Windows need their worktrees, so they wait for the next pass.
                result.wake_at = time.time() + 1.0
                observed = observe_project(ctx, desired)
                result.pids = live_pids(observed, desired)
                if fire_checkins:
                    _fire_checkins(ctx, store, desired, observed, result, missed_before or time.time(),
                                   lookahead, lanes)
                return result
            except UserError as err:
                if not fire_checkins:
                    raise
                report_git_problem(store, name, str(err))  # git work waits; agents and check-ins carry on
        observed = converge_windows(ctx, store, desired, result, wait_for_backoff, lanes)
        result.pids = live_pids(observed, desired)
        _sync_schedules(store, desired)
        if fire_checkins:
            _fire_checkins(ctx, store, desired, observed, result, missed_before or time.time(), lookahead, lanes)
        session_state.refresh(ctx.home, store, desired, observed)
        store.record_applied(name, str(loaded.path), loaded.text, loaded.sha256, desired.session)
        _remember_desired(store, loaded, desired)
        return result


def _remember_desired(store: Store, loaded: LoadedManifest, desired: DesiredProject) -> None:
    if loaded.manifest.spec.repo is not None and desired.git is None:  # upstream unknown: no cache to trust
        store.record_desired(desired.name, None, None)
        return
    store.record_desired(desired.name, desired_cache.cache_key(loaded.sha256, desired.git.upstream if desired.git else None),
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


def _adoptable_id(ctx: Context, name: str) -> str | None:
    """A project that lost its store keeps its id: read it back from its running session (its id
    mark, else its name), only from a session this ORCH_HOME made (or an older orch, unmarked)."""
    from reconciler.execute.agents import home_mark  # lazy: off `orch plan`'s path
    mine = home_mark(ctx.home)
    ids = set()
    for pane in observe(ctx.tmux).panes:
        if pane.session_project == name and pane.session_home in ("", mine):
            named = re.fullmatch(re.escape(name) + r"-([0-9a-f]{8})", pane.session_name)
            ids.add(pane.session_project_id or (named.group(1) if named else None))
    ids.discard(None)
    return ids.pop() if len(ids) == 1 else None


def _sync_schedules(store: Store, desired: DesiredProject) -> None:
    added, removed = checkin_records.sync_manifest_schedules(store, desired.name, list(desired.checkins),
                                                    {a.name for a in desired.agents}, time.time())
    for what, verb in [(a, "added") for a in added] + [(r, "removed") for r in removed]:
        store.record_event(f"schedule.{verb}", f"check-in {verb}: {what}", project=desired.name)


def _fire_checkins(ctx: Context, store: Store, desired: DesiredProject, observed: Observed, result: PassResult,
                   missed_before: float, lookahead: float, lanes: Lanes | None = None) -> None:
    from reconciler.execute.checkins import CheckinExecutor, observe_credit  # lazy: off `orch plan`'s path
    from reconciler.plan.checkins import next_wake, plan_checkins  # lazy: off `orch plan`'s path
    panes = {p.agent: p for p in observed.agent_panes(desired.name) if p.session_name == desired.session}
    every_pane = panes  # stalls are judged for agents whose lane is busy too
    observe_credit(ctx.tmux, store, ctx.home, desired, panes, ctx.screens_seen)  # `orch status` tells within this pass
    firings = checkin_records.open_firings(store, desired.name)
    if lanes is not None:  # an agent whose lane is busy is left alone: its own delivery settles its firing
        now = time.time()
        busy = {agent for agent in {*panes, *(f.agent for f in firings)} if lanes.busy(desired.name, agent, now)}
        panes = {agent: pane for agent, pane in panes.items() if agent not in busy}
        firings = [f for f in firings if f.agent not in busy]
        result.wake_at = earliest(result.wake_at, lanes.next_free())
    now = time.time()
    states = agent_states(ctx.home, desired, store.agent_facts(desired.name), every_pane, now)
    in_turn = turns({agent: state for agent, state in states.items() if agent in panes})
    actions = plan_checkins(desired, checkin_records.schedules(store, desired.name), firings,
                            panes, credit_records.credit_holds(store, desired.name), now + lookahead, missed_before,
                            in_turn)
    if actions:
        result.outcomes += CheckinExecutor(ctx.tmux, store, ctx.home, desired, lanes).execute(actions)
    wake = next_wake(checkin_records.schedules(store, desired.name), credit_records.credit_holds(store, desired.name), panes,
                     desired.credit_shared, time.time(), desired, in_turn)
    result.wake_at = earliest(result.wake_at, wake)
    from reconciler.stalls import check_stalls  # lazy: off `orch plan`'s path

    stalls, wake = check_stalls(ctx.tmux, store, ctx.home, desired, every_pane, states, now, lanes)
    result.outcomes += stalls
    result.wake_at = earliest(result.wake_at, wake)


def destroy(ctx: Context, name: str) -> list:
    """Kill the project's agent windows (and so its session, unless a user's window is in it), remove
    its clean worktrees and forget it. Every lock of the project is taken first (its own, the git
    lane's, each agent's delivery lock): a busy one fails there, before anything is changed."""
    from reconciler.state import worktrees as worktree_records  # lazy: only a project with a repository needs git
    from contextlib import ExitStack  # lazy: off `orch plan`'s path
    from reconciler import session_state  # lazy: off `orch plan`'s path
    from reconciler.execute.agents import TmuxExecutor  # lazy: off `orch plan`'s path
    from reconciler.locks import delivery_lock  # lazy: off `orch plan`'s path
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
            outcomes += destroy_worktrees(ctx, store, record)
        checkin_records.forget_schedules(store, name)
        worktree_records.forget_sync_record(store, name)
        store.forget_project(name)
        if record is not None:
            session_state.forget(ctx.home, name, record.id)
        store.record_event("project.destroyed", f"destroyed project {name}", project=name)
        return outcomes
