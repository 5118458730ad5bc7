"""Decide from an agent's screen, or its own report, whether it is (newly) out of credit. Pure.

Only new output counts: the lines after the last check-in marker orch typed, or, with no
marker on screen, the bottom of the screen. A notice already recorded is the same notice
and is never re-read against a later clock (Claude Code keeps `⚠ Usage limit reached ·
limit resets 10am` under its input box after the reset); it counts again only when it
appears after something orch typed once the hold had ended, and then the hold backs off.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from reconciler.plan.notices import find_notice, held_until
from reconciler.model.checkins import CreditHold
from reconciler.plan.notices import LimitNotice
from reconciler.drivers import Driver

MARKER = re.compile(r"\[orch:([0-9a-f]{6})\]")
BOTTOM_LINES = 12
_RESET_PASSED = re.compile(r"Continuing shortly", re.I)


def marker_tag(marker: str) -> str:
    """What follows a check-in's note (after a space): it finds this firing on the screen again."""
    return f"[orch:{marker}]"


def new_output(lines: tuple[str, ...] | list[str]) -> tuple[list[str], str | None]:
    """(lines after the last orch marker on screen, that marker) or (the last written lines, None)."""
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    for index in range(len(lines) - 1, -1, -1):
        found = MARKER.findall(lines[index])
        if found:
            return list(lines[index + 1:]), found[-1]
    return list(lines[-BOTTOM_LINES:]), None


def judge_credit(project: str, agent: str, region: list[str], stored: CreditHold | None,
                 marker_typed_at: float | None, patterns: tuple[str, ...], now: float,
                 local_tz: str | tzinfo | None = None, driver: Driver | None = None) -> CreditHold | None:
    """A new hold to record when `region` shows a new out-of-credit notice (in the texts of the
    agent's `driver`, default generic); None otherwise."""
    if any(_RESET_PASSED.search(line) for line in region):
        return None
    notice = find_notice(region, patterns, driver)
    if notice is None:
        return None
    typed_after_reset = stored is not None and marker_typed_at is not None and marker_typed_at >= stored.until
    if stored is not None and stored.notice == notice.text and not typed_after_reset:
        return None  # the same notice: already held, or already released
    attempt = stored.attempt + 1 if stored is not None and typed_after_reset else 0
    # The same text after the reset names the old reset time: read it against when it was first
    # seen, so a time that has passed means "back off", never "tomorrow".
    first_seen = stored.first_seen if stored is not None and stored.notice == notice.text else now
    until = held_until(notice, first_seen, attempt, now, local_tz)
    return CreditHold(project, agent, notice.text, first_seen, until, attempt, "screen")


def judge_reported_limit(project: str, agent: str, events: list[dict], stored: CreditHold | None, now: float,
                         local_tz: str | tzinfo | None = None, driver: Driver | None = None) -> CreditHold | None:
    """A new hold from the agent's own report: its last `StopFailure` with `error: rate_limit`
    (Claude Code), the reset read from the notice it carries, as the screen's notices are: the
    event's time is when it was first seen, unless it repeats the stored hold's notice (a prompt
    typed after the reset failed again), which is then read against its first sighting, so a
    passed time backs off instead of meaning tomorrow. None when there is no report, or the
    stored hold (its own, a later one, or one cleared by hand) already covers it."""
    last = next((e for e in reversed(events) if e.get("event") == "StopFailure"
                 and isinstance(e.get("data"), dict) and e["data"].get("error") == "rate_limit"
                 and isinstance(e.get("time"), (int, float))), None)
    if last is None or (stored is not None and stored.until > last["time"]):
        return None
    text = str(last["data"].get("last_assistant_message") or "usage limit reached").strip()
    notice = find_notice([text], (), driver) or LimitNotice(text)
    first_seen = stored.first_seen if stored is not None and stored.notice == notice.text else last["time"]
    attempt = stored.attempt + 1 if stored is not None else 0
    until = held_until(notice, first_seen, attempt, now, local_tz)
    return CreditHold(project, agent, notice.text, first_seen, until, attempt, "agent")
