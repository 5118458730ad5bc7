"""Delivery lanes: each agent's deliveries run on a thread of their own, one after another.

A watcher pass hands its deliveries (briefs, check-ins, resume notes) to the agents' lanes and
goes on, so an agent that is slow or stuck (a dialog open, no prompt yet, its delivery lock held
by `orch send`) delays only itself: every other agent's check-ins keep landing on time. While an
agent's lane is busy, passes plan nothing for it; after a failed delivery it rests a moment, so
an undeliverable agent is not polled without pause.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

REST_AFTER_FAILURE_S = 5.0

Key = tuple[str, str]  # (project, agent)


class Lanes:
    def __init__(self, done: Callable[[str, list, Exception | None], None]):
        """`done(project, outcomes, error)` runs on the lane's thread once its work is over."""
        self._done = done
        self._lock = threading.Lock()
        self._busy: set[Key] = set()
        self._resting: dict[Key, float] = {}
        self._threads: set[threading.Thread] = set()

    def busy(self, project: str, agent: str, now: float | None = None) -> bool:
        """Is a delivery to the agent under way (or resting after a failure)?"""
        now = time.time() if now is None else now
        with self._lock:
            return (project, agent) in self._busy or self._resting.get((project, agent), 0.0) > now

    def next_free(self) -> float | None:
        """When the first resting lane may be used again."""
        now = time.time()
        with self._lock:
            moments = [until for until in self._resting.values() if until > now]
        return min(moments) if moments else None

    def start(self, project: str, agent: str, work: Callable[[], list]) -> bool:
        """Run `work()` (returning outcomes) on the agent's lane; False if the lane is busy."""
        key = (project, agent)
        with self._lock:  # checked and taken under one hold: never two lanes for one agent
            if key in self._busy or self._resting.get(key, 0.0) > time.time():
                return False
            self._busy.add(key)
            thread = threading.Thread(target=self._run, args=(key, work), name=f"deliver {project}/{agent}",
                                      daemon=True)
            self._threads.add(thread)
        thread.start()
        return True

    def join(self, timeout: float) -> None:
        """Wait (at most `timeout` in all) for the deliveries under way."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, key: Key, work: Callable[[], list]) -> None:
        outcomes: list = []
        error: Exception | None = None
        try:
            outcomes = work()
        except Exception as err:  # a lane's fault is reported, never lost with its thread
            error = err
        finally:
            with self._lock:
                self._busy.discard(key)
                self._threads.discard(threading.current_thread())
                if error is not None or any(not outcome.ok for outcome in outcomes):
                    self._resting[key] = time.time() + REST_AFTER_FAILURE_S
                else:
                    self._resting.pop(key, None)
        self._done(key[0], outcomes, error)
