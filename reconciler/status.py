"""`orch status`: the registry, the last applied manifests and one tmux observation, as one document."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from reconciler.errors import UserError
from reconciler.runtime.observe import observe, pane_activity
from reconciler.state import checkins as checkin_records
from reconciler.state import credit as credit_records
from reconciler.state import watchers as watcher_records
from reconciler.state import worktrees as worktree_records
from reconciler.timefmt import iso


def _applied_desired(ctx, record) -> tuple[Any, str | None]:
    """The last applied desired state (None if it no longer parses) and why its upstream is unknown:
    from the registry's cache (no YAML, no pydantic: most of a status's cost), else by parsing the
    applied text."""
    from reconciler.manifest import desired_cache
    if record.desired_json and (record.desired_key or "").startswith(desired_cache.VERSION + ":"):
        return desired_cache.load(record.desired_json, ()), None
    from reconciler.manifest.desired import desired_project
    from reconciler.sync import project_upstream
    from reconciler.manifest.loader import ManifestError, parse_manifest

    if not record.manifest_text:
        return None, None
    try:
        loaded = parse_manifest(record.manifest_text, Path(record.manifest_path))
    except (ManifestError, UserError):
        return None, None
    upstream = project_upstream(loaded, record)
    desired = desired_project(loaded, record.id, ctx.home, ctx.socket, upstream or "")
    if desired.git is not None and upstream is None:
        from reconciler.sync import no_upstream

        return desired, no_upstream(loaded)
    return desired, None


def _worktrees(store, record, desired, upstream_problem: str | None) -> tuple[str | None, str | None,
                                                                                  dict[str, dict[str, Any]]]:
    """The upstream, why git work stopped (None: it did not) and agent -> the worktree part of the status
    document (git is only asked when the project has a repo). A worktree git cannot be asked about is
    `unknown`, with the problem beside it."""
    if desired is None or desired.git is None:
        return None, None, {}
    from reconciler.sync import observe_worktrees
    from concurrent.futures import ThreadPoolExecutor

    from reconciler.git.observe import diff_size, observe_repo
    from reconciler.plan.worktrees import worktree_state

    upstream = desired.git.upstream or None
    problem = store.reported(record.name, "git")  # what the last sync found, said once by the git lane
    try:
        if upstream_problem is not None:
            raise UserError(upstream_problem)
        repo = observe_repo(desired.git.repo)
        if upstream not in repo.branches:
            raise UserError(f"upstream branch {upstream!r} does not exist in {desired.git.repo}")
    except UserError as err:
        return upstream, str(err), {w.agent: {"path": w.path, "branch": w.branch, "ahead": 0, "behind": 0,
                                              "dirty": False, "state": "unknown", "problem": str(err),
                                              "conflict_files": [], "last_sync": None}
                                    for w in desired.git.worktrees}
    facts, _ = observe_worktrees(desired.git, repo)
    records = worktree_records.sync_records(store, record.name)
    upstream_commit = repo.branches.get(desired.git.upstream)
    with ThreadPoolExecutor(max_workers=4) as pool:  # one git process each, overlapping
        sizes = dict(zip((w.agent for w in desired.git.worktrees), pool.map(
            lambda w: diff_size(w.path, upstream_commit) if upstream_commit and facts.get(w.agent) and facts[w.agent].ahead else
            {"added": 0, "removed": 0}, desired.git.worktrees)))
    document = {}
    for worktree in desired.git.worktrees:
        seen, sync = facts.get(worktree.agent), records.get(worktree.agent)
        document[worktree.agent] = {
            "diff": sizes.get(worktree.agent),
            "path": worktree.path, "branch": worktree.branch,
            "ahead": seen.ahead if seen else 0, "behind": seen.behind if seen else 0,
            "dirty": bool(seen and (seen.dirty or seen.operation)),
            "state": worktree_state(seen, sync, upstream_commit),
            "conflict_files": list(sync.conflict_files) if sync and sync.conflict_files else [],
            "last_sync": iso(sync.last_sync) if sync else None,
            "problem": problem,
        }
    return upstream, problem, document


def _state(home: Path, record, agent: str, kind: str, alive: bool, fact, now: float):
    """The agent's state from its own events (reconciler/agent_state.py)."""
    from reconciler.agent_events import events_file, recent_events
    from reconciler.agent_state import agent_state
    from reconciler.drivers import get

    reports = get(kind).reports
    events = recent_events(events_file(home, record.name, record.id, agent)) if reports else []
    return agent_state(events, alive, fact.started_at if fact else None, reports, now,
                       fact.seen_dead_at if fact else None)


def _latest(*moments: float | None) -> float | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _manifest_error(record) -> str | None:
    """Why the project's manifest file cannot be used now (the watcher keeps the last good version),
    or None. Validated only when the file differs from what was applied, so a normal status is fast."""
    import hashlib

    try:
        data = Path(record.manifest_path).read_bytes()
    except OSError as err:
        return f"{record.manifest_path}: cannot be read ({err.strerror}); running the last applied version"
    if hashlib.sha256(data).hexdigest() == record.manifest_sha256:
        return None
    from reconciler.manifest.loader import ManifestError, load_manifest

    try:
        load_manifest(record.manifest_path)
    except ManifestError as err:
        return str(err).splitlines()[0]
    return None


def _watcher(row: tuple[int, float] | None, now: float) -> dict[str, Any] | None:
    """The watcher of a project, if its process still lives."""
    if row is None:
        return None
    pid, beat = row
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return {"pid": pid, "heartbeat_age_s": round(max(0.0, now - beat), 1)}


def collect_status(ctx, name: str | None = None) -> dict[str, Any]:
    store = ctx.store()
    records = store.projects()
    if name is not None:
        records = [r for r in records if r.name == name]
        if not records:
            raise UserError(f"no project named {name!r} (registered: {', '.join(r.name for r in store.projects()) or 'none'})")
    from reconciler.plan.checkins import effective_hold

    observed = observe(ctx.tmux)
    activity = pane_activity(ctx.tmux) if observed.panes else {}
    watchers = watcher_records.watcher_rows(store)
    now = time.time()
    projects = []
    for record in records:
        mine = observed.owned(record.name, record.id, record.session)
        panes = {p.agent: p for p in mine.agent_panes(record.name) if p.session_name == record.session}
        facts = store.agent_facts(record.name)
        desired, upstream_problem = _applied_desired(ctx, record)
        agents = [(agent.name, agent.role) for agent in desired.agents] if desired else []
        kinds = {agent.name: agent.kind for agent in desired.agents} if desired else {}
        hashes = {agent.name: agent.spec_hash for agent in desired.agents} if desired else {}
        shared = bool(desired and desired.credit_shared)
        upstream, problem, worktrees = _worktrees(store, record, desired, upstream_problem)
        known = {agent for agent, _ in agents}
        agents += [(agent, None) for agent in sorted(panes) if agent not in known]
        holds = credit_records.credit_holds(store, record.name)
        due: dict[str, float] = {}
        for schedule in checkin_records.schedules(store, record.name):
            moment = max(schedule.next_due or 0.0, schedule.retry_after or 0.0)  # schedules() are all due
            due[schedule.agent] = min(due.get(schedule.agent, moment), moment)
        last_checkins = checkin_records.last_checkins(store, record.name)
        rows = []
        for agent, role in agents:
            pane, fact = panes.get(agent), facts.get(agent)
            hold = effective_hold(agent, holds, shared, now)
            alive = bool(pane and not pane.dead)
            state = _state(ctx.home, record, agent, kinds.get(agent, "generic"), alive, fact, now)
            rows.append({
                "name": agent,
                "role": role,
                "window": pane.window_name if pane else None,
                "alive": alive,
                "state": state.state,
                "state_age_s": None if state.age(now) is None else round(state.age(now), 1),
                "restarts": fact.restarts if fact else 0,
                "last_exit_status": pane.dead_status if pane and pane.dead else (fact.last_exit_status if fact else None),
                "credit": {"exhausted": hold is not None, "until": iso(hold.until) if hold else None},
                "next_checkin": iso(due.get(agent)),
                "last_checkin": iso(last_checkins.get(agent)),
                "last_activity": iso(_latest(state.last_activity, activity.get(pane.pane_id) if pane else None)),
                "worktree": worktrees.get(agent),
                # its spec changed but it runs the old one: a replacement waits for it to be idle
                "pending_restart": bool(pane and alive and agent in hashes and pane.spec_hash != hashes[agent]),
            })
        projects.append({
            "name": record.name,
            "session": record.session,
            "manifest": record.manifest_path,
            "watcher": _watcher(watchers.get(record.name), now),
            "upstream": upstream,
            "problem": problem,
            "error": _manifest_error(record),
            "agents": rows,
        })
    return {"projects": projects}
