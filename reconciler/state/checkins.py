"""Check-in schedules and the firing ledger in the store.

The ledger makes each firing idempotent: a row per (schedule, due time), written before and
after the typing, so a process that dies in between leaves a `typing` row that the next
reconcile resolves by looking at the pane instead of typing the note again.
"""

from __future__ import annotations

import secrets
import time
from typing import Iterable

from reconciler.model.checkins import DesiredCheckin, Firing, Schedule
from reconciler.state.store import Store


def _schedule(row) -> Schedule:
    return Schedule(row["id"], row["project"], row["agent"], row["source"], row["key"], row["every_s"],
                    row["note"], row["next_due"], row["created_at"], row["failures"], row["retry_after"])


def _firing(row) -> Firing:
    return Firing(row["id"], row["schedule_id"], row["project"], row["agent"], row["due"], row["state"],
                  row["marker"], bool(row["missed"]), row["reason"], row["typed_at"], row["pane_id"])


def schedules(store: Store, project: str | None = None) -> list[Schedule]:
    query, params = "SELECT * FROM schedules WHERE next_due IS NOT NULL", []
    if project is not None:
        query += " AND project = ?"
        params.append(project)
    return [_schedule(row) for row in store.conn.execute(query + " ORDER BY next_due, id", params)]


def earliest_due(store: Store, projects: Iterable[str]) -> float | None:
    names = list(projects)
    if not names:
        return None
    marks = ",".join("?" * len(names))
    row = store.conn.execute(
        f"SELECT MIN(MAX(next_due, COALESCE(retry_after, 0))) FROM schedules"
        f" WHERE next_due IS NOT NULL AND project IN ({marks})", names).fetchone()
    return row[0]


def sync_manifest_schedules(store: Store, project: str, desired: list[DesiredCheckin],
                            agents: set[str], now: float) -> tuple[list[str], list[str]]:
    """Make the manifest's recurring schedules match `desired`; drop one-offs of removed agents.

    A new schedule is first due `every` from now; an unchanged one keeps its due time (a
    re-apply or an agent restart does not reset it). Returns (added, removed) descriptions.
    """
    added, removed = [], []
    with store.transaction():
        stored = {row["key"]: row for row in store.conn.execute(
            "SELECT * FROM schedules WHERE project = ? AND source = 'manifest'", (project,))}
        wanted = {c.key: c for c in desired}
        for key, row in stored.items():
            if key not in wanted:
                store.conn.execute("DELETE FROM schedules WHERE id = ?", (row["id"],))
                removed.append(f"{row['agent']}: every {row['every_s']:.0f}s {row['note'][:40]!r}")
        for key, checkin in wanted.items():
            if key not in stored:
                store.conn.execute(
                    "INSERT INTO schedules (project, agent, source, key, every_s, note, next_due, created_at)"
                    " VALUES (?, ?, 'manifest', ?, ?, ?, ?, ?)",
                    (project, checkin.agent, key, checkin.every_s, checkin.note, now + checkin.every_s, now))
                added.append(f"{checkin.agent}: every {checkin.every_s:.0f}s {checkin.note[:40]!r}")
        marks = ",".join("?" * len(agents)) or "''"
        store.conn.execute(
            f"DELETE FROM schedules WHERE project = ? AND source = 'agent' AND agent NOT IN ({marks})",
            (project, *sorted(agents)))
    return added, removed


def add_one_off(store: Store, project: str, agent: str, due: float, note: str) -> int:
    with store.transaction():
        cursor = store.conn.execute(
            "INSERT INTO schedules (project, agent, source, key, every_s, note, next_due, created_at)"
            " VALUES (?, ?, 'agent', NULL, NULL, ?, ?, ?)", (project, agent, note, due, time.time()))
    return int(cursor.lastrowid or 0)


def cancel_schedule(store: Store, schedule_id: int) -> Schedule | None:
    row = store.conn.execute("SELECT * FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
    if row is None:
        return None
    with store.transaction():
        store.conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
    return _schedule(row)


def forget_schedules(store: Store, project: str) -> None:
    with store.transaction():
        store.conn.execute("DELETE FROM schedules WHERE project = ?", (project,))
        store.conn.execute("DELETE FROM firings WHERE project = ? AND state IN ('planned', 'typing')", (project,))
        store.conn.execute("DELETE FROM credit WHERE project = ?", (project,))
        store.conn.execute("DELETE FROM watchers WHERE project = ?", (project,))


def open_firings(store: Store, project: str) -> list[Firing]:
    rows = store.conn.execute("SELECT * FROM firings WHERE project = ? AND state = 'typing'", (project,))
    return [_firing(row) for row in rows]


def firing_current(store: Store, firing: Firing) -> bool:
    """Is `firing` still being typed with its own marker (not settled, nor begun again, by someone else)?"""
    row = store.conn.execute("SELECT state, marker FROM firings WHERE id = ?", (firing.id,)).fetchone()
    return row is not None and row["state"] == "typing" and row["marker"] == firing.marker


def begin_firing(store: Store, schedule: Schedule, due: float, missed: bool, pane_id: str) -> Firing | None:
    """Record `typing` for (schedule, due); None if it was already submitted.

    A retry keeps the marker of the failed attempt, so it can find its own text still waiting
    in the agent's input box (and press Enter instead of pasting a second copy)."""
    now = time.time()
    with store.transaction():
        row = store.conn.execute("SELECT * FROM firings WHERE schedule_id = ? AND due = ?",
                                 (schedule.id, due)).fetchone()
        if row is not None and row["state"] in ("submitted", "skipped", "typing"):
            return None
        marker = row["marker"] if row is not None and row["marker"] else secrets.token_hex(3)
        if row is None:
            store.conn.execute(
                "INSERT INTO firings (schedule_id, project, agent, due, state, marker, missed, created_at,"
                " typed_at, pane_id) VALUES (?, ?, ?, ?, 'typing', ?, ?, ?, ?, ?)",
                (schedule.id, schedule.project, schedule.agent, due, marker, int(missed), now, now, pane_id))
        else:
            store.conn.execute(
                "UPDATE firings SET state = 'typing', marker = ?, typed_at = ?, pane_id = ?, reason = NULL"
                " WHERE id = ?", (marker, now, pane_id, row["id"]))
        row = store.conn.execute("SELECT * FROM firings WHERE schedule_id = ? AND due = ?",
                                 (schedule.id, due)).fetchone()
    return _firing(row)


def finish_firing(store: Store, firing: Firing, state: str, next_due: float | None,
                  reason: str | None = None, typed_at: float | None = None) -> None:
    """Close a firing and move its schedule on, in one transaction (both happen or neither).

    `typed_at`: when the paste really happened (the row first holds when typing was decided).
    """
    now = time.time()
    with store.transaction():
        store.conn.execute("UPDATE firings SET state = ?, reason = ?, done_at = ?, typed_at = COALESCE(?, typed_at)"
                           " WHERE id = ?", (state, reason, now, typed_at, firing.id))
        store.conn.execute("UPDATE schedules SET next_due = ?, failures = 0, retry_after = NULL WHERE id = ?",
                           (next_due, firing.schedule_id))


def fail_firing(store: Store, firing: Firing, reason: str, retry_after: float) -> None:
    with store.transaction():
        store.conn.execute("UPDATE firings SET state = 'failed', reason = ?, done_at = ? WHERE id = ?",
                           (reason, time.time(), firing.id))
        store.conn.execute("UPDATE schedules SET failures = failures + 1, retry_after = ? WHERE id = ?",
                           (retry_after, firing.schedule_id))


def skip_firing(store: Store, schedule: Schedule, due: float, next_due: float | None) -> None:
    now = time.time()
    with store.transaction():
        store.conn.execute(
            "INSERT OR IGNORE INTO firings (schedule_id, project, agent, due, state, marker, missed, created_at,"
            " done_at, reason) VALUES (?, ?, ?, ?, 'skipped', '', 1, ?, ?, 'missed; policy skip')",
            (schedule.id, schedule.project, schedule.agent, due, now, now))
        store.conn.execute("UPDATE schedules SET next_due = ? WHERE id = ?", (next_due, schedule.id))


def release_firing(store: Store, firing: Firing, reason: str) -> None:
    """Nothing was typed (held back, or interrupted before the paste): back to `planned`."""
    with store.transaction():
        store.conn.execute("UPDATE firings SET state = 'planned', reason = ? WHERE id = ?", (reason, firing.id))


def last_checkins(store: Store, project: str) -> dict[str, float]:
    """agent -> when its latest delivered check-in was typed."""
    return {row[0]: row[1] for row in store.conn.execute(
        "SELECT agent, MAX(typed_at) FROM firings WHERE project = ? AND state = 'submitted' GROUP BY agent",
        (project,)).fetchall()}
