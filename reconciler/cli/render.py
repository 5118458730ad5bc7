"""Text and JSON renderings of plans, outcomes, status and events (no I/O besides returning strings)."""

from __future__ import annotations

import sys
from typing import Any

from reconciler.model.agents import Action, DesiredProject, Plan

_COLOURS = {"+": "32", "~": "33", "-/+": "35", "-": "31"}


def _paint(symbol: str, text: str) -> str:
    if not _colour_on():
        return text
    return f"\x1b[{_COLOURS.get(symbol, '0')}m{text}\x1b[0m"


DISRUPTIVE = "(restarts a live agent)"


def action_document(action: Action) -> dict[str, Any]:
    document: dict[str, Any] = {"op": action.symbol, "kind": type(action).__name__, "target": action.target, "reason": action.reason}
    if getattr(action, "disruptive", False):
        document["disruptive"] = True
    return document


def _head(action: Action) -> str:
    """The plan line's start: a replacement that ends a live agent's conversation says so."""
    return f"{action.symbol} {action.target}" + (f" {DISRUPTIVE}" if getattr(action, "disruptive", False) else "")


def plan_document(plan: Plan, upstream: str | None = None) -> dict[str, Any]:
    return {
        "project": plan.project,
        "session": plan.session,
        "upstream": upstream,
        "actions": [action_document(a) for a in plan.actions],
        "problems": [p.message for p in plan.problems],
        "summary": plan.counts(),
    }


def plan_text(plan: Plan, desired: DesiredProject) -> str:
    upstream = f", upstream {desired.git.upstream}" if desired.git is not None else ""
    lines = [f"Project {plan.project} (session {plan.session}, {len(desired.agents)} agents{upstream}, "
             f"{desired.manifest_path})"]
    for problem in plan.problems:
        lines.append(f"  ! {problem.message}")
    width = max((len(_head(a)) for a in plan.actions), default=0)
    for action in plan.actions:
        head = _head(action)
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
        "actions": [{**action_document(o.action), "ok": o.ok, "status": o.status, "result": o.message}
                    for o in outcomes],
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


def _colour_on() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    import os

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _ago(iso_time: str | None, now: float) -> float | None:
    if not iso_time:
        return None
    from datetime import datetime

    return now - datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


def relative(iso_time: str | None, now: float) -> str:
    """"in 12m", "3m ago", "now": how far a time in the JSON document is from `now`."""
    seconds = _ago(iso_time, now)
    if seconds is None:
        return "-"
    span = abs(seconds)
    if span < 1:
        return "now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if span >= size:
            amount = f"{int(span // size)}{unit}"
            break
    return f"{amount} ago" if seconds > 0 else f"in {amount}"


def agent_state(agent: dict[str, Any], watched: bool) -> str:
    """One word for the board: the agent's own reported state where a driver gives one, else what
    tmux and the credit ledger say."""
    if agent.get("state") and agent["state"] != "unknown":
        return agent["state"]
    if not agent["window"]:
        return "missing"
    if not agent["alive"]:
        return "restarting" if watched else "dead"
    return "held" if agent["credit"]["exhausted"] else "up"


_STATE_COLOURS = {"up": "32", "idle": "32", "working": "32", "held": "33", "limited": "33", "blocked": "33",
                  "starting": "36", "restarting": "33", "dead": "31", "missing": "31"}


def _activity_colour(age: float | None) -> str:
    """Green under 5 minutes, yellow to 10, red past it (as the best agent boards colour it)."""
    if age is None:
        return "0"
    return "32" if age < 300 else "33" if age < 600 else "31"


def _worktree_cell(worktree: dict[str, Any] | None) -> str:
    if not worktree:
        return "-"
    counts = f" +{worktree['ahead']}/-{worktree['behind']}" if worktree.get("ahead") or worktree.get("behind") else ""
    lines = worktree.get("diff")
    diff = f" ({lines['added']}+ {lines['removed']}-)" if lines and (lines["added"] or lines["removed"]) else ""
    return f"{worktree['state']}{counts}{diff}"


def status_text(document: dict[str, Any], now: float | None = None, colour: bool | None = None) -> str:
    """The board: a line per project, a row per agent, problems under the table."""
    import time

    now = time.time() if now is None else now
    colour = _colour_on() if colour is None else colour
    paint = (lambda code, text: f"\x1b[{code}m{text}\x1b[0m") if colour else (lambda code, text: text)
    if not document["projects"]:
        return "No projects. Start one with `orch apply orch.yaml`."
    lines: list[str] = []
    for project in document["projects"]:
        alive = sum(a["alive"] for a in project["agents"])
        watcher = project["watcher"]
        watching = (f"watcher pid {watcher['pid']} (heartbeat {watcher['heartbeat_age_s']}s ago)" if watcher
                    else "no watcher (run `orch reconcile --watch`)")
        upstream = f"  upstream {project['upstream']}" if project.get("upstream") else ""
        lines.append(f"{project['name']}  session {project['session']}  {alive}/{len(project['agents'])} agents up"
                     f"  {watching}{upstream}")
        if project.get("problem"):
            lines.append("  " + paint("31", f"! git work stopped: {project['problem']}"))
        rows = [["AGENT", "ROLE", "STATE", "ACTIVE", "RESTARTS", "NEXT CHECK-IN", "LAST CHECK-IN", "WORKTREE",
                 "CREDIT"]]
        codes: list[tuple[str, str]] = []
        problems: list[str] = []
        for agent in project["agents"]:
            state = agent_state(agent, watcher is not None)
            active_age = _ago(agent.get("last_activity"), now)
            credit = f"out until {_clock(agent['credit']['until'])}" if agent["credit"]["exhausted"] else "ok"
            rows.append([agent["name"], agent["role"] or "-", state, relative(agent.get("last_activity"), now),
                         str(agent["restarts"]), relative(agent["next_checkin"], now),
                         relative(agent.get("last_checkin"), now), _worktree_cell(agent["worktree"]), credit])
            codes.append((_STATE_COLOURS.get(state, "0"), _activity_colour(active_age)))
            worktree = agent["worktree"] or {}
            if worktree.get("conflict_files") or worktree.get("state") == "conflict":
                problems.append(f"{agent['name']}: conflict in {', '.join(worktree.get('conflict_files') or ['?'])}")
            if worktree.get("problem"):
                problems.append(f"{agent['name']}: {worktree['problem']}")
            if agent.get("pending_restart"):
                problems.append(f"{agent['name']}: spec changed; replaced once it is idle "
                                "(now: orch apply --allow-restart)")
        table = _table(rows, "  ")
        lines.append(table[0])
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row, (state_code, active_code), text in zip(rows[1:], codes, table[1:]):
            if colour:  # colour the STATE and ACTIVE cells only; padding stays outside the escapes
                cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
                cells[2] = paint(state_code, cells[2])
                cells[3] = paint(active_code, cells[3])
                text = "  " + "  ".join(cells).rstrip()
            lines.append(text)
        if project.get("error"):
            lines.append("  " + paint("31", f"! manifest: {project['error']} (running the last applied version)"))
        lines += ["  " + paint("31", f"! {problem}") for problem in problems]
        lines.append("")
    return "\n".join(lines).rstrip()


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
