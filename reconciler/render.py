"""Text and JSON renderings of plans, outcomes, status and events (no I/O besides returning strings)."""

from __future__ import annotations

import sys
from typing import Any

from reconciler.model import Action, DesiredProject, Plan

_COLOURS = {"+": "32", "~": "33", "-/+": "35", "-": "31"}


def _paint(symbol: str, text: str) -> str:
    if not sys.stdout.isatty():
        return text
    return f"\x1b[{_COLOURS.get(symbol, '0')}m{text}\x1b[0m"


def action_document(action: Action) -> dict[str, Any]:
    return {"op": action.symbol, "kind": type(action).__name__, "target": action.target, "reason": action.reason}


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "project": plan.project,
        "session": plan.session,
        "actions": [action_document(a) for a in plan.actions],
        "problems": [p.message for p in plan.problems],
        "summary": plan.counts(),
    }


def plan_text(plan: Plan, desired: DesiredProject) -> str:
    lines = [f"Project {plan.project} (session {plan.session}, {len(desired.agents)} agents, {desired.manifest_path})"]
    for problem in plan.problems:
        lines.append(f"  ! {problem.message}")
    width = max((len(a.symbol) + 1 + len(a.target) for a in plan.actions), default=0)
    for action in plan.actions:
        head = f"{action.symbol} {action.target}"
        lines.append("  " + _paint(action.symbol, head.ljust(width)) + (f"   {action.reason}" if action.reason else ""))
    if not plan.actions and not plan.problems:
        lines.append("No changes. tmux matches the manifest.")
    else:
        c = plan.counts()
        lines.append(f"Plan: {c['add']} to add, {c['change']} to change, {c['destroy']} to destroy.")
    return "\n".join(lines)


def outcomes_document(project: str, outcomes: list) -> dict[str, Any]:
    return {
        "project": project,
        "ok": all(o.ok for o in outcomes),
        "actions": [{**action_document(o.action), "ok": o.ok, "result": o.message} for o in outcomes],
    }


def pass_document(result) -> dict[str, Any]:
    from reconciler.timefmt import iso

    return {**outcomes_document(result.project, result.outcomes), "next_wake": iso(result.wake_at)}


def outcomes_text(project: str, outcomes: list, destroyed: bool = False) -> str:
    if not outcomes:
        return f"{project}: nothing to do." if not destroyed else f"{project}: destroyed (no windows were running)."
    lines = []
    for outcome in outcomes:
        mark = "ok " if outcome.ok else "FAILED "
        lines.append(f"  {_paint(outcome.action.symbol, outcome.action.symbol + ' ' + outcome.action.target)}: {mark}{outcome.message}")
    failed = sum(not o.ok for o in outcomes)
    verb = "destroyed" if destroyed else "applied"
    lines.append(f"{project}: {verb}, {len(outcomes) - failed} done, {failed} failed.")
    return "\n".join(lines)


def _table(rows: list[list[str]], indent: str = "") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def status_text(document: dict[str, Any]) -> str:
    if not document["projects"]:
        return "No projects. Start one with `orch apply orch.yaml`."
    lines: list[str] = []
    for project in document["projects"]:
        alive = sum(a["alive"] for a in project["agents"])
        watcher = project["watcher"]
        watching = (f"watcher pid {watcher['pid']} (heartbeat {watcher['heartbeat_age_s']}s ago)" if watcher
                    else "no watcher (run `orch reconcile --watch`)")
        lines.append(f"{project['name']}  session {project['session']}  {alive}/{len(project['agents'])} agents up  {watching}")
        rows = [["AGENT", "ROLE", "WINDOW", "STATE", "RESTARTS", "LAST EXIT", "NEXT CHECK-IN", "CREDIT"]]
        for agent in project["agents"]:
            state = _agent_state(agent)
            credit = f"out until {_clock(agent['credit']['until'])}" if agent["credit"]["exhausted"] else "ok"
            rows.append([agent["name"], agent["role"] or "-", agent["window"] or "-", state, str(agent["restarts"]),
                         "-" if agent["last_exit_status"] is None else str(agent["last_exit_status"]),
                         _clock(agent["next_checkin"]), credit])
        lines += _table(rows, "  ")
        lines.append("")
    return "\n".join(lines).rstrip()


def _agent_state(agent: dict[str, Any]) -> str:
    """`working 12s`, `idle 3m`: what the agent reports, with its age; `up` when it reports nothing."""
    if not agent["alive"]:
        return "dead" if agent["window"] else "missing"
    state, age = agent.get("state", "unknown"), agent.get("state_age_s")
    if state == "unknown":
        return "up"
    if age is None:
        return state
    amount = (f"{age:.0f}s" if age < 60 else f"{age / 60:.0f}m" if age < 3600 else f"{age / 3600:.1f}h")
    return f"{state} {amount}"


def _clock(iso_time: str | None) -> str:
    """An ISO UTC time from the JSON document, as local clock time for the table."""
    if not iso_time:
        return "-"
    from datetime import datetime

    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).astimezone().strftime("%m-%d %H:%M:%S")


def event_line(event) -> str:
    from reconciler.timefmt import local

    who = "/".join(x for x in (event.project, event.agent) if x) or "-"
    return f"{local(event.ts)}  {who:<20}  {event.kind:<18}  {event.message}"
