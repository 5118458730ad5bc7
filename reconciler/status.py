"""`orch status`: the registry, the last applied manifests and one tmux observation, as one document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.errors import UserError
from reconciler.observe.tmux import observe


def _applied_agents(record) -> list[tuple[str, str | None]]:
    """(name, role) of each agent in the last applied manifest; [] if it no longer parses."""
    from reconciler.manifest.loader import ManifestError, parse_manifest

    if not record.manifest_text:
        return []
    try:
        loaded = parse_manifest(record.manifest_text, Path(record.manifest_path))
    except ManifestError:
        return []
    return [(agent.name, agent.role) for agent in loaded.manifest.spec.agents]


def collect_status(ctx, name: str | None = None) -> dict[str, Any]:
    store = ctx.store()
    records = store.projects()
    if name is not None:
        records = [r for r in records if r.name == name]
        if not records:
            raise UserError(f"no project named {name!r} (registered: {', '.join(r.name for r in store.projects()) or 'none'})")
    observed = observe(ctx.tmux)
    projects = []
    for record in records:
        panes = {p.agent: p for p in observed.agent_panes(record.name) if p.session_name == record.session}
        facts = store.agent_facts(record.name)
        agents = _applied_agents(record)
        known = {agent for agent, _ in agents}
        agents += [(agent, None) for agent in sorted(panes) if agent not in known]
        rows = []
        for agent, role in agents:
            pane, fact = panes.get(agent), facts.get(agent)
            rows.append({
                "name": agent,
                "role": role,
                "window": pane.window_name if pane else None,
                "alive": bool(pane and not pane.dead),
                "restarts": fact.restarts if fact else 0,
                "last_exit_status": pane.dead_status if pane and pane.dead else (fact.last_exit_status if fact else None),
                "credit": {"exhausted": False, "until": None},
                "next_checkin": None,
                "worktree": None,
            })
        projects.append({
            "name": record.name,
            "session": record.session,
            "manifest": record.manifest_path,
            "watcher": None,
            "agents": rows,
        })
    return {"projects": projects}
