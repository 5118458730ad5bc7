"""Aider: its rate-limit lines (aider/exceptions.py, as printed through litellm).

On a rate limit Aider prints litellm's error, then "The API provider has rate limited you. Try
again later or check your quotas." and "Retrying in 0.2 seconds...", doubling the wait until
its retry timeout; no reset time is ever given, so orch backs off (1 min doubling to 1 h)
rather than typing into an agent that is waiting out its provider. No hooks.

Aider asks yes/no questions on its input line ("Add file to the chat? (Y)es/(N)o/(D)on't ask
again [Yes]:"): a message typed there would be its answer, so that row is a dialog.
"""

from __future__ import annotations

import re

from reconciler.drivers import Driver

LEAD = r"^[\s>]*"

LIMIT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in (
    LEAD + r"The API provider has rate limited you\b",
    LEAD + r"litellm\.RateLimitError\b",
))
JOINS_NEXT: re.Pattern[str] = re.compile(r"(?!)")  # never: its lines carry no reset time

DIALOGS = (re.compile(r"\(Y\)es/\(N\)o\b.*\[(?:Yes|No)\]:\s*$"),)

DRIVER: Driver = Driver("aider", ("aider", "aider-chat"), LIMIT_PATTERNS, JOINS_NEXT, dialogs=DIALOGS)
