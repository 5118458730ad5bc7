"""End an agent's whole process tree, including helpers that ignore SIGHUP.

Found from the pane's pid before its window goes: the pane's children by parent pid, plus
every process still in the pane's session (sid == pane pid) on the pane's terminal, which
catches orphans re-parented to init after the agent itself died. SIGTERM, a short grace,
then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import time


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, session id, tty_nr) of `pid`, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    return int(fields[1]), int(fields[3]), int(fields[4])


def _tty_number(tty_path: str) -> int | None:
    try:
        rdev = os.stat(tty_path).st_rdev
    except OSError:
        return None
    major, minor = os.major(rdev), os.minor(rdev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def process_tree(pane_pid: int, pane_tty: str) -> list[int]:
    """Pids of the pane's process, its descendants and the orphans left on its terminal.

    Only processes on the pane's own terminal count as roots: a dead pane still reports its
    old pid, which the system may since have given to an unrelated process.
    """
    table: dict[int, tuple[int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None:
                table[int(entry)] = info
    tty = _tty_number(pane_tty) if pane_tty else None
    if tty is None:
        return []
    found = {pid for pid, (_, sid, tty_nr) in table.items() if tty_nr == tty and (pid == pane_pid or sid == pane_pid)}
    frontier = list(found)
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    found.discard(os.getpid())
    return sorted(found)


def terminate_tree(pane_pid: int, pane_tty: str, grace: float = 2.0) -> int:
    """SIGTERM the tree, wait up to `grace` seconds, SIGKILL what is left; how many were found."""
    pids = process_tree(pane_pid, pane_tty)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [pid for pid in alive if _running(pid)]
    for pid in alive:
        _signal(pid, signal.SIGKILL)
    return len(pids)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().decode("utf-8", "replace")
    except OSError:
        return False
    return state[state.rfind(")") + 2] != "Z"


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
