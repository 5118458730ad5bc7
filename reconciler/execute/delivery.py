"""Deliver a text into an agent's input box so that it is submitted exactly once.

The text goes in as a bracketed paste (load-buffer + paste-buffer -p: multi-line safe,
nothing interpreted as keys), a check-in's marker as a second one (an agent that collapses a
long paste into `[Pasted text #N]` still shows it); after a short settle a separate Enter;
then the agent's own receipt (Claude Code's UserPromptSubmit event carrying the text or the
check-in's marker, reconciler/agent_events.py) or, failing that, the screen must show that the
text was submitted, and Enter is retried a bounded number of times. Before pasting we wait
while the pane is in copy mode (left with `cancel`, never Escape), while a menu or dialog is
open, and while someone else's text sits in the input box. Before every Enter the screen is
looked at again: a menu that opened meanwhile stops the delivery (an Enter would pick its
highlighted option). A delivery planned for one process (`pid`) types and presses nothing once
another runs in the pane (a restart reuses the pane): it is held, so nothing is recorded
against the old process and the next pass plans for the new one. One delivery at a time per
agent, across processes, through a lock under ORCH_HOME.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from reconciler.plan.screen import (
    Screen, input_ready, input_region, menu_open, parse_capture, pending_input, submitted,
)
from reconciler.runtime.tmux import Tmux

POLL_S = 0.03
SETTLE_S = 0.05  # after the paste shows on screen; Claude Code 2.1 accepted Enter at 0 and 50 ms (48/48)
VERIFY_S = 1.5
ENTER_ATTEMPTS = 3
RECEIPT_GRACE_S = 1.0  # after the screen says "submitted": how long a receipt may still take to arrive
STABLE_S = 5.0  # an unrecognised screen that stays still this long is taken as ready (agents without a known prompt)
MENU_OPENED = "a menu or dialog opened in the agent during the delivery: nothing more was typed"
REPLACED = "the agent was restarted since this delivery was planned: nothing more was typed"


@dataclass(frozen=True)
class Delivery:
    ok: bool
    reason: str
    enters: int = 0
    held: bool = False  # not typed because the guard said so (e.g. the agent is out of credit)
    typed_at: float | None = None
    confirmed_by: str | None = None  # "receipt" (the agent's own event) or "screen"


@dataclass(frozen=True)
class Receipts:
    """Where the agent's own submissions are reported, from `offset` (taken before typing) on."""

    events: Path
    offset: int
    text: str
    tag: str = ""

    @classmethod
    def watch(cls, events: Path | None, text: str, tag: str = "") -> "Receipts | None":
        from reconciler.agent_events import end_offset

        return cls(events, end_offset(events), text, tag) if events is not None and events.exists() else None

    def seen(self) -> bool:
        from reconciler.agent_events import read_events
        from reconciler.drivers.claude import is_receipt

        events, _ = read_events(self.events, self.offset)
        return any(is_receipt(event, self.text, self.tag) for event in events)


Guard = Callable[[Screen], "str | None"]
Dialogs = tuple[re.Pattern[str], ...]


def snapshot(tmux: Tmux, pane_id: str, dialogs: Dialogs = ()) -> Screen | None:
    """The pane's visible screen, cursor and mode in one tmux process; None if the pane is gone.
    `dialogs`: the agent kind's own dialog rows (reconciler/drivers/), read as menus."""
    result = tmux.run(
        ["display-message", "-p", "-t", pane_id,
         "#{pane_dead}\t#{pane_in_mode}\t#{cursor_x}\t#{cursor_y}\t#{pane_pid}"],
        ["capture-pane", "-p", "-e", "-t", pane_id],
        check=False,
    )
    if result.returncode != 0:
        return None
    head, _, body = result.stdout.partition("\n")
    dead, in_mode, cursor_x, cursor_y, pid = (head.split("\t") + ["0"] * 5)[:5]
    return parse_capture(body, int(cursor_x or 0), int(cursor_y or 0), dead == "1", in_mode == "1", int(pid or 0),
                         dialogs)


def replaced(screen: Screen, pid: int) -> bool:
    """Does another process than the planned one (`pid`; 0: any) run in the pane?"""
    return bool(pid) and screen.pid != pid


def wait_until_ready(tmux: Tmux, pane_id: str, timeout: float, dialogs: Dialogs = ()) -> tuple[Screen | None, str]:
    """Poll until the input line is empty and nothing blocks it; (screen, '') or (None, why not)."""
    deadline = time.monotonic() + timeout
    last_text, stable_since = None, time.monotonic()
    why = "the agent did not show its prompt"
    while True:
        screen = snapshot(tmux, pane_id, dialogs)
        if screen is None:
            return None, "the agent's pane is gone"
        if screen.dead:
            return None, "the agent is not running"
        if screen.in_mode:
            tmux.run(["send-keys", "-X", "-t", pane_id, "cancel"], check=False)
            why = "the pane stayed in copy mode"
        elif menu_open(screen):
            why = "a menu or dialog is open in the agent"
        elif input_ready(screen):
            return screen, ""
        elif pending_input(screen):
            why = "someone is typing in the agent's input line"
        else:
            text = "\n".join(screen.lines)
            if text != last_text:
                last_text, stable_since = text, time.monotonic()
            elif text.strip() and time.monotonic() - stable_since >= STABLE_S:
                return screen, ""
        if time.monotonic() >= deadline:
            return None, why
        time.sleep(POLL_S)


def deliver(tmux: Tmux, pane_id: str, text: str, *, lock_file: Path, tag: str = "", ready_timeout: float = 15.0,
            lock_timeout: float = 120.0, guard: Guard | None = None, pid: int = 0,
            receipts: Path | None = None, dialogs: Dialogs = ()) -> Delivery:
    """Paste `text` (then ` tag`), press Enter, and confirm that it was submitted: by the agent's
    own report in its event stream `receipts` (where it has one), else from the screen.

    `tag` marks a check-in (`[orch:xxxxxx]`); when it already sits in the input box (an earlier
    attempt that was typed but not submitted) only Enter is pressed, never a second paste.
    `guard(screen)` runs on the ready screen just before typing; a reason it returns holds
    the delivery back (nothing is typed). `pid`: the process it was planned for (0: any).
    `dialogs`: the agent kind's own dialog rows.
    """
    from filelock import FileLock, Timeout

    try:
        with FileLock(lock_file, timeout=lock_timeout, mode=0o600):
            if tag:
                leftover = snapshot(tmux, pane_id, dialogs)
                if leftover is not None and not leftover.dead and tag in input_region(leftover):
                    return press_enter_until_submitted(tmux, pane_id, leftover, pid,
                                                       Receipts.watch(receipts, text, tag))
            return _deliver_locked(tmux, pane_id, text, tag, ready_timeout, guard, pid, receipts, dialogs)
    except Timeout:
        return Delivery(False, f"another delivery to this agent held {lock_file} for {lock_timeout:.0f}s")


def _deliver_locked(tmux: Tmux, pane_id: str, text: str, tag: str, ready_timeout: float,
                    guard: Guard | None, pid: int, receipts: Path | None, dialogs: Dialogs) -> Delivery:
    before, why = wait_until_ready(tmux, pane_id, ready_timeout, dialogs)
    if before is None:
        return Delivery(False, why)
    if replaced(before, pid):
        return Delivery(False, REPLACED, held=True)
    held = guard(before) if guard is not None else None
    if held:
        return Delivery(False, held, held=True)
    watch = Receipts.watch(receipts, text, tag)
    typed_at = time.time()
    after = before
    for index, part in enumerate((text, f" {tag}") if tag else (text,)):
        if index and replaced(after, pid):
            return Delivery(False, REPLACED, held=True, typed_at=typed_at)
        failed = _paste(tmux, pane_id, part)
        if failed:
            return Delivery(False, failed, typed_at=typed_at if index else None)
        after = _wait_for_change(tmux, pane_id, after) or after
        if after is None:
            return Delivery(False, "the agent's pane went away during the paste", typed_at=typed_at)
        if menu_open(after):
            return Delivery(False, MENU_OPENED, typed_at=typed_at)
    time.sleep(SETTLE_S)
    result = press_enter_until_submitted(tmux, pane_id, after, pid, watch)
    return Delivery(result.ok, result.reason, result.enters, result.held, typed_at=typed_at,
                    confirmed_by=result.confirmed_by)


def _paste(tmux: Tmux, pane_id: str, text: str) -> str | None:
    """One bracketed paste through a buffer of our own; what went wrong, or None."""
    buffer = "orch-" + secrets.token_hex(6)
    pasted = tmux.run(
        ["load-buffer", "-b", buffer, "-"],
        ["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id],
        input=text, check=False,
    )
    if pasted.returncode == 0:
        return None
    tmux.run(["delete-buffer", "-b", buffer], check=False)
    return f"tmux could not paste: {pasted.stderr.strip()}"


def press_enter_until_submitted(tmux: Tmux, pane_id: str, after_paste: Screen, pid: int = 0,
                                receipts: Receipts | None = None) -> Delivery:
    """Enter, then watch for the agent's receipt and the screen; again (a bounded number of
    times) while neither says the text was submitted.

    Before each Enter the screen is read again: a menu or dialog that opened meanwhile would
    take the Enter as its answer, and a process other than `pid` never got the text, so the
    delivery stops there and types nothing more."""
    for enter in range(1, ENTER_ATTEMPTS + 1):
        now = _screen_for_enter(tmux, pane_id, after_paste.dialogs)
        if now is None or now.dead:
            return Delivery(False, "the agent exited during delivery", enter - 1)
        if replaced(now, pid):
            return Delivery(False, REPLACED, enter - 1, held=True)
        if menu_open(now):
            return Delivery(False, MENU_OPENED, enter - 1)
        tmux.run(["send-keys", "-t", pane_id, "Enter"], check=False)
        deadline = time.monotonic() + VERIFY_S
        while time.monotonic() < deadline:
            now = snapshot(tmux, pane_id, after_paste.dialogs)
            if now is None or now.dead:
                return Delivery(False, "the agent exited during delivery", enter)
            by = confirmation(receipts, after_paste, now)
            if by is not None:
                return Delivery(True, "submitted", enter, confirmed_by=by)
            time.sleep(POLL_S)
    return Delivery(False, f"the text stayed in the input line after {ENTER_ATTEMPTS} Enter presses", ENTER_ATTEMPTS)


def confirmation(receipts: Receipts | None, after_paste: Screen, now: Screen) -> str | None:
    """Was the text submitted, and who says so? The one place that answers it: "receipt" (the
    agent's own report), "screen" (the text left the input box, and no receipt came within
    RECEIPT_GRACE_S, or the agent gives none), or None (not yet)."""
    if receipts is not None and receipts.seen():
        return "receipt"
    if not submitted(after_paste, now):
        return None
    if receipts is not None:
        deadline = time.monotonic() + RECEIPT_GRACE_S
        while time.monotonic() < deadline:
            if receipts.seen():
                return "receipt"
            time.sleep(POLL_S)
    return "screen"


def _screen_for_enter(tmux: Tmux, pane_id: str, dialogs: Dialogs) -> Screen | None:
    """The screen an Enter would go to, out of copy mode (where Enter would copy, not submit)."""
    screen = snapshot(tmux, pane_id, dialogs)
    if screen is not None and screen.in_mode:
        tmux.run(["send-keys", "-X", "-t", pane_id, "cancel"], check=False)
        screen = snapshot(tmux, pane_id, dialogs)
    return screen


def _wait_for_change(tmux: Tmux, pane_id: str, before: Screen, timeout: float = 2.0) -> Screen | None:
    """The screen once the paste shows up (or the last one seen, if the agent does not echo)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = snapshot(tmux, pane_id, before.dialogs)
        if screen is None or screen.lines != before.lines or time.monotonic() >= deadline:
            return screen
        time.sleep(POLL_S)
