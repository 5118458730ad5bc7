"""Credit holds in the store: an agent out of credit is held until its notice says it may resume."""

from __future__ import annotations

import time

from reconciler.model.checkins import CreditHold
from reconciler.state.store import Store


def credit_holds(store: Store, project: str) -> dict[str, CreditHold]:
    rows = store.conn.execute("SELECT * FROM credit WHERE project = ?", (project,))
    return {row["agent"]: CreditHold(row["project"], row["agent"], row["notice"], row["first_seen"], row["until"],
                                     row["attempt"], row["source"], bool(row["resumed"])) for row in rows}


def put_credit_hold(store: Store, hold: CreditHold) -> None:
    with store.transaction():
        store.conn.execute(
            "INSERT OR REPLACE INTO credit (project, agent, notice, first_seen, until, attempt, source, resumed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (hold.project, hold.agent, hold.notice, hold.first_seen, hold.until, hold.attempt, hold.source,
             int(hold.resumed)))


def marker_typed_at(store: Store, project: str, marker: str) -> float | None:
    row = store.conn.execute("SELECT typed_at FROM firings WHERE project = ? AND marker = ? ORDER BY id DESC LIMIT 1",
                             (project, marker)).fetchone()
    return row[0] if row else None


def mark_resumed(store: Store, hold: CreditHold) -> None:
    with store.transaction():
        store.conn.execute("UPDATE credit SET resumed = 1 WHERE project = ? AND agent = ?", (hold.project, hold.agent))


def clear_credit(store: Store, project: str, agent: str) -> CreditHold | None:
    """End a hold now and remember its notice as seen, so the same text does not hold again."""
    holds = credit_holds(store, project)
    hold = holds.get(agent)
    if hold is None:
        return None
    with store.transaction():
        store.conn.execute("UPDATE credit SET until = ?, source = 'cleared', resumed = 1"
                           " WHERE project = ? AND agent = ?", (time.time(), project, agent))
    return hold
