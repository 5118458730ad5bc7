"""Watcher heartbeats in the store: which `orch watch` process keeps which project."""

from __future__ import annotations

import time
from typing import Iterable

from reconciler.state.store import Store


def heartbeat(store: Store, projects: Iterable[str], pid: int, started_at: float) -> None:
    now = time.time()
    with store.transaction():
        for project in projects:
            store.conn.execute("INSERT OR REPLACE INTO watchers (project, pid, started_at, heartbeat)"
                               " VALUES (?, ?, ?, ?)", (project, pid, started_at, now))


def watcher_rows(store: Store) -> dict[str, tuple[int, float]]:
    """project -> (pid, heartbeat) as last written; the caller checks that the pid still lives."""
    return {row["project"]: (row["pid"], row["heartbeat"])
            for row in store.conn.execute("SELECT * FROM watchers")}


def drop_watcher(store: Store, projects: Iterable[str], pid: int) -> None:
    with store.transaction():
        for project in projects:
            store.conn.execute("DELETE FROM watchers WHERE project = ? AND pid = ?", (project, pid))
