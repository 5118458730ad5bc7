"""The runtime seam's contract, run against every runtime: tmux on a private server, and the fake.

Each runtime comes with a small harness for what a test must do from outside the seam (kill an
agent's process, look for its helper child, read what the agent received). A new runtime proves
itself by adding a harness here and passing the same tests.
"""

from __future__ import annotations

import inspect
import os
import secrets
import shlex
import signal
import threading
import time
from pathlib import Path

import pytest

from reconciler.runtime.liveness import process_dead
from reconciler.plan.screen import Screen, input_region, input_ready
from reconciler.runtime.fake import FakeProcess, FakeRuntime
from reconciler.runtime.seam import Observation, Runtime, Slot, StartSpec
from reconciler.execute.tmux_runtime import TmuxRuntime
from reconciler.runtime.tmux import Tmux
from tests.conftest import tmux, toy_log, wait_until

PROJECT, PROJECT_ID, SESSION = "demo", "0123456789abcdef", "demo-conf"


class TmuxHarness:
    """Agents are the toy agent; a helper child is a `nohup sleep` the agent's shell leaves behind,
    re-parented away from the agent (only its session and terminal still tie it to the slot)."""

    def __init__(self, socket: str, folder: Path):
        self.socket, self.folder = socket, folder
        self.runtime: Runtime = TmuxRuntime(Tmux(socket), folder / "orch-home")

    def spec(self, agent: str, spec_hash: str = "h1", child: bool = False) -> StartSpec:
        toy = f"exec orch-toyagent --name {shlex.quote(agent)} --log {shlex.quote(str(self._log(agent)))}"
        pidfile = shlex.quote(str(self._pidfile(agent)))
        command = f"(nohup sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}); {toy}" if child else toy
        return StartSpec(PROJECT, PROJECT_ID, SESSION, agent, command, str(self.folder), (), spec_hash)

    def start_helper(self, slot: Slot) -> None:
        """Nothing to do: the agent's command started it."""

    def child_alive(self, slot: Slot) -> bool:
        path = self._pidfile(slot.agent)
        pid = wait_until(lambda: path.exists() and path.read_text().strip(), what="the child's pid file")
        return not process_dead(int(pid))

    def submitted(self, slot: Slot) -> list[str]:
        return [entry["text"] for entry in toy_log(self._log(slot.agent))]

    def kill(self, slot: Slot) -> None:
        os.kill(int(slot.instance_id), signal.SIGKILL)

    def enter_mode(self, slot: Slot) -> None:
        tmux(self.socket, "copy-mode", "-t", slot.slot_id)

    def absent(self) -> Runtime:
        return TmuxRuntime(Tmux("orch-test-absent-" + secrets.token_hex(4)), self.folder / "orch-home")

    def _log(self, agent: str) -> Path:
        return self.folder / f"{agent}.log"

    def _pidfile(self, agent: str) -> Path:
        return self.folder / f"{agent}.child-pid"


class FakeHarness:
    def __init__(self):
        self.runtime = self.fake = FakeRuntime()
        self._children: dict[str, FakeProcess] = {}

    def spec(self, agent: str, spec_hash: str = "h1", child: bool = False) -> StartSpec:
        return StartSpec(PROJECT, PROJECT_ID, SESSION, agent, f"agent {agent}", "/", (), spec_hash)

    def start_helper(self, slot: Slot) -> None:
        self._children[slot.slot_id] = self.fake.spawn_child(slot.slot_id)

    def child_alive(self, slot: Slot) -> bool:
        return self._children[slot.slot_id].alive

    def submitted(self, slot: Slot) -> list[str]:
        return self.fake.instance(slot.slot_id).submitted

    def kill(self, slot: Slot) -> None:
        self.fake.kill(slot.instance_id)

    def enter_mode(self, slot: Slot) -> None:
        self.fake.enter_mode(slot.slot_id)

    def absent(self) -> Runtime:
        return FakeRuntime()


@pytest.fixture(params=["tmux", "fake"])
def harness(request, tmp_path: Path):
    if request.param == "tmux":
        return TmuxHarness(request.getfixturevalue("tmux_socket"), tmp_path)
    return FakeHarness()


def agents(runtime: Runtime) -> dict[str, Slot]:
    return runtime.observe().agents(PROJECT, PROJECT_ID)


def screen_of(runtime: Runtime, slot: Slot) -> Screen | None:
    return runtime.capture([slot.slot_id]).get(slot.slot_id)


def started(harness, *specs: StartSpec) -> dict[str, Slot]:
    """Start the specs in one call and wait until every agent shows its prompt."""
    assert harness.runtime.start(list(specs)) == [None] * len(specs)
    slots = wait_until(lambda: (lambda seen: seen if set(seen) >= {s.agent for s in specs} else None)(
        agents(harness.runtime)), what="the started slots")
    for slot in slots.values():
        wait_until(lambda: (screen := screen_of(harness.runtime, slot)) and input_ready(screen),
                   what=f"{slot.agent}'s prompt")
    return slots


def test_start_then_observe_shows_the_marks(harness) -> None:
    slots = started(harness, harness.spec("pm", "hash-pm"), harness.spec("dev", "hash-dev"))

    observation = harness.runtime.observe()
    assert observation.running
    for name, spec_hash in (("pm", "hash-pm"), ("dev", "hash-dev")):
        slot = slots[name]
        assert (slot.project, slot.project_id, slot.agent, slot.spec_hash, slot.session, slot.name) == (
            PROJECT, PROJECT_ID, name, spec_hash, SESSION, name)
        assert slot.alive and slot.exit_status is None and slot.slot_id and slot.instance_id
    assert slots["pm"].slot_id != slots["dev"].slot_id
    session = next(s for s in observation.sessions if s.name == SESSION)
    assert (session.project, session.project_id) == (PROJECT, PROJECT_ID)


def test_restart_keeps_the_slot_and_changes_the_instance(harness) -> None:
    before = started(harness, harness.spec("dev"))["dev"]

    assert harness.runtime.restart(before.slot_id, harness.spec("dev", "h2")) is None

    after = wait_until(lambda: (slot := agents(harness.runtime).get("dev")) and slot.alive
                       and slot.instance_id != before.instance_id and slot,
                       what="a new instance in the slot")
    assert (after.slot_id, after.spec_hash) == (before.slot_id, "h2")


def test_stop_ends_a_nohup_child(harness) -> None:
    slot = started(harness, harness.spec("dev", child=True))["dev"]
    harness.start_helper(slot)
    assert harness.child_alive(slot)

    harness.runtime.stop([slot.slot_id])

    wait_until(lambda: not harness.child_alive(slot), timeout=5, what="the nohup child to end")
    assert "dev" not in agents(harness.runtime)


def test_a_paste_and_enter_reach_the_agent_even_from_copy_mode(harness) -> None:
    slot = started(harness, harness.spec("dev"))["dev"]
    harness.enter_mode(slot)
    wait_until(lambda: harness.runtime.observe().agents(PROJECT, PROJECT_ID)["dev"].in_mode, what="copy mode")

    assert harness.runtime.send(slot.slot_id, paste="hello\nworld", leave_mode=True) is None
    wait_until(lambda: "[Pasted text" in input_region(screen_of(harness.runtime, slot)),
               what="the paste in the input line")
    assert harness.submitted(slot) == []
    assert harness.runtime.send(slot.slot_id, keys=["Enter"]) is None

    assert wait_until(lambda: harness.submitted(slot), what="the submission") == ["hello\nworld"]


def test_a_death_wakes_the_waiter(harness) -> None:
    slot = started(harness, harness.spec("dev"))["dev"]
    assert harness.runtime.wait([slot.instance_id], timeout=0.2) == []  # alive: the wait runs out
    woken: list[list[str]] = []
    waiter = threading.Thread(target=lambda: woken.append(harness.runtime.wait([slot.instance_id], timeout=30)))
    waiter.start()

    began = time.monotonic()
    harness.kill(slot)
    waiter.join(timeout=5)

    assert woken == [[slot.instance_id]], "the waiter was not woken within 5 s"
    assert time.monotonic() - began < 5
    dead = wait_until(lambda: (s := agents(harness.runtime)["dev"]) and not s.alive and s, what="the dead slot")
    assert dead.slot_id == slot.slot_id
    assert harness.runtime.wait([slot.instance_id], timeout=0) == [slot.instance_id]  # already ended: at once


def test_an_absent_runtime_observes_as_empty(harness) -> None:
    assert harness.absent().observe() == Observation(slots=(), sessions=(), running=False)


def test_calls_on_a_gone_slot_say_so_and_raise_nothing(harness) -> None:
    slot = started(harness, harness.spec("dev"))["dev"]
    harness.runtime.stop([slot.slot_id])
    wait_until(lambda: "dev" not in agents(harness.runtime), what="the slot to go")

    assert harness.runtime.capture([slot.slot_id]) == {}
    assert harness.runtime.scrollback(slot.slot_id) is None
    assert harness.runtime.send(slot.slot_id, paste="x", keys=["Enter"])
    assert harness.runtime.restart(slot.slot_id, harness.spec("dev"))
    harness.runtime.stop([slot.slot_id])  # again: nothing to do


def test_one_start_call_fills_a_new_session_and_a_later_one_joins_it(harness) -> None:
    first = started(harness, *(harness.spec(f"a{index}") for index in range(5)))
    later = started(harness, harness.spec("late"))

    assert {slot.session for slot in later.values()} == {SESSION}
    assert len({slot.slot_id for slot in later.values()}) == 6
    assert [s.name for s in harness.runtime.observe().sessions].count(SESSION) == 1
    assert set(later) == set(first) | {"late"}


def test_one_capture_shows_every_slot_and_scrollback_keeps_what_was_said(harness) -> None:
    slots = started(harness, harness.spec("pm"), harness.spec("dev"))
    for word, slot in (("ping", slots["pm"]), ("pong", slots["dev"])):
        assert harness.runtime.send(slot.slot_id, paste=word, keys=["Enter"]) is None
    wait_until(lambda: harness.submitted(slots["pm"]) and harness.submitted(slots["dev"]), what="both submissions")

    screens = harness.runtime.capture([slots["pm"].slot_id, "%999999", slots["dev"].slot_id])

    assert set(screens) == {slots["pm"].slot_id, slots["dev"].slot_id}  # the unknown slot left out
    assert all(input_ready(screen) and not screen.dead for screen in screens.values())
    said = wait_until(lambda: (rows := harness.runtime.scrollback(slots["dev"].slot_id, 50))
                      and any("you said: pong" in row for row in rows) and rows, what="the answer in the scrollback")
    assert not any("ping" in row for row in said)


@pytest.mark.parametrize("implementation", [TmuxRuntime, FakeRuntime])
def test_each_runtime_has_exactly_the_seams_methods(implementation) -> None:
    """No type checker runs in CI yet: the protocol's methods and signatures, checked here."""
    seam = {name for name in vars(Runtime) if not name.startswith("_") and callable(getattr(Runtime, name))}
    for name in seam:
        assert inspect.signature(getattr(implementation, name)) == inspect.signature(getattr(Runtime, name)), name
    public = {name for name in vars(implementation) if not name.startswith("_") and callable(getattr(implementation, name))}
    extras = public - seam
    assert extras <= {"instance", "kill", "spawn_child", "enter_mode"}, extras  # the fake's simulation controls
