"""One-off check-ins (`orch checkin`) and manual credit overrides (`orch credit`).

Each writes the store and pokes the watchers, which re-plan at once.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

from reconciler.agents import resolve_agent
from reconciler.errors import UserError
from reconciler.model.checkins import CreditHold
from reconciler.state import checkins as checkin_records
from reconciler.state import credit as credit_records
from reconciler.timefmt import iso, local
from reconciler.runtime.wake import poke

_FRACTION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_delay(text: str) -> float:
    """`--in`: a manifest duration (90s, 1h30m) or a fractional one (0.5m, 1.5h)."""
    from reconciler.manifest.durations import check_bound, parse_duration

    try:
        match = _FRACTION.match(text.strip())
        if not match:
            return parse_duration(text)
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
        if seconds <= 0:
            raise ValueError(f"{text!r} must be in the future")
        check_bound(text, seconds)
        return seconds
    except ValueError as err:
        raise UserError(f"--in: {err}") from None


def _known_agent(ctx, project: str, agent: str) -> None:
    store = ctx.store(maintain=True)  # every caller writes next: integrity check and backup first
    if store.project(project) is None:
        raise UserError(f"no project named {project!r} (see `orch status`)")
    if agent not in store.agent_facts(project):
        raise UserError(f"project {project!r} has no agent {agent!r} (see `orch status {project}`)")


def schedule_checkin(ctx, address: str | None, project: str | None, delay: str, note: str) -> tuple[dict, str]:
    if not note.strip():
        raise UserError("--note is empty: say what the check-in should remind the agent of")
    project, agent = resolve_agent(address, project)
    _known_agent(ctx, project, agent)
    due = time.time() + parse_delay(delay)
    store = ctx.store(maintain=True)
    schedule_id = checkin_records.add_one_off(store, project, agent, due, note)
    store.record_event("schedule.added", f"one-off check-in for {agent} at {iso(due)}", project=project,
                       agent=agent, schedule=schedule_id)
    poke(ctx.home)
    document = {"id": schedule_id, "project": project, "agent": agent, "due": iso(due), "note": note}
    return document, f"check-in {schedule_id} for {project}/{agent} at {local(due)}\nSCHEDULED TO RUN AT: " \
                     f"{time.strftime('%H:%M:%S', time.localtime(due))}"


def list_checkins(ctx, project: str | None) -> tuple[dict, str]:
    rows = checkin_records.schedules(ctx.store(), project)
    items = [{"id": s.id, "project": s.project, "agent": s.agent, "kind": "recurring" if s.every_s else "once",
              "every_s": s.every_s, "next_due": iso(s.next_due), "note": s.note} for s in rows]
    if not rows:
        return {"checkins": []}, "No check-ins scheduled."
    lines = [f"{'ID':>4}  {'AGENT':<24}  {'NEXT':<19}  {'EVERY':<7}  NOTE"]
    from reconciler.manifest.durations import format_duration

    for s in rows:
        every = format_duration(s.every_s) if s.every_s else "once"
        lines.append(f"{s.id:>4}  {s.project + '/' + s.agent:<24}  {local(s.next_due):<19}  {every:<7}  {s.note[:60]}")
    return {"checkins": items}, "\n".join(lines)


def cancel_checkin(ctx, schedule_id: int) -> tuple[dict, str]:
    store = ctx.store(maintain=True)
    schedule = next((s for s in checkin_records.schedules(store) if s.id == schedule_id), None)
    if schedule is None:
        raise UserError(f"no check-in with id {schedule_id} (see `orch checkin --list`)")
    if schedule.source == "manifest":
        raise UserError(f"check-in {schedule_id} comes from the manifest; remove it there and run `orch apply`")
    checkin_records.cancel_schedule(store, schedule_id)
    store.record_event("schedule.removed", f"one-off check-in {schedule_id} cancelled", project=schedule.project,
                       agent=schedule.agent)
    poke(ctx.home)
    return {"cancelled": schedule_id}, f"cancelled check-in {schedule_id}"


def parse_until(text: str, now: float) -> float:
    """HH:MM (the next occurrence, local time), an ISO 8601 time, or a duration from now."""
    text = text.strip()
    clock = re.match(r"^(\d{1,2}):(\d{2})$", text)
    if clock:
        moment = datetime.fromtimestamp(now).replace(hour=int(clock[1]), minute=int(clock[2]), second=0, microsecond=0)
        if moment.timestamp() <= now:
            moment += timedelta(days=1)
        return moment.timestamp()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.timestamp()
    except ValueError:
        pass
    try:
        return now + parse_delay(text)
    except UserError:
        raise UserError(f"--until {text!r}: use HH:MM, an ISO time (2026-11-27T17:30) or a duration (2h)") from None


def credit_clear(ctx, address: str | None, project: str | None) -> tuple[dict[str, Any], str]:
    project, agent = resolve_agent(address, project)
    _known_agent(ctx, project, agent)
    store = ctx.store(maintain=True)
    hold = credit_records.clear_credit(store, project, agent)
    store.record_event("credit.cleared", f"credit hold on {agent} cleared by hand", project=project, agent=agent)
    poke(ctx.home)
    if hold is None:
        return {"project": project, "agent": agent, "cleared": False}, f"{project}/{agent} was not held"
    return {"project": project, "agent": agent, "cleared": True}, f"{project}/{agent}: hold cleared"


def credit_hold(ctx, address: str | None, project: str | None, until_text: str) -> tuple[dict[str, Any], str]:
    project, agent = resolve_agent(address, project)
    _known_agent(ctx, project, agent)
    now = time.time()
    until = parse_until(until_text, now)
    store = ctx.store(maintain=True)
    credit_records.put_credit_hold(store, CreditHold(project, agent, "held by hand", now, until, 0, "manual"))
    store.record_event("credit.held", f"{agent} held by hand until {iso(until)}", project=project, agent=agent)
    poke(ctx.home)
    return {"project": project, "agent": agent, "until": iso(until)}, f"{project}/{agent}: held until {local(until)}"
