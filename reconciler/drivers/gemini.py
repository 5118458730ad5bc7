"""Google Gemini CLI: its limit texts and hooks.

A terminal quota error opens a dialog that reads "Usage limit reached for <model | all Pro
models>." and, on the next row when the API said when, "Access resets at 11:00 AM GMT+2."
(local time with a short zone name), then offers "Keep trying" (its default), switching model
or stopping. A capacity error reads "We are currently experiencing high demand for <model>."
(no reset). The API error itself may show as "[API Error: You have exhausted your capacity on
this model. Your quota will reset after 2h52m39s.]". Rows are drawn inside `│` box borders.
Its dialogs mark the chosen option with `●` (`● 1. Keep trying`), which an Enter would pick.
"""

from __future__ import annotations

import re

from reconciler.plan.notices import AFTER_SRC, WHEN_SRC
from reconciler.drivers import Driver

LEAD = r"^[\s│|✕×!]*(?:\[API Error:\s*)?"

LIMIT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.I) for p in (
    LEAD + r"Usage limit reached for (?:all Pro models|[\w.:-]+)\.?(?:[\s│|]*Access resets at\s+(?P<reset>"
    + WHEN_SRC + r"))?",
    LEAD + r"We are currently experiencing high demand for \S+",
    LEAD + r"You have exhausted your capacity on this model\.(?:\s*Your quota will reset after\s+" + AFTER_SRC + r")?",
))
JOINS_NEXT: re.Pattern[str] = re.compile(r"Usage limit reached for (?:all Pro models|[\w.:-]+)\.?\s*[│|]?$", re.I)
# settings.json hooks: SessionStart, BeforeAgent (~UserPromptSubmit), AfterAgent (~Stop),
# Notification (ToolPermission); no StopFailure. orch does not wire them yet.
HOOKS = ("SessionStart", "BeforeAgent", "AfterAgent", "Notification")

DIALOGS = (re.compile(r"^\s*[│|]?\s*●\s*\d+\.\s+\S"),)

DRIVER: Driver = Driver("gemini", ("gemini", "@google/gemini-cli", "gemini-cli"), LIMIT_PATTERNS, JOINS_NEXT, HOOKS,
                dialogs=DIALOGS)
