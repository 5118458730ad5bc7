"""Is an agent out of credit, and until when? (DESIGN.md section 4, "Credit")

Pure functions over screen text: no I/O, no clock (`now` and `first_seen` are arguments).
The texts themselves are each agent kind's (reconciler/drivers/); this module finds them and
reads their reset time, table-tested on what Claude Code prints (tests/realclaude/SCREEN_NOTES.md
(e), public reports) and on Codex's, Gemini CLI's and Aider's texts (tests/unit/test_drivers.py).

Why the rules look the way they do:
- A notice counts only at the start of a line (after blanks and Claude Code's `⎿ ● ⚠ │ …`
  glyphs). Limit text quoted in conversation, in code or in a typed prompt (`❯ ...`) starts
  with something else, so an agent working on this very file does not look limited.
- Claude Code rounds the reset down to the minute and prints it without a date or a zone
  under its input box, and keeps printing it after the reset. So a time is resolved against
  the moment orch *first* saw the notice, never against a later clock, and a time within
  that minute is that minute (not tomorrow).
- The printed time can be wrong (the limit outlasts it) or absent (spend limit, 429): then
  orch backs off, 1 min doubling to 1 h.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from reconciler.drivers import Driver

# A clock time as agents print it: `5pm`, `11:57am`, `11:57 AM`, `17:00`, optionally after a
# date (`Jan 30, `, `May 5 at `, Codex's `Dec 3rd, 2026 `) and before a zone: an IANA name in
# parentheses (`(Asia/Calcutta)`) or a UTC offset (Gemini CLI's `GMT+2`). The lookahead insists
# on minutes or am/pm, so a bare number (`5 hours`) is not a time.
WHEN_SRC = (
    r"(?:(?P<mon>[a-z]{3})[a-z]*\.?\s(?P<day>\d{1,2})(?:st|nd|rd|th)?,?(?:\s(?P<year>\d{4}))?(?:\sat)?\s)?"
    r"(?P<hour>\d{1,2})(?=:\d\d|\s?[ap]\.?m\b)(?::(?P<minute>\d\d))?(?:\s?(?P<ampm>[ap])\.?m\b)?"
    r"(?:\s(?P<offset>(?:GMT|UTC)(?:[+-]\d{1,2}(?::?\d\d)?)?)\b)?"
    r"(?:\s*\((?P<zone>[^()\s]+)\))?"
)
# A wait as agents print it: Gemini's `2h52m39s`, Codex's `5m` or `less than a minute`.
AFTER_SRC = r"(?P<after>(?:\d+[dhms])+|less than a minute)"
_WHEN = re.compile(WHEN_SRC, re.I)
_AFTER_PART = re.compile(r"(\d+)([dhms])")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_ESCAPE = re.compile(r"\x1b\[[0-9;:?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b.")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


@dataclass(frozen=True)
class LimitNotice:
    text: str  # the matched line, stripped (of blanks and terminal escapes)
    reset_text: str | None = None  # e.g. "Jan 30, 11:30am (Asia/Calcutta)"; None when no time is stated
    epoch: float | None = None  # the reset, for `Claude AI usage limit reached|<epoch>`
    after_s: float | None = None  # the reset as a wait from when the notice was first seen


def find_notice(lines: Sequence[str], extra_patterns: Sequence[str] = (), driver: Driver | None = None
                ) -> LimitNotice | None:
    """The most recent out-of-credit notice in `lines` (as `driver` knows its agent's; default:
    generic, i.e. Claude Code's), or None.

    The caller passes only new output near the prompt (after the last thing orch typed, down
    to the rows under the input box): old notices in the scrollback must not count.
    `extra_patterns` are the manifest's `credit.patterns` (Python regexes, searched anywhere
    in a line); a named group `reset` gives the reset time, `epoch` a reset in epoch seconds.
    """
    if driver is None:
        from reconciler.drivers import GENERIC as driver  # lazy: the drivers import this module
    assert driver is not None
    patterns = [*driver.limit_patterns, *(re.compile(p) for p in extra_patterns)]
    rows = [_ESCAPE.sub("", line).strip() for line in lines]
    for i in range(len(rows) - 1, -1, -1):
        notice = _match(rows[i], patterns)
        if notice and not _has_time(notice) and i + 1 < len(rows) and driver.joins_next.search(rows[i]):
            joined = _match(f"{rows[i]} {rows[i + 1]}", patterns)
            notice = joined if joined and _has_time(joined) else notice
        if notice:
            return notice
    return None


def _match(row: str, patterns: Sequence[re.Pattern[str]]) -> LimitNotice | None:
    """The first pattern that gives a reset time wins; else the first that matches at all."""
    found = [n for n in (_notice(p.search(row), row) for p in patterns) if n]
    return next((n for n in found if _has_time(n)), found[0] if found else None)


def _notice(match: re.Match[str] | None, row: str) -> LimitNotice | None:
    if match is None:
        return None
    groups = match.groupdict()
    reset, epoch, after = groups.get("reset"), groups.get("epoch"), groups.get("after")
    return LimitNotice(row, reset.strip() if reset else None,
                       float(epoch) if epoch and epoch.isdigit() else None, _seconds(after))


def _seconds(after: str | None) -> float | None:
    """`2h52m39s` -> 10359.0; `less than a minute` -> 60.0 (the most it can mean)."""
    if not after:
        return None
    parts = _AFTER_PART.findall(after)
    return float(sum(int(n) * _UNIT_S[unit.lower()] for n, unit in parts)) if parts else 60.0


def _has_time(notice: LimitNotice) -> bool:
    return notice.reset_text is not None or notice.epoch is not None or notice.after_s is not None


def reset_time(notice: LimitNotice, first_seen: float, local_tz: str | tzinfo | None = None) -> float | None:
    """Epoch of the reset the notice states, or None when it states none (or an unreadable one).

    The zone in parentheses wins, else `local_tz` (Claude Code prints the machine's local
    time), else UTC. A date takes the year that puts it nearest to `first_seen` (Dec -> Jan
    rollover, while a date a few days past stays in the past and leads to a backoff, instead
    of a year-long hold). A time alone is on first_seen's date in that zone, or the next day
    when it is earlier than the minute first_seen falls in.
    """
    if notice.epoch is not None:
        return notice.epoch
    if notice.after_s is not None:
        return first_seen + notice.after_s
    when = _WHEN.search(notice.reset_text or "")
    clock = _clock(when) if when else None
    if when is None or clock is None:
        return None
    zone = _offset(when["offset"]) or _zone(when["zone"], local_tz)
    seen = datetime.fromtimestamp(first_seen, zone)
    if when["mon"]:
        month = _MONTHS.get(when["mon"].lower())
        years = (int(when["year"]),) if when["year"] else (seen.year - 1, seen.year, seen.year + 1)
        candidates = [d for d in (_date(y, month, int(when["day"])) for y in years) if d is not None]
        if not candidates:
            return None
        day = min(candidates, key=lambda d: abs((d - seen.date()).days))
        return datetime.combine(day, clock, zone).timestamp()
    at = datetime.combine(seen.date(), clock, zone).timestamp()
    if at + 60 <= first_seen:  # earlier than the minute it was first seen in: the next occurrence
        at = datetime.combine(seen.date() + timedelta(days=1), clock, zone).timestamp()
    return at


def _clock(when: re.Match[str]) -> time | None:
    hour, minute = int(when["hour"]), int(when["minute"] or 0)
    if when["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if when["ampm"].lower() == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _date(year: int, month: int | None, day: int) -> date | None:
    try:
        return date(year, month, day) if month else None
    except ValueError:  # Feb 29 in a common year, Jan 32, ...
        return None


def _offset(text: str | None) -> tzinfo | None:
    """`GMT+2`, `UTC-05:30`, `GMT` as a fixed zone; None when there is no offset."""
    if not text:
        return None
    match = re.fullmatch(r"(?:GMT|UTC)(?:([+-])(\d{1,2})(?::?(\d\d))?)?", text, re.I)
    if match is None or not match.group(1):
        return timezone.utc
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes > 59:
        return None
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _zone(name: str | None, local_tz: str | tzinfo | None) -> tzinfo:
    for key in (name, local_tz):
        if isinstance(key, tzinfo):
            return key
        if key:
            try:
                return ZoneInfo(key)
            except (KeyError, ValueError, OSError):  # unknown (`PST`, `Mars/Olympus`) or not a zone key
                continue
    return timezone.utc


def backoff_delay(attempt: int) -> float:
    """Seconds to wait when no usable reset time is known: 60, 120, 240, ... capped at 3600."""
    return float(min(60 * 2 ** min(max(attempt, 0), 6), 3600))


def held_until(notice: LimitNotice, first_seen: float, attempt: int, now: float,
               local_tz: str | tzinfo | None = None) -> float:
    """When messages may be typed into the agent again.

    The stated reset while it is still ahead of `now`; otherwise (the limit outlasted the
    printed time, or none was printed) `now` plus a backoff that grows with `attempt`.
    """
    reset = reset_time(notice, first_seen, local_tz)
    if reset is not None and reset > now:
        return reset
    return now + backoff_delay(attempt)
