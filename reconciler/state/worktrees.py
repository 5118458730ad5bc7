"""Worktree sync records in the store: the last sync of each agent's worktree and what stopped it."""

from __future__ import annotations

import json

from reconciler.model.worktrees import SyncRecord
from reconciler.state.store import Store


def sync_records(store: Store, project: str) -> dict[str, SyncRecord]:
    rows = store.conn.execute("SELECT * FROM worktrees WHERE project = ?", (project,))
    return {row["agent"]: SyncRecord(row["agent"], row["state"], row["last_sync"], row["conflict_upstream"],
                                     tuple(json.loads(row["conflict_files"] or "[]")), row["escalated_upstream"],
                                     row["skipped_upstream"], row["gate_failed_head"]) for row in rows}


def update_sync_record(store: Store, project: str, agent: str, **fields) -> None:
    if "conflict_files" in fields:
        fields["conflict_files"] = json.dumps(list(fields["conflict_files"] or ()))
    store.upsert("worktrees", {"project": project, "agent": agent}, fields,
                 allowed=set(SyncRecord.__dataclass_fields__))


def forget_sync_record(store: Store, project: str, agent: str | None = None) -> None:
    with store.transaction():
        if agent is None:
            store.conn.execute("DELETE FROM worktrees WHERE project = ?", (project,))
        else:
            store.conn.execute("DELETE FROM worktrees WHERE project = ? AND agent = ?", (project, agent))
