"""Read an agent's screen: is its input line ready, is someone typing, is a menu open?

Pure functions over captured text (`capture-pane -p -e`), table-tested on real screens of
the toy agent and of Claude Code 2.1.x (tests/realclaude/SCREEN_NOTES.md). The input line
is the line the cursor is on. Dim or reverse-video text there is a placeholder or a drawn
cursor (Claude Code's `Try "..."`), not something a person typed, so it is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROMPT_CHARS = ">❯›»"
_PROMPT = re.compile(r"^\s*[│|]?\s*([" + PROMPT_CHARS + r"])(?:\s|$)(?P<rest>.*)$")
_MENU_ITEM = re.compile(r"^\s*[│|]?\s*[❯›>]\s*\d+\.\s+\S")
_MENU_FOOTER = re.compile(r"Enter to (confirm|continue|select)", re.I)
_BOX_EDGE = re.compile(r"\s*[│|]\s*$")
_ESCAPE = re.compile(r"\x1b\[([0-9;:?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b.")
MENU_LOOKBACK = 20
_HIDDEN_STYLES = {2, 7}  # dim, reverse video


@dataclass(frozen=True)
class Screen:
    lines: tuple[str, ...]  # plain text, every style removed
    cursor_x: int
    cursor_y: int
    dead: bool = False
    in_mode: bool = False
    typed_input_line: str | None = None  # the cursor line without dim/reverse text

    @property
    def input_line(self) -> str:
        if self.typed_input_line is not None:
            return self.typed_input_line
        if 0 <= self.cursor_y < len(self.lines):
            return self.lines[self.cursor_y]
        return ""


def plain(styled: str, drop_hidden: bool = False) -> str:
    """Text of a `capture-pane -e` line; with drop_hidden, without its dim/reverse runs."""
    out, hidden, position = [], False, 0
    for match in _ESCAPE.finditer(styled):
        if not (drop_hidden and hidden):
            out.append(styled[position:match.start()])
        position = match.end()
        if match.group(2) == "m":
            codes = [int(c) if c.isdigit() else 0 for c in re.split(r"[;:]", match.group(1) or "0")]
            for code in codes:
                if code == 0 or code in (22, 27):
                    hidden = False
                elif code in _HIDDEN_STYLES:
                    hidden = True
    if not (drop_hidden and hidden):
        out.append(styled[position:])
    return "".join(out)


def parse_capture(styled: str, cursor_x: int, cursor_y: int, dead: bool = False, in_mode: bool = False) -> Screen:
    rows = styled.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    typed = plain(rows[cursor_y], drop_hidden=True) if 0 <= cursor_y < len(rows) else ""
    return Screen(tuple(plain(row) for row in rows), cursor_x, cursor_y, dead, in_mode, typed.rstrip())


def input_region(screen: Screen, lookback: int = 20) -> str:
    """The input line as typed, wrapped rows joined: from the prompt's row down to the cursor's."""
    rows = list(screen.lines[max(0, screen.cursor_y - lookback):screen.cursor_y]) + [screen.input_line]
    for start in range(len(rows) - 1, -1, -1):
        if _PROMPT.match(rows[start]):
            return "".join(rows[start:])
    return screen.input_line


def pending_input(screen: Screen) -> str | None:
    """Text waiting in the input line after the prompt; None when no prompt is recognised."""
    match = _PROMPT.match(screen.input_line)
    if match is None:
        return None
    return _BOX_EDGE.sub("", match.group("rest")).strip()


def menu_open(screen: Screen) -> bool:
    """A choice (permission prompt, trust dialog, usage-limit options) is waiting for a key."""
    recent = screen.lines[-MENU_LOOKBACK:]
    return any(_MENU_ITEM.match(line) or _MENU_FOOTER.search(line) for line in recent)


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
