"""`orch status`: the registry, the last applied manifests and one tmux observation, as one document."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from reconciler.drivers import resolve as resolve_driver
from reconciler.errors import UserError
from reconciler.observe.tmux import observe, pane_activity
from reconciler.state import ledger
from reconciler.timefmt import iso


def _applied(record):
    """The last applied manifest, or None if it no longer parses (e.g. its repo is gone)."""
    from reconciler.manifest.loader import ManifestError, parse_manifest

    if not record.manifest_text:
        return None
    try:
        return parse_manifest(record.manifest_text, Path(record.manifest_path))
    except ManifestError:
        return None


def _worktrees(ctx, store, record, loaded) -> dict[str, dict[str, Any]]:
    """agent -> the worktree part of the status document (git is only asked when the project has a repo)."""
    if loaded is None or loaded.manifest.spec.repo is None:
        return {}
    from reconciler.desired import desired_project
    from reconciler.loop import _repo_branch, observe_worktrees
    from reconciler.observe.git import observe_repo
    from reconciler.plan_git import worktree_state

    try:
        desired = desired_project(loaded, record.id, ctx.home, ctx.socket, _repo_branch(loaded))
        repo = observe_repo(desired.git.repo)
    except UserError:
        return {}
    facts, _ = observe_worktrees(desired.git, repo)
    records = ledger.sync_records(store, record.name)
    upstream_commit = repo.branches.get(desired.git.upstream)
    document = {}
    for worktree in desired.git.worktrees:
        seen, sync = facts.get(worktree.agent), records.get(worktree.agent)
        document[worktree.agent] = {
            "path": worktree.path, "branch": worktree.branch,
            "ahead": seen.ahead if seen else 0, "behind": seen.behind if seen else 0,
            "dirty": bool(seen and (seen.dirty or seen.operation)),
            "state": worktree_state(seen, sync, upstream_commit),
            "conflict_files": list(sync.conflict_files) if sync and sync.conflict_files else [],
            "last_sync": iso(sync.last_sync) if sync else None,
        }
    return document



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
    from reconciler.plan_checkins import effective_hold

    observed = observe(ctx.tmux)
    activity = pane_activity(ctx.tmux) if observed.panes else {}
    watchers = ledger.watcher_rows(store)
    now = time.time()
    projects = []
    for record in records:
        panes = {p.agent: p for p in observed.agent_panes(record.name) if p.session_name == record.session}
        facts = store.agent_facts(record.name)
        loaded = _applied(record)
        spec = loaded.manifest.spec if loaded else None
        agents = [(agent.name, agent.role) for agent in spec.agents] if spec else []
        kinds = {a.name: resolve_driver(a.kind, a.command or spec.defaults.command or "").kind
                 for a in spec.agents} if spec else {}
        shared = bool(spec and spec.credit.shared)
        worktrees = _worktrees(ctx, store, record, loaded)
        known = {agent for agent, _ in agents}
        agents += [(agent, None) for agent in sorted(panes) if agent not in known]
        holds = ledger.credit_holds(store, record.name)
        due: dict[str, float] = {}
        for schedule in ledger.schedules(store, record.name):
            moment = max(schedule.next_due, schedule.retry_after or 0.0)
            due[schedule.agent] = min(due.get(schedule.agent, moment), moment)
        last_checkins = ledger.last_checkins(store, record.name)
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
            })
        projects.append({
            "name": record.name,
            "session": record.session,
            "manifest": record.manifest_path,
            "watcher": _watcher(watchers.get(record.name), now),
            "error": _manifest_error(record),
            "agents": rows,
        })
    return {"projects": projects}
