"""Read an agent's screen: is its input line ready, is someone typing, is a menu open?

Pure functions over captured text (`capture-pane -p -e`), table-tested on real screens of
the toy agent and of Claude Code 2.1.x (tests/realclaude/SCREEN_NOTES.md, tests/unit/screens/).
The input box is the prompt row the cursor is on; or, where the agent draws its box between
rule lines (Claude Code), every row from the prompt under the top rule down to the bottom
rule, so a draft of several lines counts whichever row the cursor is on. Dim or
reverse-video text on the cursor's row is a placeholder or a drawn cursor (Claude Code's
`Try "..."`), not something a person typed, so it is left out. A menu is a menu only below
the input box, or where none is shown: Claude Code echoes a submitted `1. Commit` as
`❯ 1. Commit` above its box, and a typed `2. Push` sits in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROMPT_CHARS = ">❯›»"
_PROMPT = re.compile(r"^\s*[│|]?\s*([" + PROMPT_CHARS + r"])(?:\s|$)(?P<rest>.*)$")
_MENU_ITEM = re.compile(r"^\s*[│|]?\s*[❯›>]\s*\d+\.\s+\S")
_RULE = re.compile(r"^\s*[─━═▔]{8,}\s*$")  # the top or bottom edge of a drawn input box
_MENU_FOOTER = re.compile(r"Enter to (confirm|continue|select)", re.I)
_BOX_EDGE = re.compile(r"\s*[│|]\s*$")
_ESCAPE = re.compile(r"\x1b\[([0-9;:?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b.")
MENU_LOOKBACK = 20
BOX_LOOKBACK = 60  # rows a drafted text may span above or below the cursor
_HIDDEN_STYLES = {2, 7}  # dim, reverse video


@dataclass(frozen=True)
class Screen:
    lines: tuple[str, ...]  # plain text, every style removed
    cursor_x: int
    cursor_y: int
    dead: bool = False
    in_mode: bool = False
    typed_input_line: str | None = None  # the cursor line without dim/reverse text
    pid: int = 0  # the process running in the pane when it was captured (0: not asked)
    dialogs: tuple[re.Pattern[str], ...] = ()  # the agent kind's own dialog rows (its driver's)

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


def parse_capture(styled: str, cursor_x: int, cursor_y: int, dead: bool = False, in_mode: bool = False,
                  pid: int = 0, dialogs: tuple[re.Pattern[str], ...] = ()) -> Screen:
    rows = styled.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    typed = plain(rows[cursor_y], drop_hidden=True) if 0 <= cursor_y < len(rows) else ""
    return Screen(tuple(plain(row) for row in rows), cursor_x, cursor_y, dead, in_mode, typed.rstrip(), pid,
                  dialogs)


def input_box(screen: Screen) -> tuple[int, int] | None:
    """(first, last) row of the input box the cursor is in; None when no prompt is recognised."""
    lines, y = screen.lines, screen.cursor_y
    if not 0 <= y < len(lines):
        return None
    top = y if _PROMPT.match(screen.input_line) else None
    if top is None:  # the cursor on a later row of a drawn box: its prompt sits right under the top rule
        for row in range(y - 1, max(-1, y - BOX_LOOKBACK), -1):
            if _RULE.match(lines[row]):
                break
            if _PROMPT.match(lines[row]):
                top = row if row > 0 and _RULE.match(lines[row - 1]) else None
                break
        if top is None:
            return None
    if top == 0 or not _RULE.match(lines[top - 1]):
        return top, y
    below = next((row for row in range(y + 1, min(len(lines), y + BOX_LOOKBACK)) if _RULE.match(lines[row])), None)
    return top, (below - 1 if below is not None else y)


def _box_rows(screen: Screen, box: tuple[int, int]) -> list[str]:
    """The box's rows as typed: the cursor's row without its placeholder or drawn cursor."""
    return [screen.input_line if row == screen.cursor_y else screen.lines[row] for row in range(box[0], box[1] + 1)]


def input_region(screen: Screen) -> str:
    """The input box's text with wrapped rows joined (so a marker split by a wrap is found)."""
    box = input_box(screen)
    if box is None:
        return screen.input_line
    return "".join(row.strip() for row in _box_rows(screen, box))


def pending_input(screen: Screen) -> str | None:
    """Text waiting in the input box after the prompt (rows joined by newlines); None when no prompt
    is recognised."""
    box = input_box(screen)
    if box is None:
        return None
    first, *rest = _box_rows(screen, box)
    prompt = _PROMPT.match(first)
    assert prompt is not None  # input_box found the prompt on this row
    texts = [prompt.group("rest"), *rest]
    return "\n".join(t for t in (_BOX_EDGE.sub("", text).strip() for text in texts) if t)


def menu_open(screen: Screen) -> bool:
    """A choice (permission prompt, trust dialog, usage-limit options) is waiting for a key.

    With an input box shown, only rows under it count (a numbered line above it is conversation,
    one inside it is typed text), and its own row only when indented as a menu's pointer is
    (input prompts sit at the left edge). With no box: the rows around the cursor and the bottom
    of the screen."""
    lines = screen.lines
    box = input_box(screen)
    if box is None:
        start = max(0, min(screen.cursor_y, len(lines)) - MENU_LOOKBACK)
        return any(_is_menu_line(line, screen.dialogs) for line in lines[start:])
    pointer = lines[box[0]]
    return ((pointer[:1].isspace() and _is_menu_line(pointer, screen.dialogs))
            or any(_is_menu_line(line, screen.dialogs) for line in lines[box[1] + 1:]))


def _is_menu_line(line: str, dialogs: tuple[re.Pattern[str], ...] = ()) -> bool:
    return bool(_MENU_ITEM.match(line) or _MENU_FOOTER.search(line) or any(d.search(line) for d in dialogs))


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
