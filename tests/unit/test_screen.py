"""Screen reading on real captures: the toy agent and Claude Code 2.1.328 (tests/realclaude/SCREEN_NOTES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.plan.screen import input_ready, input_region, menu_open, parse_capture, pending_input, plain, submitted

RULE = "─" * 80


def screen(rows: list[str], cursor_y: int | None = None, cursor_x: int = 2):
    cursor_y = len(rows) - 1 if cursor_y is None else cursor_y
    return parse_capture("\n".join(rows) + "\n", cursor_x, cursor_y)


CLAUDE_EMPTY = [" ▐▛███▛█   Claude Code v2.1.328", "", RULE, "\x1b[39m❯\xa0\x1b[7m \x1b[0m\x1b[39m\x1b[49m", RULE,
                "  ⏵⏵ bypass permissions on (shift+tab to cycle) · ← for agents"]
CLAUDE_PLACEHOLDER = ["❯ slow one", "  ⎿  Queued · ctrl+x ctrl+s to send now", RULE,
                      "\x1b[38;5;246m❯\xa0\x1b[7m\x1b[39mP\x1b[0;2m\x1b[39m\x1b[49mress up to edit queued messages\x1b[0m",
                      RULE]
CLAUDE_TYPED = [RULE, "\x1b[39m❯\xa0half a thought\x1b[7m \x1b[0m", RULE, ""]
CLAUDE_PASTED = [RULE, "❯\xa0[Pasted text #1 +3 lines]", RULE, "  paste again to expand"]
CLAUDE_TRUST = [RULE, " Accessing workspace:", "", " /tmp/wd", "", " ❯ No, exit", "   Yes, I trust this folder", "",
                " Enter to confirm · Esc to cancel"]
CLAUDE_LIMIT_MENU = [" What do you want to do?", "", " ❯ 1. Stop and wait for limit to reset",
                     "   2. Don't continue automatically", "   3. Upgrade your plan", "", " Enter to confirm · Esc to cancel"]
CLAUDE_LIMITED_BOX = ["❯ hello", "  ⎿  You've hit your 5-hour limit · resets 2:36pm (UTC)", RULE, "❯\xa0", RULE,
                      "  ⚠ Usage limit reached · limit resets 2:36pm", "  Continuing automatically at 2:36pm · Esc to cancel"]
TOY_READY = ["toy agent dev ready; type or paste a message, Enter sends it", ">"]
TOY_TYPING = ["toy agent dev ready", "> abc"]
TOY_MENU = ["Do you want to proceed?", "❯ 1. Yes", "  2. No"]
CLAUDE_TYPED_NUMBERED = [RULE, "❯\xa02. Push it", RULE, "  ⏵⏵ bypass permissions on (shift+tab to cycle)"]
TOY_TYPED_NUMBERED = ["toy agent dev ready", "> 1. Commit your work"]


@pytest.mark.parametrize(
    "rows, cursor_y, ready, pending, menu",
    [
        (CLAUDE_EMPTY, 3, True, "", False),
        (CLAUDE_PLACEHOLDER, 3, True, "", False),  # dim placeholder is not typing
        (CLAUDE_TYPED, 1, False, "half a thought", False),
        (CLAUDE_PASTED, 1, False, "[Pasted text #1 +3 lines]", False),
        (CLAUDE_TRUST, 5, False, "No, exit", True),
        (CLAUDE_LIMIT_MENU, 2, False, "1. Stop and wait for limit to reset", True),
        (CLAUDE_LIMITED_BOX, 3, True, "", False),  # the limit notice under the box is not a menu
        (TOY_READY, 1, True, "", False),
        (TOY_TYPING, 1, False, "abc", False),
        (TOY_MENU, 2, False, None, True),
        (["$ some shell"], 0, False, None, False),
        (CLAUDE_TYPED_NUMBERED, 1, False, "2. Push it", False),  # typed text, not a menu
        (TOY_TYPED_NUMBERED, 1, False, "1. Commit your work", False),
    ],
    ids=["claude-empty", "claude-placeholder", "claude-typed", "claude-pasted", "claude-trust-dialog",
         "claude-limit-menu", "claude-limited-box", "toy-ready", "toy-typing", "toy-menu", "unknown",
         "claude-typed-numbered", "toy-typed-numbered"],
)
def test_screen_table(rows, cursor_y, ready, pending, menu):
    seen = screen(rows, cursor_y)
    assert input_ready(seen) is ready
    assert pending_input(seen) == pending
    assert menu_open(seen) is menu


def test_transcript_prompts_are_not_the_input_line():
    """`❯ text` above the box is history; only the cursor's line counts."""
    seen = screen(["❯ an old prompt", RULE, "❯\xa0", RULE], cursor_y=2)
    assert input_ready(seen)


@pytest.mark.parametrize(
    "after_rows, after_y, now_rows, now_y, expected",
    [
        (CLAUDE_PASTED, 1, CLAUDE_EMPTY, 3, True),
        (CLAUDE_PASTED, 1, CLAUDE_PASTED, 1, False),
        (TOY_TYPING, 1, TOY_READY, 1, True),
        (TOY_TYPING, 1, TOY_TYPING, 1, False),
        (["plain program waiting"], 0, ["plain program waiting", "got it"], 1, True),  # no prompt: the line changed
        (["plain program waiting"], 0, ["plain program waiting"], 0, False),
    ],
)
def test_submitted(after_rows, after_y, now_rows, now_y, expected):
    assert submitted(screen(after_rows, after_y), screen(now_rows, now_y)) is expected


def test_dead_pane_is_never_submitted_or_ready():
    dead = parse_capture("> \n", 2, 0, dead=True)
    assert not input_ready(dead)
    assert not submitted(dead, dead)


@pytest.mark.parametrize(
    "styled, visible, typed",
    [
        ("\x1b[1mbold\x1b[0m text", "bold text", "bold text"),
        ("a\x1b[2mdim\x1b[22mb", "adimb", "ab"),
        ("a\x1b[7mR\x1b[27mb", "aRb", "ab"),
    ],
)
def test_plain_removes_styles_and_optionally_hidden_text(styled, visible, typed):
    assert plain(styled) == visible
    assert plain(styled, drop_hidden=True) == typed


SCREENS = Path(__file__).parent / "screens"


def captured(name: str):
    """A real capture (tests/unit/screens/NAME.txt: `cursor X Y`, then `capture-pane -p -e`)."""
    head, _, body = (SCREENS / f"{name}.txt").read_text().partition("\n")
    _, x, y = head.split()
    return parse_capture(body, int(x), int(y))


@pytest.mark.parametrize(
    "name, ready, pending, menu",
    [
        ("claude_echo_numbered_prompt", True, "", False),  # `❯ 1. Commit ...` is an echoed prompt, not a menu
        ("claude_two_line_draft", False, "DRAFT-line-one\nDRAFT-line-two", False),
        ("claude_two_line_draft_cursor_up", False, "DRAFT-line-one\nDRAFT-line-two", False),
        ("claude_after_clear", False, "DRAFT-line-two", False),  # the cursor's row is empty, the next is not
        ("claude_wrapped_draft", False, "y" * 196 + "\n" + "y" * 196 + "\n" + "y" * 58 + "\nDRAFT-line-two", False),
        ("claude_collapsed_with_marker", False, "[Pasted text #1 +4 lines] [orch:abc123]\nDRAFT-line-two", False),
    ],
)
def test_real_claude_input_box(name, ready, pending, menu):
    seen = captured(name)
    assert input_ready(seen) is ready
    assert pending_input(seen) == pending
    assert menu_open(seen) is menu


def test_the_input_region_holds_the_marker_of_a_collapsed_paste():
    assert "[orch:abc123]" in input_region(captured("claude_collapsed_with_marker"))
    assert "[orch:abc123]" not in input_region(captured("claude_echo_numbered_prompt"))


def test_an_old_toy_menu_above_a_fresh_prompt_is_not_open():
    seen = screen(["> /menu", "Do you want to proceed?", "❯ 1. Yes", "  2. No", "(chose 1)", "> "] + [""] * 20,
                  cursor_y=5)
    assert not menu_open(seen) and input_ready(seen)


def test_a_toy_menu_at_the_top_of_a_tall_pane_is_open():
    seen = screen(["> /menu", "Do you want to proceed?", "❯ 1. Yes", "  2. No", ""] + [""] * 40, cursor_y=4)
    assert menu_open(seen)
