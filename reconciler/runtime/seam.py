"""The runtime seam: the only door to the place agents live (tmux today, perhaps pods later).

A runtime hosts agent *slots* (tmux: a pane) grouped in *sessions*; a slot runs one *instance*
of its agent at a time (tmux: the pane's process), and a restart keeps the slot but changes the
instance. The records are runtime-neutral: ids are opaque strings to everything above, never a
pty path or a pid to compare. The protocol is narrow and bulk-shaped on purpose: one
observation of everything, batched starts, no per-object queries such as "is X running?"
(the observation answers that). "Was the text submitted?" is decided above the seam, once,
from what `capture` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from reconciler.model.agents import DesiredAgent, DesiredProject
from reconciler.plan.screen import Screen


@dataclass(frozen=True)
class Slot:
    """One place an agent can run, with the ownership marks orch put on it ('' when none)."""

    project: str
    project_id: str
    agent: str
    slot_id: str  # stable across restarts
    instance_id: str  # changes with every start or restart of the agent's process
    alive: bool
    exit_status: int | None  # of a dead instance: its status, or 128 + the signal that killed it
    spec_hash: str
    session: str  # the name of the session the slot is in
    name: str = ""  # what a person sees it called (tmux: the window's name)
    died_at: float | None = None
    in_mode: bool = False  # a person is scrolling it (tmux copy mode): typing would go nowhere


@dataclass(frozen=True)
class Session:
    """A group of slots, and the marks that say which project (of which ORCH_HOME) owns it."""

    name: str
    session_id: str
    project: str = ""
    project_id: str = ""
    home: str = ""  # a digest of the ORCH_HOME that made it


@dataclass(frozen=True)
class Observation:
    slots: tuple[Slot, ...] = ()
    sessions: tuple[Session, ...] = ()
    running: bool = True  # False: the runtime itself is absent (no tmux server), not an error

    def agents(self, project: str, project_id: str) -> dict[str, Slot]:
        """agent name -> its slot, for the project of that id."""
        return {s.agent: s for s in self.slots if s.agent and s.project == project and s.project_id == project_id}


@dataclass(frozen=True)
class StartSpec:
    """What a slot must run and be marked with. `env` is the agent's own environment plus orch's
    (ORCH_HOME, ...); the runtime adds ORCH_PROJECT and ORCH_AGENT itself."""

    project: str
    project_id: str
    session: str
    agent: str
    command: str
    cwd: str
    env: tuple[tuple[str, str], ...] = ()
    spec_hash: str = ""

    @classmethod
    def of(cls, project: DesiredProject, agent: DesiredAgent) -> "StartSpec":
        return cls(project.name, project.id, project.session, agent.name, agent.command, agent.cwd,
                   agent.env + project.orch_env, agent.spec_hash)


class Runtime(Protocol):
    """Every call that fails for one slot says why in its result; none raises for a gone slot."""

    def observe(self) -> Observation:
        """Every slot and session, with their marks, in one look."""

    def start(self, specs: Sequence[StartSpec]) -> list[str | None]:
        """Start each agent in a new slot (its session made when missing), as few runtime calls as
        it allows; per spec, None when started or why not."""

    def restart(self, slot_id: str, spec: StartSpec) -> str | None:
        """End the slot's whole process tree and run `spec` in the same slot (a new instance)."""

    def stop(self, slot_ids: Sequence[str]) -> None:
        """End each slot's whole process tree, helpers that ignore SIGHUP included, and remove it."""

    def claim(self, slot_id: str, spec: StartSpec) -> str | None:
        """Adopt a running slot: give it `spec`'s name and marks, keeping its process."""

    def rename(self, session_id: str, name: str) -> str | None:
        """Give a session back its name."""

    def capture(self, slot_ids: Sequence[str]) -> dict[str, Screen]:
        """slot id -> its visible screen, cursor and mode, for all of them in one look; a slot that is
        gone is left out."""

    def scrollback(self, slot_id: str, lines: int | None = None) -> list[str] | None:
        """The slot's last `lines` lines of output, history included (None: all of it); None when gone."""

    def send(self, slot_id: str, *, paste: str = "", keys: Sequence[str] = (), leave_mode: bool = False) -> str | None:
        """Leave copy mode (if asked), paste `paste` as one bracketed paste, then press `keys`;
        None when done, or what went wrong."""

    def wait(self, instance_ids: Sequence[str], timeout: float) -> list[str]:
        """Block until one of these instances has ended (or `timeout`); the ended ones."""
