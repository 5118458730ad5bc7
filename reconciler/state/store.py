"""orch's SQLite store: the project registry, agent runtime facts and the append-only event log.

One file, `ORCH_HOME/state.db` (0600 in a 0700 folder), WAL so readers never block the
writer, a busy timeout so concurrent orch processes queue instead of failing, and
`PRAGMA user_version` migrations. Writers check integrity at start and keep a backup copy;
a corrupt file is moved aside and restored from that copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import threading
import urllib.parse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from reconciler.home import private_dir, private_file
from reconciler.model.agents import AgentFacts

MIGRATIONS: list[str] = [
    # 1: registry, agent runtime facts, events
    """
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        manifest_path TEXT NOT NULL,
        manifest_text TEXT NOT NULL DEFAULT '',
        manifest_sha256 TEXT NOT NULL DEFAULT '',
        session TEXT NOT NULL,
        created_at REAL NOT NULL,
        applied_at REAL
    );
    CREATE TABLE agents (
        project TEXT NOT NULL,
        name TEXT NOT NULL,
        started_at REAL,
        restarts INTEGER NOT NULL DEFAULT 0,
        crash_streak INTEGER NOT NULL DEFAULT 0,
        last_exit_status INTEGER,
        briefed_pane TEXT,
        briefed_pid INTEGER,
        spec TEXT,
        PRIMARY KEY (project, name)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        project TEXT,
        agent TEXT,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT
    );
    CREATE INDEX events_project ON events (project, id);
    """,
    # 2: check-in schedules and their ledger, credit holds, watcher heartbeats
    """
    CREATE TABLE schedules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project TEXT NOT NULL,
        agent TEXT NOT NULL,
        source TEXT NOT NULL,
        key TEXT,
        every_s REAL,
        note TEXT NOT NULL,
        next_due REAL,
        created_at REAL NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        retry_after REAL,
        UNIQUE (project, key)
    );
    CREATE INDEX schedules_due ON schedules (next_due);
    CREATE TABLE firings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule_id INTEGER NOT NULL,
        project TEXT NOT NULL,
        agent TEXT NOT NULL,
        due REAL NOT NULL,
        state TEXT NOT NULL,
        marker TEXT NOT NULL,
        missed INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        created_at REAL NOT NULL,
        typed_at REAL,
        done_at REAL,
        pane_id TEXT,
        UNIQUE (schedule_id, due)
    );
    CREATE INDEX firings_open ON firings (state);
    CREATE TABLE credit (
        project TEXT NOT NULL,
        agent TEXT NOT NULL,
        notice TEXT NOT NULL,
        first_seen REAL NOT NULL,
        until REAL NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        source TEXT NOT NULL,
        resumed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project, agent)
    );
    CREATE TABLE watchers (
        project TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        heartbeat REAL NOT NULL
    );
    """,
    # 3: worktree sync records
    """
    CREATE TABLE worktrees (
        project TEXT NOT NULL,
        agent TEXT NOT NULL,
        state TEXT,
        last_sync REAL,
        conflict_upstream TEXT,
        conflict_files TEXT,
        escalated_upstream TEXT,
        skipped_upstream TEXT,
        gate_failed_head TEXT,
        PRIMARY KEY (project, agent)
    );
    """,
    # 4: the desired state of the last applied manifest (lets a converged plan skip validation)
    """
    ALTER TABLE projects ADD COLUMN desired_key TEXT;
    ALTER TABLE projects ADD COLUMN desired_json TEXT;
    """,
    # 5: when orch first saw an agent's process dead (anchors the crash-loop backoff when tmux gives no time)
    """
    ALTER TABLE agents ADD COLUMN seen_dead_at REAL;
    ALTER TABLE agents ADD COLUMN seen_dead_pid INTEGER;
    """,
    # 6: the project's upstream branch, resolved once at first apply; problems reported once per change
    """
    ALTER TABLE projects ADD COLUMN upstream TEXT;
    CREATE TABLE reported (
        project TEXT NOT NULL,
        topic TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (project, topic)
    );
    """,
]


@dataclass(frozen=True)
class ProjectRecord:
    name: str
    id: str
    manifest_path: str
    manifest_text: str
    manifest_sha256: str
    session: str
    created_at: float
    applied_at: float | None
    desired_key: str | None = None
    desired_json: str | None = None
    upstream: str | None = None


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    project: str | None
    agent: str | None
    kind: str
    message: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        from reconciler.timefmt import iso

        return {"id": self.id, "time": iso(self.ts), "project": self.project, "agent": self.agent,
                "kind": self.kind, "message": self.message, "data": self.data}


class Store:
    """A connection to the store; `maintain=True` (writers) checks integrity and refreshes the backup."""

    FILE = "state.db"

    def __init__(self, home: Path, *, maintain: bool = False, notices: list[str] | None = None):
        self.home = private_dir(home)
        self.path = home / self.FILE
        self.backup_path = home / (self.FILE + ".bak")
        self.notices = notices if notices is not None else []
        self._lock = threading.RLock()
        if maintain:
            self._recover_if_corrupt()
        self.conn = _Serialized(self._connect(), self._lock)
        self._migrate()
        if maintain:
            self._refresh_backup()

    # -- opening, integrity, backup, migrations ---------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        private_file(self.path)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _recover_if_corrupt(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            if self.backup_path.exists() and not self.path.exists():
                self._restore_backup("the store was missing")
            return
        problem = _integrity_problem(self.path)
        if problem is None:
            return
        aside = self.path.with_name(f"{self.FILE}.corrupt-{int(time.time())}")
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            sidecar = Path(str(self.path) + suffix)
            if sidecar.exists():
                os.replace(sidecar, Path(str(aside) + suffix))
        self.notices.append(f"the store {self.path} was unreadable ({problem}); moved it to {aside}")
        self._restore_backup("the store was corrupt")

    def _restore_backup(self, why: str) -> None:
        if self.backup_path.exists() and _integrity_problem(self.backup_path) is None:
            shutil.copyfile(self.backup_path, self.path)
            os.chmod(self.path, 0o600)
            self.notices.append(f"{why}: restored it from the backup {self.backup_path}")
        else:
            self.notices.append(f"{why} and no usable backup exists: starting an empty store")

    def _refresh_backup(self) -> None:
        """Copy the store to a temporary file of this writer's own (mkstemp: 0600, same folder), then
        rename it over the backup: parallel writers never share a half-written copy."""
        import tempfile

        fd, name = tempfile.mkstemp(prefix=self.backup_path.name + ".", suffix=".tmp", dir=self.home)
        os.close(fd)
        tmp = Path(name)
        try:
            target = sqlite3.connect(tmp)
            try:
                self.conn.backup(target)
            finally:
                target.close()
            os.replace(tmp, self.backup_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _migrate(self) -> None:
        with self._lock:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                from reconciler.errors import UserError

                raise UserError(
                    f"{self.path} was written by a newer orch (schema {version}); upgrade orch"
                )
            if version == len(MIGRATIONS):
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                for number in range(version, len(MIGRATIONS)):
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.conn.close()

    def transaction(self) -> "_Transaction":
        return _Transaction(self)

    # -- projects ------------------------------------------------------------------------------

    def project(self, name: str) -> ProjectRecord | None:
        row = self.conn.execute("SELECT * FROM projects WHERE name = ?", (name,)).fetchone()
        return ProjectRecord(**dict(row)) if row else None

    def projects(self) -> list[ProjectRecord]:
        rows = self.conn.execute("SELECT * FROM projects ORDER BY name").fetchall()
        return [ProjectRecord(**dict(row)) for row in rows]

    def register_project(self, name: str, project_id: str, manifest_path: str, session: str) -> ProjectRecord:
        """Insert the project if it is new; return the stored record either way (ids never change)."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO projects (name, id, manifest_path, session, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, project_id, manifest_path, session, time.time()),
            )
        record = self.project(name)
        assert record is not None
        return record

    def record_applied(self, name: str, manifest_path: str, text: str, sha256: str, session: str) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE projects SET manifest_path = ?, manifest_text = ?, manifest_sha256 = ?,"
                " session = ?, applied_at = ? WHERE name = ?",
                (manifest_path, text, sha256, session, time.time(), name),
            )

    def record_desired(self, name: str, key: str | None, desired_json: str | None) -> None:
        with self.transaction():
            self.conn.execute("UPDATE projects SET desired_key = ?, desired_json = ? WHERE name = ?",
                              (key, desired_json, name))

    def record_upstream(self, name: str, upstream: str) -> None:
        with self.transaction():
            self.conn.execute("UPDATE projects SET upstream = ? WHERE name = ?", (upstream, name))

    def report_once(self, project: str, topic: str, message: str | None, kind: str, cleared: str | None = None,
                    **data: Any) -> bool:
        """Record event `kind` when `topic`'s message differs from the last one reported (None: all well
        again, recorded as `cleared` when given); whether an event was recorded. A problem that
        persists is said once, not on every pass."""
        row = self.conn.execute("SELECT message FROM reported WHERE project = ? AND topic = ?",
                                (project, topic)).fetchone()
        before = row["message"] if row else None
        if before == message:
            return False
        with self.transaction():
            if message is None:
                self.conn.execute("DELETE FROM reported WHERE project = ? AND topic = ?", (project, topic))
            else:
                self.conn.execute("INSERT OR REPLACE INTO reported (project, topic, message) VALUES (?, ?, ?)",
                                  (project, topic, message))
        if message is not None:
            self.record_event(kind, message, project=project, **data)
        elif cleared is not None:
            self.record_event(cleared, f"resolved: {before}", project=project, **data)
        return message is not None or cleared is not None

    def reported(self, project: str, topic: str) -> str | None:
        row = self.conn.execute("SELECT message FROM reported WHERE project = ? AND topic = ?",
                                (project, topic)).fetchone()
        return row["message"] if row else None

    def project_at(self, manifest_path: str) -> ProjectRecord | None:
        row = self.conn.execute("SELECT * FROM projects WHERE manifest_path = ?", (manifest_path,)).fetchone()
        return ProjectRecord(**dict(row)) if row else None

    def forget_project(self, name: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM agents WHERE project = ?", (name,))
            self.conn.execute("DELETE FROM reported WHERE project = ?", (name,))
            self.conn.execute("DELETE FROM projects WHERE name = ?", (name,))

    # -- agents --------------------------------------------------------------------------------

    def agent_facts(self, project: str) -> dict[str, AgentFacts]:
        rows = self.conn.execute("SELECT * FROM agents WHERE project = ?", (project,)).fetchall()
        return {row["name"]: AgentFacts(**dict(row)) for row in rows}

    def update_agent(self, project: str, name: str, **fields: Any) -> None:
        self.upsert("agents", {"project": project, "name": name}, fields,
                    allowed=set(AgentFacts.__dataclass_fields__))

    def upsert(self, table: str, key: dict[str, Any], fields: dict[str, Any], allowed: set[str]) -> None:
        """Create the row at `key` if missing, then set `fields` (column names checked against `allowed`)."""
        unknown = set(fields) - (allowed - set(key))
        if unknown:
            raise ValueError(f"unknown {table} fields: {unknown}")
        where = " AND ".join(f"{column} = ?" for column in key)
        with self.transaction():
            self.conn.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(key)}) VALUES ({', '.join('?' * len(key))})",
                              tuple(key.values()))
            if fields:
                columns = ", ".join(f"{column} = ?" for column in fields)
                self.conn.execute(f"UPDATE {table} SET {columns} WHERE {where}", (*fields.values(), *key.values()))

    def forget_agent(self, project: str, name: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM agents WHERE project = ? AND name = ?", (project, name))

    # -- events --------------------------------------------------------------------------------

    def record_event(self, kind: str, message: str, *, project: str | None = None,
                     agent: str | None = None, **data: Any) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO events (ts, project, agent, kind, message, data) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), project, agent, kind, message, json.dumps(data, default=str) if data else None),
            )

    def events(self, project: str | None = None, after_id: int = 0, limit: int | None = None,
               agent: str | None = None, kinds: tuple[str, ...] = ()) -> list[Event]:
        """Events after `after_id`, oldest first; `kinds` are kinds (`sync.conflict`) or families (`sync`)."""
        query = "SELECT * FROM events WHERE id > ?"
        params: list[Any] = [after_id]
        if project is not None:
            query += " AND project = ?"
            params.append(project)
        if agent is not None:
            query += " AND agent = ?"
            params.append(agent)
        if kinds:
            query += " AND (" + " OR ".join("kind = ? OR kind LIKE ? ESCAPE '\\'" for _ in kinds) + ")"
            for kind in kinds:
                params += [kind, kind.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"]
        if limit is not None:
            query = f"SELECT * FROM ({query} ORDER BY id DESC LIMIT ?) ORDER BY id"
            params.append(limit)
        else:
            query += " ORDER BY id"
        return [
            Event(row["id"], row["ts"], row["project"], row["agent"], row["kind"], row["message"],
                  json.loads(row["data"]) if row["data"] else {})
            for row in self.conn.execute(query, params).fetchall()
        ]

    def follow_events(self, project: str | None, after_id: int, poll: float = 0.2, agent: str | None = None,
                      kinds: tuple[str, ...] = ()) -> Iterator[Event]:
        """Yield events as they are appended, forever (the caller stops on Ctrl-C)."""
        while True:
            batch = self.events(project, after_id, agent=agent, kinds=kinds)
            for event in batch:
                after_id = event.id
                yield event
            if not batch:
                time.sleep(poll)


class _Rows:
    """A statement's rows, fetched while the connection was ours (cursor-like for the callers)."""

    def __init__(self, rows: list, lastrowid: int | None):
        self.rows = rows
        self.lastrowid = lastrowid

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list:
        return self.rows

    def __iter__(self):
        return iter(self.rows)


class _Serialized:
    """One connection shared by the watcher's threads, one statement at a time under the store's
    lock, which a transaction holds from BEGIN to COMMIT: no thread reads another's uncommitted
    rows, and a ROLLBACK never aborts another thread's half-read SELECT."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self._conn = conn
        self._lock = lock

    def execute(self, sql: str, params=()) -> _Rows:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            return _Rows(cursor.fetchall(), cursor.lastrowid)

    def executemany(self, sql: str, rows) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def backup(self, target: sqlite3.Connection) -> None:
        with self._lock:
            self._conn.backup(target)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT on the store's connection, re-entrant within one thread."""

    def __init__(self, store: Store):
        self.store = store
        self.outer = False

    def __enter__(self) -> "_Transaction":
        self.store._lock.acquire()
        try:
            self.outer = not self.store.conn.in_transaction
            if self.outer:
                self.store.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._lock.release()
            raise
        return self

    def __exit__(self, kind, value, tb) -> None:
        try:
            if self.outer:
                if kind is None:
                    try:
                        self.store.conn.execute("COMMIT")
                    except BaseException:
                        self.store.conn.execute("ROLLBACK")  # never leave a transaction open behind us
                        raise
                else:
                    self.store.conn.execute("ROLLBACK")
        finally:
            self.store._lock.release()


def _integrity_problem(path: Path) -> str | None:
    """None when the file is a healthy SQLite database, else what is wrong with it."""
    try:
        conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True, timeout=30)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return str(err)
    return None if result == "ok" else str(result)


def warn(notices: list[str]) -> None:
    for notice in notices:
        print(f"orch: warning: {notice}", file=sys.stderr)
