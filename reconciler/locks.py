"""One writer per project: a filelock under ORCH_HOME/locks that names its holder.

The lock is an flock on `<project>.lock` (released by the kernel when the holder dies, so a
crashed holder never blocks anyone). Beside it `<project>.holder.json` records pid, command
and start time, so a waiting process can say who it is waiting for.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from reconciler.errors import LockTimeout
from reconciler.home import private_dir, write_atomic
from reconciler.names import check_name


def _holder_file(lock_file: Path) -> Path:
    return lock_file.with_suffix(".holder.json")


def describe_holder(lock_file: Path) -> str:
    try:
        holder = json.loads(_holder_file(lock_file).read_text())
    except (OSError, ValueError):
        return "another orch process"
    since = time.strftime("%H:%M:%S", time.localtime(holder.get("since", 0)))
    return f"pid {holder.get('pid')} ({holder.get('command', '?')}, since {since})"


@contextmanager
def exclusive(lock_file: Path, timeout: float, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold `lock_file` exclusively; wait up to `timeout` seconds, telling `on_wait` who holds it."""
    from filelock import FileLock, Timeout

    private_dir(lock_file.parent)
    lock = FileLock(lock_file, mode=0o600)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(describe_holder(lock_file))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise LockTimeout(
                f"{lock_file} is still held by {describe_holder(lock_file)} after {timeout:.0f}s; "
                "wait for it to finish, or raise --lock-timeout"
            ) from None
    try:
        record_holder(lock_file)
        yield
    finally:
        lock.release()


def record_holder(lock_file: Path) -> None:
    """Write who holds `lock_file` (pid, command, since) beside it, atomically."""
    holder = {"pid": os.getpid(), "command": " ".join(["orch", *sys.argv[1:]])[:200], "since": time.time()}
    write_atomic(_holder_file(lock_file), json.dumps(holder))


def project_lock(home: Path, project: str) -> Path:
    """The project's own lock: apply, reconcile passes, destroy."""
    return home / "locks" / f"{check_name(project)}.lock"


def git_lock(home: Path, project: str) -> Path:
    """The project's git lane: worktree changes, `orch sync`, destroy's worktree judgement."""
    return home / "locks" / f"{project}.git.lock"


def watcher_lock(home: Path, project: str) -> Path:
    """Held by the one `orch watch` that keeps the project."""
    return home / "locks" / f"{project}.watch.lock"


def delivery_lock(home: Path, project: str, agent: str) -> Path:
    """One delivery (brief, message, check-in) at a time into an agent's input."""
    return private_dir(home / "locks") / f"deliver-{check_name(project)}--{check_name(agent, 'agent')}.lock"


def hooks_lock(home: Path, folder: Path) -> Path:
    """One installer/remover per git hooks folder."""
    digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
    return private_dir(home / "locks") / f"githooks-{digest}.lock"
