"""`orch metrics`: the improvement spec's four questions answered from the ledger and the event log.

Scheduler reliability (check-ins due, delivered, lateness), sync latency and conflicts, restarts
and credit holds, and concurrent capacity (projects and agents). `summarize` is pure over plain
rows, so the figures are table-tested; `collect_metrics` only reads the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

SYNC_DONE = ("sync.rebased", "sync.merged")
DELIVERED = ("checkin.delivered", "message.delivered", "brief.delivered", "credit.resumed")
HOLD_STARTED = ("credit.exhausted", "credit.held")


@dataclass(frozen=True)
class FiringRow:
    """One check-in due moment as the ledger closed it (or left it open)."""
    due: float
    state: str  # planned | typing | submitted | failed | skipped
    typed_at: float | None


@dataclass(frozen=True)
class EventRow:
    ts: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..100): a value that really occurred, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def summarize(name: str, firings: Iterable[FiringRow], events: Iterable[EventRow], agents: int,
              now: float) -> dict[str, Any]:
    """One project's metrics. A check-in counts once it is due; its lateness is paste time − due."""
    due = [f for f in firings if f.due <= now]
    delivered = [f for f in due if f.state == "submitted"]
    lateness = [max(0.0, f.typed_at - f.due) for f in delivered if f.typed_at is not None]
    events = list(events)
    latencies = [float(e.data["latency_s"]) for e in events
                 if e.kind in SYNC_DONE and isinstance(e.data.get("latency_s"), (int, float))]
    return {
        "name": name,
        "checkins": {
            "due": len(due),
            "delivered": len(delivered),
            "failed": sum(f.state == "failed" for f in due),
            "skipped": sum(f.state == "skipped" for f in due),
            "pending": sum(f.state in ("planned", "typing") for f in due),
            "success_rate": round(len(delivered) / len(due), 4) if due else None,
            "lateness_p50_s": _seconds(percentile(lateness, 50)),
            "lateness_p99_s": _seconds(percentile(lateness, 99)),
            "held_for_credit": sum(e.kind in HOLD_STARTED for e in events),
        },
        "sync": {
            "syncs": sum(e.kind in SYNC_DONE for e in events),
            "latency_p50_s": _seconds(percentile(latencies, 50)),
            "latency_p99_s": _seconds(percentile(latencies, 99)),
            "conflicts": sum(e.kind == "sync.conflict" for e in events),
        },
        "restarts": sum(e.kind == "agent.restarted" for e in events),
        "agents": agents,
        "deliveries": _confirmations(events),
    }


def _confirmations(events: list[EventRow]) -> dict[str, Any]:
    """Who confirmed each delivery: the agent's own receipt (Claude Code's UserPromptSubmit) or the screen."""
    by = [e.data.get("confirmed_by") for e in events if e.kind in DELIVERED]
    receipt, screen = by.count("receipt"), by.count("screen")
    return {"confirmed_by_receipt": receipt, "confirmed_by_screen": screen,
            "receipt_share": round(receipt / (receipt + screen), 4) if receipt + screen else None}


def collect_metrics(ctx, name: str | None = None, since: float | None = None) -> dict[str, Any]:
    """Every registered project's metrics (or one's), from `since` (epoch seconds) on, if given."""
    import time

    from reconciler.errors import UserError

    store = ctx.store()
    records = store.projects()
    if name is not None:
        records = [r for r in records if r.name == name]
        if not records:
            raise UserError(f"no project named {name!r} (registered: "
                            f"{', '.join(r.name for r in store.projects()) or 'none'})")
    now, start = time.time(), since if since is not None else 0.0
    projects = []
    for record in records:
        firings = [FiringRow(row["due"], row["state"], row["typed_at"]) for row in store.conn.execute(
            "SELECT due, state, typed_at FROM firings WHERE project = ? AND due >= ?",
            (record.name, start)).fetchall()]
        events = [EventRow(e.ts, e.kind, e.data) for e in store.events(record.name) if e.ts >= start]
        agents = len(store.agent_facts(record.name))
        projects.append(summarize(record.name, firings, events, agents, now))
    return {"projects": projects, "concurrent_projects": len(projects),
            "concurrent_agents": sum(p["agents"] for p in projects),
            "since": None if since is None else _iso(since)}


def _iso(ts: float) -> str | None:
    from reconciler.timefmt import iso

    return iso(ts)


# -- renderings -------------------------------------------------------------------------------------

_GAUGES = (
    # name, help, type, value from a project document
    ("orch_checkins_due_total", "check-ins that came due", "counter", lambda p: p["checkins"]["due"]),
    ("orch_checkins_delivered_total", "check-ins typed and seen submitted", "counter",
     lambda p: p["checkins"]["delivered"]),
    ("orch_checkins_failed_total", "check-ins whose last attempt failed", "counter", lambda p: p["checkins"]["failed"]),
    ("orch_checkins_skipped_total", "missed check-ins skipped by policy", "counter", lambda p: p["checkins"]["skipped"]),
    ("orch_checkin_success_ratio", "delivered / due", "gauge", lambda p: p["checkins"]["success_rate"]),
    ("orch_credit_holds_total", "times an agent was held for credit", "counter",
     lambda p: p["checkins"]["held_for_credit"]),
    ("orch_syncs_total", "worktrees brought onto a new upstream commit", "counter", lambda p: p["sync"]["syncs"]),
    ("orch_sync_conflicts_total", "syncs aborted on a conflict", "counter", lambda p: p["sync"]["conflicts"]),
    ("orch_restarts_total", "dead agents restarted", "counter", lambda p: p["restarts"]),
    ("orch_agents", "agents the project runs", "gauge", lambda p: p["agents"]),
    ("orch_deliveries_confirmed_by_receipt_total", "deliveries the agent's own receipt confirmed", "counter",
     lambda p: p["deliveries"]["confirmed_by_receipt"]),
    ("orch_deliveries_confirmed_by_screen_total", "deliveries only the screen confirmed", "counter",
     lambda p: p["deliveries"]["confirmed_by_screen"]),
)
_SUMMARIES = (
    ("orch_checkin_lateness_seconds", "paste time minus due time of delivered check-ins", "checkins", "lateness"),
    ("orch_sync_latency_seconds", "upstream commit to worktree synced", "sync", "latency"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float | int) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def prometheus(document: dict[str, Any]) -> str:
    """The Prometheus text exposition format (what node_exporter's textfile collector reads)."""
    lines: list[str] = []
    projects = document["projects"]
    for metric, help_text, kind, value in _GAUGES:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}"]
        lines += [f'{metric}{{project="{_label(p["name"])}"}} {_number(value(p))}'
                  for p in projects if value(p) is not None]
    for metric, help_text, part, stem in _SUMMARIES:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} summary"]
        for p in projects:
            for quantile, key in (("0.5", f"{stem}_p50_s"), ("0.99", f"{stem}_p99_s")):
                if p[part][key] is not None:
                    lines.append(f'{metric}{{project="{_label(p["name"])}",quantile="{quantile}"}} '
                                 f'{_number(p[part][key])}')
    lines += ["# HELP orch_projects registered projects", "# TYPE orch_projects gauge",
              f"orch_projects {document['concurrent_projects']}"]
    return "\n".join(lines) + "\n"


def text(document: dict[str, Any]) -> str:
    """A short report for a terminal, one block per project."""
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"

    out = [f"{document['concurrent_projects']} project(s), {document['concurrent_agents']} agent(s)"
           + (f" since {document['since']}" if document.get("since") else "")]
    for p in document["projects"]:
        c, s = p["checkins"], p["sync"]
        rate = "-" if c["success_rate"] is None else f"{c['success_rate'] * 100:.1f} %"
        out += [f"{p['name']}: {p['agents']} agent(s), {p['restarts']} restart(s)",
                f"  check-ins  {c['delivered']}/{c['due']} delivered ({rate}); {c['failed']} failed, "
                f"{c['skipped']} skipped, {c['pending']} pending; lateness p50 {seconds(c['lateness_p50_s'])}, "
                f"p99 {seconds(c['lateness_p99_s'])}; {c['held_for_credit']} credit hold(s)",
                f"  sync       {s['syncs']} sync(s), latency p50 {seconds(s['latency_p50_s'])}, "
                f"p99 {seconds(s['latency_p99_s'])}; {s['conflicts']} conflict(s)",
                f"  delivered  {p['deliveries']['confirmed_by_receipt']} confirmed by the agent's receipt, "
                f"{p['deliveries']['confirmed_by_screen']} by the screen"]
    return "\n".join(out)


def write_textfile(path: Path, content: str) -> None:
    """Replace `path` atomically (a temporary file beside it, then rename), as the collector expects."""
    from reconciler.errors import UserError

    path = path.expanduser().resolve()
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file path such as {path / 'orch.prom'}")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: no such folder (create it, or give --textfile another path)")
    from reconciler.home import write_atomic

    write_atomic(path, content, mode=0o644)  # the collector runs as another user; the figures are not secret
