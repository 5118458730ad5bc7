"""OpenAI Codex CLI: its limit texts (codex-rs/core/src/error.rs) and hooks.

`UsageLimitReachedError` reads "You've hit your usage limit." and then, by plan, "Upgrade to
Plus to continue using Codex (...)," / "Upgrade to Pro (...), visit ... to purchase more
credits" / "Visit ... to purchase more credits" followed by " or try again at X." / " or try
again later.", or (Enterprise, Edu, unknown) " Try again at X." / " Try again later.". X is
local time: `%-I:%M %p` when the reset is today, else `%b %-d<st|nd|rd|th>, %Y %-I:%M %p`.
`insufficient_quota` reads "Quota exceeded. Check your plan and billing details." (no reset);
`ModelCapError` "Model M is at capacity. Please try a different model. Try again in 5m." The
TUI prints errors after `■`, `codex exec` after `ERROR:`. Its approval dialogs list numbered
options under a `›` pointer (read as a menu by every kind) and end with "Press enter to confirm
or esc to cancel".
"""

from __future__ import annotations

import re

from reconciler.plan.notices import AFTER_SRC, WHEN_SRC
from reconciler.drivers import Driver

LEAD = r"^[\s■⚠•│|]*(?:ERROR:\s*|stream error:\s*)?"
_APOSTROPHE = r"[’'‘]"

LIMIT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.I) for p in (
    LEAD + rf"You{_APOSTROPHE}ve hit your usage limit\.(?:.*?\btry again at\s+(?P<reset>" + WHEN_SRC + r")\.)?",
    LEAD + r"Quota exceeded\. Check your plan and billing details\b",
    LEAD + r"Model \S+ is at capacity\.(?:.*?\bTry again in\s+" + AFTER_SRC + r"\.)?",
))
JOINS_NEXT: re.Pattern[str] = re.compile(r"\btry again at\s*$", re.I)
# `notify` in config.toml runs a program with JSON `{"type": "agent-turn-complete", ...}`; newer
# versions also have lifecycle hooks (hooks.json or [hooks]). orch does not wire them yet.
HOOKS = ("agent-turn-complete",)

DIALOGS = (re.compile(r"Press enter to confirm or esc to cancel", re.I),)

DRIVER: Driver = Driver("codex", ("codex", "@openai/codex"), LIMIT_PATTERNS, JOINS_NEXT, HOOKS, dialogs=DIALOGS)
