"""Locks (one writer per project, holders named) and the SQLite store (0600/0700, migrations, recovery)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from reconciler.locks import exclusive, project_lock
from reconciler.state.store import MIGRATIONS, Store
from tests.conftest import ORCH, tmux, write_manifest


def sleeper_manifest(folder: Path, agents: int = 3, project: str = "race") -> Path:
    body = "".join(f"    - name: a{i}\n      command: exec sleep 600\n" for i in range(agents))
    return write_manifest(folder, f"apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: {project}\nspec:\n  agents:\n{body}")


def test_five_parallel_applies_converge_to_one_session(tmp_path, tmux_socket):
    manifest = sleeper_manifest(tmp_path, agents=4)
    procs = [subprocess.Popen([ORCH, "apply", str(manifest)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(5)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    rows = tmux(tmux_socket, "list-panes", "-a", "-F", "#{session_name} #{window_name}").splitlines()
    assert len({row.split()[0] for row in rows}) == 1
    assert sorted(row.split()[1] for row in rows) == ["a0", "a1", "a2", "a3"]


def test_lock_timeout_names_the_holder(tmp_path, orch_home, tmux_socket):
    manifest = sleeper_manifest(tmp_path, agents=1, project="held")
    with exclusive(project_lock(orch_home, "held"), timeout=5):
        started = time.monotonic()
        result = subprocess.run([ORCH, "apply", str(manifest), "--lock-timeout", "0.5"],
                                capture_output=True, text=True, timeout=60)
        waited = time.monotonic() - started
    assert result.returncode == 1
    assert f"pid {os.getpid()}" in result.stderr and "--lock-timeout" in result.stderr
    assert "Traceback" not in result.stderr
    assert waited >= 0.5
    assert tmux(tmux_socket, "list-sessions") == ""


def test_a_waiting_apply_proceeds_when_the_holder_finishes(tmp_path, orch_home, tmux_socket):
    manifest = sleeper_manifest(tmp_path, agents=1, project="later")
    lock = project_lock(orch_home, "later")
    with exclusive(lock, timeout=5):
        proc = subprocess.Popen([ORCH, "apply", str(manifest)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)  # the apply must be waiting on the lock, not failing
        assert proc.poll() is None
    assert proc.wait(timeout=60) == 0, proc.stderr.read()


def test_a_crashed_holder_never_blocks(tmp_path, orch_home, tmux_socket):
    manifest = sleeper_manifest(tmp_path, agents=1, project="crashy")
    lock = project_lock(orch_home, "crashy")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]);"
         "from reconciler.locks import exclusive; from pathlib import Path;"
         "ctx = exclusive(Path(sys.argv[2]), 5); ctx.__enter__(); print('held', flush=True); time.sleep(600)",
         str(Path(__file__).resolve().parents[2]), str(lock)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    result = subprocess.run([ORCH, "apply", str(manifest), "--lock-timeout", "5"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_store_files_are_private(orch_home):
    Store(orch_home, maintain=True).close()
    assert stat.S_IMODE(orch_home.stat().st_mode) == 0o700
    assert stat.S_IMODE((orch_home / "state.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((orch_home / "state.db.bak").stat().st_mode) == 0o600


def test_store_uses_wal_and_the_latest_schema(orch_home):
    store = Store(orch_home)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_corrupt_store_is_restored_from_its_backup(orch_home):
    store = Store(orch_home, maintain=True)
    store.register_project("shop", "1a2b3c4d", "/m/orch.yaml", "shop-1a2b3c4d")
    store.close()
    Store(orch_home, maintain=True).close()  # refreshes the backup with the project in it
    (orch_home / "state.db").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(str(orch_home / "state.db") + suffix).unlink(missing_ok=True)
    notices: list[str] = []
    store = Store(orch_home, maintain=True, notices=notices)
    assert store.project("shop") is not None
    assert any("restored" in n for n in notices), notices
    assert list(orch_home.glob("state.db.corrupt-*"))


def test_a_missing_store_is_restored_from_its_backup(orch_home):
    store = Store(orch_home, maintain=True)
    store.register_project("shop", "1a2b3c4d", "/m/orch.yaml", "shop-1a2b3c4d")
    store.close()
    Store(orch_home, maintain=True).close()
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (orch_home / name).unlink(missing_ok=True)
    notices: list[str] = []
    assert Store(orch_home, maintain=True, notices=notices).project("shop") is not None
    assert any("missing" in n for n in notices)


def test_a_store_from_a_newer_orch_is_refused(orch_home):
    Store(orch_home).close()
    conn = sqlite3.connect(orch_home / "state.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    result = subprocess.run([ORCH, "status"], capture_output=True, text=True)
    assert result.returncode == 1 and "newer orch" in result.stderr


def test_events_are_append_only_and_follow_new_ones(orch_home):
    store = Store(orch_home)
    store.record_event("test.one", "first", project="p")
    follower = subprocess.Popen([ORCH, "events", "p", "--follow", "-o", "json"], stdout=subprocess.PIPE, text=True)
    try:
        assert '"first"' in follower.stdout.readline()
        store.record_event("test.two", "second", project="p", detail=1)
        line = follower.stdout.readline()
        assert '"second"' in line and '"detail": 1' in line
    finally:
        follower.terminate()
        follower.wait()


def test_parallel_writers_each_refresh_the_backup_without_losing_a_write(orch_home):
    """Every writer refreshes the backup: through one fixed temporary file, 8 parallel check-ins on a
    ~5 MB store lost most of their writes (disk I/O error, a failed rename)."""
    store = Store(orch_home, maintain=True)
    store.register_project("busy", "1a2b3c4d", "/m/orch.yaml", "busy-1a2b3c4d")
    store.update_agent("busy", "dev", started_at=time.time())
    with store.transaction():
        for i in range(5000):
            store.conn.execute("INSERT INTO events (ts, kind, message, project, agent, data) "
                               "VALUES (?, 'pad', ?, 'busy', NULL, '{}')", (time.time(), "x" * 1000))
    store.close()
    assert (orch_home / "state.db").stat().st_size > 4_000_000
    procs = [subprocess.Popen([ORCH, "checkin", "busy/dev", "--in", "10m", "--note", f"n{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(24)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    failed = [err for code, err in results if code != 0]
    assert not failed, f"{len(failed)}/24 failed: {failed[:3]}"
    notes = {row[0] for row in sqlite3.connect(orch_home / "state.db").execute(
        "SELECT note FROM schedules WHERE project = 'busy'")}
    assert notes == {f"n{i}" for i in range(24)}
    assert not list(orch_home.glob("state.db.bak.*")), "no temporary backup is left behind"
    assert stat.S_IMODE((orch_home / "state.db.bak").stat().st_mode) == 0o600
