"""Waking a sleeping watcher: FIFOs under ORCH_HOME/run, a tmux wait-for channel, dead agents.

Each watcher owns `ORCH_HOME/run/wake-<pid>.fifo` (0600); `poke(home)` writes a byte to every
such FIFO without ever blocking (a FIFO nobody reads any more is removed). tmux's own
`pane-died` hook signals the channel `orch-wake` with `wait-for -S` (a tmux command, no
shell), which a watcher thread waits on. tmux 3.3a misses some deaths (and reports them
late), so a thread also waits on a pidfd of every tracked agent process (the kernel reports its
end, zombie or not; no tmux process, nothing read while they live), or, without pidfds, reads
`/proc/<pid>/stat` twice a second: one gone, a zombie, or replaced under its pid wakes the watcher.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
from pathlib import Path
from typing import Iterable

from reconciler.home import private_dir
from reconciler.runtime.liveness import process_start
from reconciler.runtime.tmux import Tmux

TMUX_CHANNEL = "orch-wake"
CHECK_S = 0.5  # how often the tracked agent processes are looked at


def run_dir(home: Path) -> Path:
    return private_dir(home / "run")


def poke(home: Path) -> int:
    """Wake every watcher under `home`; how many were reached (the one implementation is the hook's)."""
    from reconciler.hook import poke as poke_run_dir

    return poke_run_dir(str(home / "run"), remove_stale=True)


class Waker:
    """Sets `event` (and every subscribed event) when poked through the FIFO or by tmux."""

    def __init__(self, home: Path, tmux: Tmux):
        self.event = threading.Event()
        self._listeners = [self.event]
        self.fifo = run_dir(home) / f"wake-{os.getpid()}.fifo"
        self.tmux = tmux
        self._stop = threading.Event()
        self._waiter: subprocess.Popen | None = None
        self._tracked: dict[str, dict[int, int]] = {}  # project -> pid -> its start time
        self._tracked_lock = threading.Lock()

    def start(self) -> "Waker":
        self.fifo.unlink(missing_ok=True)
        os.mkfifo(self.fifo, 0o600)
        self._fd = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        threading.Thread(target=self._read_fifo, name="wake-fifo", daemon=True).start()
        threading.Thread(target=self._wait_tmux, name="wake-tmux", daemon=True).start()
        threading.Thread(target=self._watch_processes, name="wake-processes", daemon=True).start()
        return self

    def track(self, project: str, pids: Iterable[int]) -> None:
        """The project's live agent processes (replacing the last set): a death among them wakes us."""
        started = {pid: process_start(pid) for pid in pids}
        with self._tracked_lock:
            self._tracked[project] = {pid: start for pid, start in started.items() if start is not None}
        if None in started.values():  # died between the pass's observation and now: look again at once
            self.wake()

    def subscribe(self) -> threading.Event:
        """Another event to set on every wake-up (e.g. the git sync lane's)."""
        event = threading.Event()
        self._listeners.append(event)
        return event

    def wake(self) -> None:
        for event in self._listeners:
            event.set()

    def stop(self) -> None:
        self._stop.set()
        if self._waiter is not None and self._waiter.poll() is None:
            self._waiter.kill()
        self.fifo.unlink(missing_ok=True)
        self.wake()

    def _read_fifo(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 1.0)
            if ready:
                try:
                    os.read(self._fd, 4096)
                except BlockingIOError:
                    continue
                self.wake()

    def _watch_processes(self) -> None:
        """Wake when a tracked process ends. The kernel says so through a pidfd per process (nothing
        is read while they all live); where pidfds are not available, /proc is read every CHECK_S."""
        opened: dict[tuple[int, int], int] = {}  # (pid, start time) -> its pidfd
        by_fd: dict[int, tuple[int, int]] = {}
        unwatchable: set[tuple[int, int]] = set()  # no pidfd for these: read in /proc
        poller = select.poll()
        try:
            while not self._stop.is_set():
                with self._tracked_lock:
                    wanted = {(pid, start) for pids in self._tracked.values() for pid, start in pids.items()}
                for key in set(opened) - wanted:
                    fd = opened.pop(key)
                    by_fd.pop(fd)
                    poller.unregister(fd)
                    os.close(fd)
                unwatchable &= wanted
                ended = []
                for key in wanted - set(opened) - unwatchable:
                    pidfd = _pidfd(key[0])
                    if pidfd is None:
                        unwatchable.add(key)
                        continue
                    opened[key], by_fd[pidfd] = pidfd, key
                    poller.register(pidfd, select.POLLIN)
                    if process_start(key[0]) != key[1]:  # ended, or its pid reused, before the pidfd was open
                        ended.append(key)
                ended += [by_fd[fd] for fd, _ in poller.poll(CHECK_S * 1000) if fd in by_fd]
                ended += [key for key in unwatchable if process_start(key[0]) != key[1]]
                if ended:
                    gone = {pid for pid, _ in ended}
                    with self._tracked_lock:
                        for pids in self._tracked.values():
                            for pid in gone:
                                pids.pop(pid, None)
                    self.wake()
                elif unwatchable and not opened:
                    self._stop.wait(CHECK_S)  # poll() returned at once with nothing to wait on
        finally:
            for fd in opened.values():
                os.close(fd)

    def _wait_tmux(self) -> None:
        while not self._stop.is_set():
            try:
                self._waiter = subprocess.Popen(self.tmux.base() + ["wait-for", TMUX_CHANNEL],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                preexec_fn=_die_with_parent)
                code = self._waiter.wait()
            except OSError:
                return
            if self._stop.is_set():
                return
            if code == 0:
                self.wake()
            else:
                self._stop.wait(2.0)  # no tmux server yet: try again shortly


def _pidfd(pid: int) -> int | None:
    """A pidfd for `pid` (readable once the process ends), or None where the kernel or Python has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _die_with_parent() -> None:
    """In the child: be killed when the watcher dies, even by SIGKILL (Linux PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
