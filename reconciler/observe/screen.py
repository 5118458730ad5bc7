"""Read an agent's screen: is its input line ready, is someone typing, is a menu open?

Pure functions over captured text, so they are table-tested on real screens (toy agent and
Claude Code). The input line is the line the cursor is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROMPT_CHARS = ">❯›»"
_PROMPT = re.compile(r"^\s*[│|]?\s*([" + PROMPT_CHARS + r"])(?:\s|$)(?P<rest>.*)$")
_MENU_ITEM = re.compile(r"^\s*[│|]?\s*[❯›>]\s*\d+\.\s+\S")
_BOX_EDGE = re.compile(r"\s*[│|]\s*$")
MENU_LOOKBACK = 20


@dataclass(frozen=True)
class Screen:
    lines: tuple[str, ...]
    cursor_x: int
    cursor_y: int
    dead: bool = False
    in_mode: bool = False

    @property
    def input_line(self) -> str:
        if 0 <= self.cursor_y < len(self.lines):
            return self.lines[self.cursor_y]
        return ""


def pending_input(screen: Screen) -> str | None:
    """Text waiting in the input line after the prompt; None when no prompt is recognised."""
    match = _PROMPT.match(screen.input_line)
    if match is None:
        return None
    return _BOX_EDGE.sub("", match.group("rest")).strip()


def menu_open(screen: Screen) -> bool:
    """A numbered choice (permission prompt, usage-limit options) is waiting for a key."""
    return any(_MENU_ITEM.match(line) for line in screen.lines[-MENU_LOOKBACK:])


def input_ready(screen: Screen) -> bool:
    return not screen.dead and not menu_open(screen) and pending_input(screen) == ""


def submitted(after_paste: Screen, now: Screen) -> bool:
    """Did the pasted text leave the input line? (The one place that answers this question.)"""
    if now.dead:
        return False
    pending = pending_input(now)
    if pending is not None:
        return pending == ""
    return now.input_line != after_paste.input_line
