"""What one process of orch carries through a reconcile: where state lives, which tmux server, the
store connection; and what one pass of a project did."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reconciler.runtime.tmux import Tmux
from reconciler.state.store import Store

Progress = Callable[[str], None]
_STORE_LOCK = threading.Lock()


@dataclass
class Context:
    home: Path
    socket: str | None
    lock_timeout: float = 60.0
    progress: Progress = lambda message: None
    notices: list[str] = field(default_factory=list)
    screens_seen: dict[str, str] = field(default_factory=dict)  # pane id -> digest of its last screen judged for credit
    show_sensitive: bool = False  # `orch plan --show-sensitive`: env values in the explanations
    adopt: bool = False  # `apply --adopt`: take over a session of the manifest's name that orch did not create
    allow_restart: bool = False  # `apply --allow-restart`: replace a live agent even while it reports being busy
    _store: Store | None = None

    @property
    def tmux(self) -> Tmux:
        return Tmux(self.socket)

    def store(self, maintain: bool = False) -> Store:
        """The one store connection of this process (threads share it; opening it is serialised)."""
        with _STORE_LOCK:
            if self._store is None:
                self._store = Store(self.home, maintain=maintain, notices=self.notices)
            return self._store


@dataclass
class PassResult:
    """What one reconcile pass of a project did, and when it wants to run again."""

    project: str
    outcomes: list = field(default_factory=list)
    wake_at: float | None = None
    pids: tuple[int, ...] = ()  # the agents' live pane processes at the end of the pass (the watcher checks them)
