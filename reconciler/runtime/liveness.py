"""Is an agent's pane process still running? Asked of the kernel, not of tmux.

tmux 3.3a can report a killed pane as alive, or as dead with no exit status or time, for as
long as its process stays an unreaped zombie (its SIGCHLD handling lags; tmux issue 2483), and
its `pane-died` hook fires only once the status is collected. `/proc/<pid>/stat` answers at
once, for a few microseconds and no process: gone, or a zombie, means dead.
"""

from __future__ import annotations


def process_start(pid: int) -> int | None:
    """The process's start time (clock ticks since boot) while it runs; None when it is gone or a zombie.

    The start time tells a reused pid from the process first seen under it.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    if not fields or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def process_dead(pid: int) -> bool:
    return pid <= 0 or process_start(pid) is None
