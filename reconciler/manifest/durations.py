"""Durations as the manifest writes them: 90s, 15m, 2h, 1d (and combinations like 1h30m)."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"^(\d+[smhd])+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
HINT = "use 90s, 15m, 2h, 1d"
MAX_SECONDS = 365 * 86400  # a due time must stay a date every command can show (year 275817 is not)


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError naming the accepted forms otherwise."""
    compact = text.strip() if isinstance(text, str) else ""
    if not _WHOLE.match(compact):
        raise ValueError(f"{text!r} is not a duration ({HINT})")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(compact))
    if seconds < 1:
        raise ValueError(f"{text!r} is shorter than the minimum of 1s")
    check_bound(text, seconds)
    return float(seconds)


def check_bound(text: str, seconds: float) -> None:
    """ValueError when `seconds` exceeds the longest duration orch accepts."""
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than the maximum of {format_duration(MAX_SECONDS)}")


def format_duration(seconds: float) -> str:
    """A short human form: 45s, 12m, 3h05m, 2d."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds % 60 else f"{seconds // 60}m"
    if seconds < 86400:
        minutes = (seconds % 3600) // 60
        return f"{seconds // 3600}h{minutes:02d}m" if minutes else f"{seconds // 3600}h"
    hours = (seconds % 86400) // 3600
    return f"{seconds // 86400}d{hours:02d}h" if hours else f"{seconds // 86400}d"
