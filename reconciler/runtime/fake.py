"""An in-memory runtime: slots, sessions and simulated agent processes, deterministic.

It keeps the contract of the seam (tests/conformance runs the same suite against it and tmux)
so that executors and use cases can be tested without a terminal. A simulated agent shows a
prompt, keeps pasted text in its input line until Enter, and records each submission; tests
drive the rest (a death, a helper child, copy mode) through the methods below the seam's.
Ids are counters, so two runs of one test see the same ids.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

from reconciler.plan.screen import Screen, parse_capture
from reconciler.runtime.seam import Observation, Session, Slot, StartSpec

PROMPT = "> "


def shown(text: str) -> str:
    """A text as one screen row: a multi-line one as a placeholder, as Claude Code and the toy agent show it."""
    return f"[Pasted text +{text.count(chr(10)) + 1} lines]" if "\n" in text else text


@dataclass
class FakeProcess:
    """A helper the agent started (e.g. under `nohup`): it lives until the slot's tree is ended."""

    alive: bool = True


@dataclass
class FakeInstance:
    """One run of an agent: what it was started as, what it received, whether it still runs."""

    instance_id: str
    spec: StartSpec
    alive: bool = True
    exit_status: int | None = None
    died_at: float | None = None
    input: str = ""  # the input line: pasted text waiting for Enter
    submitted: list[str] = field(default_factory=list)
    pasted: list[str] = field(default_factory=list)
    children: list[FakeProcess] = field(default_factory=list)

    def end(self, status: int) -> None:
        if self.alive:
            self.alive, self.exit_status, self.died_at = False, status, time.time()


@dataclass
class _FakeSlot:
    slot_id: str
    session_id: str
    name: str
    spec: StartSpec
    instance: FakeInstance
    in_mode: bool = False


class FakeRuntime:
    def __init__(self, home_mark: str = ""):
        self.home_mark = home_mark
        self._slots: dict[str, _FakeSlot] = {}
        self._sessions: dict[str, Session] = {}
        self._counter = 0
        self._changed = threading.Condition()

    # -- the seam ---------------------------------------------------------------------------

    def observe(self) -> Observation:
        with self._changed:
            slots = tuple(self._slot(s) for s in self._slots.values())
            return Observation(slots, tuple(self._sessions.values()), running=bool(self._sessions))

    def start(self, specs: Sequence[StartSpec]) -> list[str | None]:
        with self._changed:
            for spec in specs:
                session = next((s for s in self._sessions.values() if s.name == spec.session), None)
                if session is None:
                    session = Session(spec.session, self._next("group"), spec.project, spec.project_id,
                                      self.home_mark)
                    self._sessions[session.session_id] = session
                slot_id = self._next("slot")
                self._slots[slot_id] = _FakeSlot(slot_id, session.session_id, spec.agent, spec, self._instance(spec))
        return [None] * len(specs)

    def restart(self, slot_id: str, spec: StartSpec) -> str | None:
        with self._changed:
            slot = self._slots.get(slot_id)
            if slot is None:
                return f"no slot {slot_id}"
            self._end_tree(slot, 143)
            slot.spec, slot.instance, slot.in_mode = spec, self._instance(spec), False
            self._changed.notify_all()
        return None

    def stop(self, slot_ids: Sequence[str]) -> None:
        with self._changed:
            for slot_id in slot_ids:
                slot = self._slots.pop(slot_id, None)
                if slot is not None:
                    self._end_tree(slot, 143)
            used = {slot.session_id for slot in self._slots.values()}
            self._sessions = {key: s for key, s in self._sessions.items() if key in used}
            self._changed.notify_all()

    def claim(self, slot_id: str, spec: StartSpec) -> str | None:
        with self._changed:
            slot = self._slots.get(slot_id)
            if slot is None:
                return f"no slot {slot_id}"
            slot.name, slot.spec = spec.agent, spec
        return None

    def rename(self, session_id: str, name: str) -> str | None:
        with self._changed:
            session = self._sessions.get(session_id)
            if session is None:
                return f"no session {session_id}"
            if any(s.name == name for s in self._sessions.values()):
                return f"duplicate session: {name}"
            self._sessions[session_id] = Session(name, session_id, session.project, session.project_id, session.home)
        return None

    def capture(self, slot_ids: Sequence[str]) -> dict[str, Screen]:
        with self._changed:
            screens = {}
            for slot_id in slot_ids:
                slot = self._slots.get(slot_id)
                if slot is not None:
                    rows = self._rows(slot.instance)
                    screens[slot_id] = parse_capture("\n".join(rows), len(rows[-1]), len(rows) - 1,
                                                     not slot.instance.alive, slot.in_mode)
            return screens

    def scrollback(self, slot_id: str, lines: int | None = None) -> list[str] | None:
        with self._changed:
            slot = self._slots.get(slot_id)
            if slot is None:
                return None
            rows = self._rows(slot.instance)
            return rows if lines is None else rows[-max(lines, 1):]

    def send(self, slot_id: str, *, paste: str = "", keys: Sequence[str] = (), leave_mode: bool = False) -> str | None:
        with self._changed:
            slot = self._slots.get(slot_id)
            if slot is None:
                return f"no slot {slot_id}"
            if leave_mode:
                slot.in_mode = False
            instance = slot.instance
            if slot.in_mode or not instance.alive:
                return None  # as in a terminal: keys into copy mode or a dead pane reach no agent
            if paste:
                instance.pasted.append(paste)
                instance.input += paste
            for key in keys:
                if key == "Enter":
                    if instance.input.strip():
                        instance.submitted.append(instance.input)
                    instance.input = ""
                elif len(key) == 1:
                    instance.input += key
        return None

    def wait(self, instance_ids: Sequence[str], timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                ended = [iid for iid in instance_ids if not self._running(iid)]
                left = deadline - time.monotonic()
                if ended or left <= 0:
                    return ended
                self._changed.wait(left)

    # -- the simulation, for tests ------------------------------------------------------------

    def instance(self, slot_id: str) -> FakeInstance:
        return self._slots[slot_id].instance

    def kill(self, instance_id: str, status: int = 137) -> None:
        """The agent's process dies (its slot stays, dead, as tmux's remain-on-exit keeps it)."""
        with self._changed:
            for slot in self._slots.values():
                if slot.instance.instance_id == instance_id:
                    slot.instance.end(status)
            self._changed.notify_all()

    def spawn_child(self, slot_id: str) -> FakeProcess:
        """The agent starts a helper that outlives a hang-up (a `nohup` child)."""
        with self._changed:
            child = FakeProcess()
            self._slots[slot_id].instance.children.append(child)
            return child

    def enter_mode(self, slot_id: str) -> None:
        """A person scrolls the slot (copy mode)."""
        with self._changed:
            self._slots[slot_id].in_mode = True

    # -- inside -------------------------------------------------------------------------------

    def _next(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}-{self._counter}"

    def _instance(self, spec: StartSpec) -> FakeInstance:
        return FakeInstance(self._next("instance"), spec)

    def _running(self, instance_id: str) -> bool:
        return any(s.instance.instance_id == instance_id and s.instance.alive for s in self._slots.values())

    def _end_tree(self, slot: _FakeSlot, status: int) -> None:
        slot.instance.end(status)
        for child in slot.instance.children:
            child.alive = False

    def _rows(self, instance: FakeInstance) -> list[str]:
        """What the simulated agent shows: an answer per submission, then its prompt and input line."""
        return [f"you said: {shown(text)}" for text in instance.submitted] + [PROMPT + shown(instance.input)]

    def _slot(self, slot: _FakeSlot) -> Slot:
        spec, instance = slot.spec, slot.instance
        return Slot(project=spec.project, project_id=spec.project_id, agent=spec.agent, slot_id=slot.slot_id,
                    instance_id=instance.instance_id, alive=instance.alive, exit_status=instance.exit_status,
                    spec_hash=spec.spec_hash, session=self._sessions[slot.session_id].name, name=slot.name,
                    died_at=instance.died_at, in_mode=slot.in_mode)
