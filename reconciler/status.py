"""`orch status`: the registry, the last applied manifests and one tmux observation, as one document."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from reconciler.errors import UserError
from reconciler.observe.tmux import observe


def _applied(record) -> tuple[list[tuple[str, str | None]], bool]:
    """(name, role) of each agent in the last applied manifest, and whether credit is shared."""
    from reconciler.manifest.loader import ManifestError, parse_manifest

    if not record.manifest_text:
        return [], False
    try:
        spec = parse_manifest(record.manifest_text, Path(record.manifest_path)).manifest.spec
    except ManifestError:
        return [], False
    return [(agent.name, agent.role) for agent in spec.agents], spec.credit.shared


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
    from reconciler.state import ledger
    from reconciler.timefmt import iso

    observed = observe(ctx.tmux)
    watchers = ledger.watcher_rows(store)
    now = time.time()
    projects = []
    for record in records:
        panes = {p.agent: p for p in observed.agent_panes(record.name) if p.session_name == record.session}
        facts = store.agent_facts(record.name)
        agents, shared = _applied(record)
        known = {agent for agent, _ in agents}
        agents += [(agent, None) for agent in sorted(panes) if agent not in known]
        holds = ledger.credit_holds(store, record.name)
        due: dict[str, float] = {}
        for schedule in ledger.schedules(store, record.name):
            moment = max(schedule.next_due, schedule.retry_after or 0.0)
            due[schedule.agent] = min(due.get(schedule.agent, moment), moment)
        rows = []
        for agent, role in agents:
            pane, fact = panes.get(agent), facts.get(agent)
            hold = effective_hold(agent, holds, shared, now)
            rows.append({
                "name": agent,
                "role": role,
                "window": pane.window_name if pane else None,
                "alive": bool(pane and not pane.dead),
                "restarts": fact.restarts if fact else 0,
                "last_exit_status": pane.dead_status if pane and pane.dead else (fact.last_exit_status if fact else None),
                "credit": {"exhausted": hold is not None, "until": iso(hold.until) if hold else None},
                "next_checkin": iso(due.get(agent)),
                "worktree": None,
            })
        projects.append({
            "name": record.name,
            "session": record.session,
            "manifest": record.manifest_path,
            "watcher": _watcher(watchers.get(record.name), now),
            "agents": rows,
        })
    return {"projects": projects}
