"""Claude Code: its limit texts (DESIGN.md 4 "Credit", REAL_CLAUDE.md) and its hooks.

A notice counts only at the start of a line, after blanks and Claude Code's `⎿ ● ⚠ │ …`
glyphs; not `❯`/`>`, which mark typed prompts (limit text quoted in conversation, code or a
typed prompt starts with something else). The reset follows `resets`/`continuing
automatically`, and a notice wrapped right after that keyword continues on the next row.
"""

from __future__ import annotations

import re

from reconciler.credit import WHEN_SRC
from reconciler.drivers import Driver

LEAD = r"^[\s⎿●⚠│|…]*"
_TAIL = r"(?:.*?\b(?:resets?|continuing\sautomatically)(?:\s+(?:at|on))?\s+(?P<reset>" + WHEN_SRC + r"))?"
_APOSTROPHE = r"[’'‘]?"

LIMIT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.I) for p in (
    LEAD + r"Claude AI usage limit reached\|(?P<epoch>\d{9,})",  # Claude Code 1.x: reset as epoch seconds
    LEAD + rf"You(?:{_APOSTROPHE}ve| have) (?:hit|reached) your (?:[\w-]+ )*limit\b" + _TAIL,
    LEAD + rf"You(?:{_APOSTROPHE}re| are) out of (?:[\w-]+ )*usage\b" + _TAIL,
    LEAD + r"(?:Claude (?:AI )?)?(?:[\w-]+ )?limit reached\b" + _TAIL,
    LEAD + r"API Error:.*\b429\b",  # API-key credentials: no reset time given
))
# Seen in reports: `Your limit will reset` / `     at 3pm (America/Santiago).`
JOINS_NEXT = re.compile(r"\b(?:resets?|continuing\sautomatically)(?:\s+(?:at|on))?\s*$", re.I)
HOOKS = ("SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification", "PreCompact")

DRIVER = Driver("claude", ("claude", "claude-code", "@anthropic-ai/claude-code"), LIMIT_PATTERNS, JOINS_NEXT,
                HOOKS, reports=True)
