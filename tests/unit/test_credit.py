"""Out-of-credit notices on real texts (DESIGN.md 4 "Credit", tests/realclaude/SCREEN_NOTES.md (e)).

Texts come from Claude Code 2.1.328 screens and from public reports against anthropics/claude-code.
All times are fixed epochs; nothing reads the clock.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from reconciler.plan.notices import LimitNotice, backoff_delay, find_notice, held_until, reset_time
from reconciler.drivers.claude import LIMIT_PATTERNS as DEFAULT_PATTERNS


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, tz: str = "UTC") -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz)).timestamp()


RULE = "─" * 200

# (line on screen, expected reset_text, expected epoch)
HITS = [
    ("  ⎿  You've hit your 5-hour limit · resets 11:57am (UTC)", "11:57am (UTC)", None),
    ("  ⎿  You’ve hit your 5-hour limit · resets 11:57am (UTC)", "11:57am (UTC)", None),  # U+2019
    ("● Usage limit reached · limit resets 11:57am", "11:57am", None),
    ("Usage limit reached · limit resets 11:57 am", "11:57 am", None),
    ("You've hit your Opus limit · resets 11:57AM (UTC)", "11:57AM (UTC)", None),
    ("You've hit your limit · resets Jan 30, 11:30am (Asia/Calcutta)", "Jan 30, 11:30am (Asia/Calcutta)", None),
    ("You've hit your weekly limit · resets 5pm (America/Detroit)", "5pm (America/Detroit)", None),
    ("You've hit your session limit · resets 6:50am (America/New_York)", "6:50am (America/New_York)", None),
    ("You've hit your limit · resets May 5 at 9pm (America/New_York)", "May 5 at 9pm (America/New_York)", None),
    ("5-hour limit reached ∙ resets 5am", "5am", None),  # U+2219
    ("5-hour limit reached · resets 5am", "5am", None),  # U+00B7
    ("Usage limit reached ∙ limit resets 17:00", "17:00", None),
    ("Claude usage limit reached. Your limit will reset at 3pm (America/New_York).", "3pm (America/New_York)", None),
    ("You’ve hit your limit for Claude messages. Limits will reset at 9:30 AM.", "9:30 AM", None),
    ("You're out of extra usage · resets May 2, 2pm (Asia/Jerusalem)", "May 2, 2pm (Asia/Jerusalem)", None),
    ("  ⚠ Usage limit reached · limit resets 10am", "10am", None),
    ("● Usage limit reached · continuing automatically at 2:36pm · esc to cancel", "2:36pm", None),
    ("  ⎿  Claude AI usage limit reached|1764000000", None, 1764000000.0),
    ("  ⎿  API Error: Request rejected (429) · This request would exceed your account's rate limit. "
     "Please try again later.", None, None),
    ('  ⎿  API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"This request would '
     'exceed your account\'s rate limit. Please try again later."}}', None, None),
    ("You've hit your monthly spend limit · raise it at claude.ai/settings/usage?from=cc_cli_limit_message",
     None, None),
]


@pytest.mark.parametrize(("line", "reset_text", "epoch"), HITS)
def test_recognises_every_form(line: str, reset_text: str | None, epoch: float | None) -> None:
    assert find_notice(["❯ check in", line]) == LimitNotice(line.strip(), reset_text, epoch)


NOT_HITS = [
    "You've used 97% of your session limit · resets 3pm",
    "You’ve used 90% of your weekly limit · resets Jan 30, 11:30am (Asia/Calcutta)",
    "Approaching usage limit · resets at 9pm",
    "Approaching Opus usage limit",
    "     /upgrade to increase your usage limit.",
    "  Resets 10pm (America/Los_Angeles)",  # the /usage panel
    "  $15.40 / $20.00 spent · Resets 12am (America/Los_Angeles)",
    "    Continuing shortly · Esc to cancel",
    "● Automatic continue cancelled · /rate-limit-options to re-arm",
    "  ❯ 1. Stop and wait for limit to reset",
    "❯ You've hit your limit · resets 5pm",  # a typed prompt, not Claude's notice
    "> /limit You've hit your limit · resets 5pm",  # the toy agent's echo of a typed prompt
    "    assert find_notice([\"You've hit your limit · resets 5pm\"])",  # quoted in code
    "● The banner says Usage limit reached · limit resets 10am when that happens.",  # quoted in conversation
    '  ⎿  API Error: 500 {"type":"error","error":{"type":"api_error","message":"Overloaded"}}',
    "✻ Cogitated for 0s · done 11:36 AM",
]


@pytest.mark.parametrize("line", NOT_HITS)
def test_warnings_and_quotes_are_not_hits(line: str) -> None:
    assert find_notice([line]) is None


def test_every_default_pattern_is_exercised() -> None:
    for pattern in DEFAULT_PATTERNS:
        assert any(pattern.search(line) for line, _, _ in HITS), pattern.pattern


LIMITED_SCREEN = [  # SCREEN_NOTES (e), from the typed prompt down to the rows under the box
    "❯ first under limit",
    "  ⎿  You've hit your 5-hour limit · resets 2:36pm (UTC)",
    "",
    "● Usage limit reached · continuing automatically at 2:36pm · esc to cancel",
    "                                                              …   ◐ medium · /effort",
    RULE,
    "❯\xa0",
    RULE,
    "  ⚠ Usage limit reached · limit resets 2:36pm",
    "    Continuing automatically at 2:36pm · Esc to cancel",
    "  ⏵⏵ bypass permissions on (shift+tab to cycle) · ← for agents",
]


@pytest.mark.parametrize(("lines", "extra", "expected"), [
    (LIMITED_SCREEN, (), LimitNotice("⚠ Usage limit reached · limit resets 2:36pm", "2:36pm")),
    (["\x1b[39m  \x1b[38;5;231m⚠ Usage limit reached · limit resets 2:36pm",  # capture-pane -e
      "\x1b[39m    \x1b[38;5;231mContinuing automatically at 2:36pm · Esc to cancel\x1b[39m"], (),
     LimitNotice("⚠ Usage limit reached · limit resets 2:36pm", "2:36pm")),
    (["You've hit your limit · resets 10am (UTC)", "❯ again", "You've hit your limit · resets 3pm (UTC)"], (),
     LimitNotice("You've hit your limit · resets 3pm (UTC)", "3pm (UTC)")),
    (["  ⎿  You've hit your 5-hour limit · resets 2:36pm (UTC)",
      "● Automatic continue cancelled · /rate-limit-options to re-arm"], (),
     LimitNotice("⎿  You've hit your 5-hour limit · resets 2:36pm (UTC)", "2:36pm (UTC)")),
    (["Claude usage limit reached. Your limit will reset", "     at 3pm (America/Santiago)."], (),  # wrapped
     LimitNotice("Claude usage limit reached. Your limit will reset at 3pm (America/Santiago).",
                 "3pm (America/Santiago)")),
    ([], (), None),
    (["❯ hello", "● ok: hello", RULE, "❯\xa0", RULE], (), None),
    (["Quota exhausted, retry after 4pm"], (r"Quota exhausted, retry after (?P<reset>.+)",),
     LimitNotice("Quota exhausted, retry after 4pm", "4pm")),
    (["[agent] Quota exhausted"], (r"Quota exhausted",), LimitNotice("[agent] Quota exhausted")),
    (["Quota exhausted"], (r"quota EXHAUSTED",), None),  # user regexes are taken as written
    (["  ⎿  API Error: Request rejected (429) · retry at 4pm"], (r"retry at (?P<reset>\S+)",),
     LimitNotice("⎿  API Error: Request rejected (429) · retry at 4pm", "4pm")),  # the one with a time wins
])
def test_find_notice_returns_the_last_notice(lines: list[str], extra: tuple[str, ...],
                                             expected: LimitNotice | None) -> None:
    assert find_notice(lines, extra) == expected


def notice(reset_text: str | None = None, epoch: float | None = None) -> LimitNotice:
    return LimitNotice("You've hit your limit", reset_text, epoch)


@pytest.mark.parametrize(("reset_text", "first_seen", "local_tz", "expected"), [
    ("11:57am (UTC)", at(2026, 11, 24, 9), None, at(2026, 11, 24, 11, 57)),
    ("11:57 am", at(2026, 11, 24, 9), None, at(2026, 11, 24, 11, 57)),  # no zone, no local zone: UTC
    ("11:57AM (UTC)", at(2026, 11, 24, 9), None, at(2026, 11, 24, 11, 57)),
    ("9:30 AM", at(2026, 11, 24, 9), None, at(2026, 11, 24, 9, 30)),
    ("12:30 p.m.", at(2026, 11, 24, 9), None, at(2026, 11, 24, 12, 30)),
    ("17:00", at(2026, 11, 24, 9), None, at(2026, 11, 24, 17)),
    ("10am (UTC)", at(2026, 11, 24, 9, 15), None, at(2026, 11, 24, 10)),  # hour alone
    ("12pm", at(2026, 11, 24, 9), None, at(2026, 11, 24, 12)),
    ("12am", at(2026, 11, 24, 9), None, at(2026, 11, 25, 0)),  # midnight, earlier today: tonight
    ("5pm (America/Detroit)", at(2026, 11, 24, 10, tz="America/Detroit"), None,
     at(2026, 11, 24, 17, tz="America/Detroit")),
    ("5am", at(2026, 11, 24, 6), None, at(2026, 11, 25, 5)),  # earlier than first seen: tomorrow
    ("2:36pm (UTC)", at(2026, 11, 24, 14, 37), None, at(2026, 11, 25, 14, 36)),
    ("10am (UTC)", at(2026, 11, 24, 10, 0, 30), None, at(2026, 11, 24, 10)),  # same minute: now, not tomorrow
    ("10am (UTC)", at(2026, 11, 24, 10, 0, 59), None, at(2026, 11, 24, 10)),
    ("10am (UTC)", at(2026, 11, 24, 10, 1, 0), None, at(2026, 11, 25, 10)),  # the minute after: tomorrow
    ("2:36pm", at(2026, 11, 24, 14, 36, 45), None, at(2026, 11, 24, 14, 36)),
    ("9am (Asia/Tokyo)", at(2026, 11, 24, 23, 30), None, at(2026, 11, 25, 9, tz="Asia/Tokyo")),  # Tokyo's date
    ("9am (America/New_York)", at(2026, 10, 31, 10, tz="America/New_York"), None,  # across the DST change
     at(2026, 11, 1, 9, tz="America/New_York")),
    ("Jan 30, 11:30am (Asia/Calcutta)", at(2026, 1, 28, 12, tz="Asia/Calcutta"), None,
     at(2026, 1, 30, 11, 30, tz="Asia/Calcutta")),
    ("Jan 2, 9am (UTC)", at(2026, 12, 30, 20), None, at(2027, 1, 2, 9)),  # across the new year
    ("Dec 31, 11pm (UTC)", at(2027, 1, 1, 1), None, at(2026, 12, 31, 23)),  # just past: last year, not next
    ("Jan 30, 11:30am (Asia/Calcutta)", at(2026, 2, 2, tz="Asia/Calcutta"), None,
     at(2026, 1, 30, 11, 30, tz="Asia/Calcutta")),  # a date already past stays past (then: backoff)
    ("Jan 30, 9am (UTC)", at(2026, 1, 30, 10), None, at(2026, 1, 30, 9)),  # with a date: never tomorrow
    ("May 5 at 9pm (America/New_York)", at(2026, 5, 3, 20, 54), None, at(2026, 5, 5, 21, tz="America/New_York")),
    ("May 2, 2pm (Asia/Jerusalem)", at(2026, 4, 30, 20), None, at(2026, 5, 2, 14, tz="Asia/Jerusalem")),
    ("5pm", at(2026, 11, 24, 9), "America/Detroit", at(2026, 11, 24, 17, tz="America/Detroit")),
    ("5pm (UTC)", at(2026, 11, 24, 1), "Asia/Tokyo", at(2026, 11, 24, 17)),  # the stated zone wins
    ("5pm (Mars/Olympus)", at(2026, 11, 24, 9), "Europe/Berlin", at(2026, 11, 24, 17, tz="Europe/Berlin")),
    ("5pm (Mars/Olympus)", at(2026, 11, 24, 9), None, at(2026, 11, 24, 17)),  # unknown zone: UTC
    ("5pm (PST)", at(2026, 11, 24, 9), "Nowhere/Land", at(2026, 11, 24, 17)),
    ("5pm (../../etc/passwd)", at(2026, 11, 24, 9), None, at(2026, 11, 24, 17)),
    ("13pm", at(2026, 11, 24, 9), None, None),
    ("25:00", at(2026, 11, 24, 9), None, None),
    ("in 5 hours", at(2026, 11, 24, 9), None, None),
    ("Foo 3, 5pm", at(2026, 11, 24, 9), None, None),
    (None, at(2026, 11, 24, 9), None, None),  # spend limit, 429, user pattern without `reset`
])
def test_reset_time(reset_text: str | None, first_seen: float, local_tz: str | None, expected: float | None) -> None:
    assert reset_time(notice(reset_text), first_seen, local_tz) == expected


def test_reset_time_of_the_epoch_form_is_that_epoch() -> None:
    found = find_notice(["Claude AI usage limit reached|1764000000"])
    assert found is not None
    assert reset_time(found, at(2026, 11, 24, 9)) == 1764000000.0


@pytest.mark.parametrize(("line", "first_seen", "expected"), [
    ("You've hit your limit · resets Jan 30, 11:30am (Asia/Calcutta)", at(2026, 1, 29),
     at(2026, 1, 30, 11, 30, tz="Asia/Calcutta")),
    ("  ⎿  API Error: Request rejected (429)", at(2026, 1, 29), None),
    ("You've hit your monthly spend limit · raise it at claude.ai/settings/usage", at(2026, 1, 29), None),
])
def test_from_screen_line_to_reset(line: str, first_seen: float, expected: float | None) -> None:
    found = find_notice([line])
    assert found is not None
    assert reset_time(found, first_seen) == expected


@pytest.mark.parametrize(("attempt", "delay"), [
    (0, 60), (1, 120), (2, 240), (3, 480), (4, 960), (5, 1920), (6, 3600), (7, 3600), (60, 3600), (-1, 60),
])
def test_backoff_doubles_to_an_hour(attempt: int, delay: float) -> None:
    assert backoff_delay(attempt) == delay


SEEN = at(2026, 11, 24, 14)


@pytest.mark.parametrize(("limit", "first_seen", "attempt", "now", "expected"), [
    (notice("5pm (UTC)"), SEEN, 3, at(2026, 11, 24, 15), at(2026, 11, 24, 17)),  # future reset: wait for it
    (notice("5pm (UTC)"), SEEN, 0, at(2026, 11, 24, 17, 0, 30), at(2026, 11, 24, 17, 1, 30)),  # outlasted: back off
    (notice("5pm (UTC)"), SEEN, 2, at(2026, 11, 24, 17, 0, 30), at(2026, 11, 24, 17, 4, 30)),
    (notice("5pm (UTC)"), SEEN, 0, at(2026, 11, 24, 17), at(2026, 11, 24, 17, 1)),  # reset == now: not ahead
    (notice(), SEEN, 0, SEEN, SEEN + 60),  # no time stated
    (notice(), SEEN, 1, SEEN + 60, SEEN + 180),
    (notice(), SEEN, 9, SEEN, SEEN + 3600),
    (notice(epoch=SEEN + 7200), SEEN, 0, SEEN + 10, SEEN + 7200),
    (notice(epoch=SEEN - 10), SEEN, 1, SEEN, SEEN + 120),
    # seen at 9:00, "resets 10am" still on screen at 10:00:40 ("Continuing shortly"): judged against
    # first_seen it is today 10:00, already past, so back off a minute; never tomorrow 10am
    (notice("10am"), at(2026, 11, 24, 9), 0, at(2026, 11, 24, 10, 0, 40), at(2026, 11, 24, 10, 1, 40)),
])
def test_held_until(limit: LimitNotice, first_seen: float, attempt: int, now: float, expected: float) -> None:
    assert held_until(limit, first_seen, attempt, now) == expected


def test_held_until_uses_the_local_zone_for_a_zoneless_time() -> None:
    first_seen = at(2026, 11, 24, 9, tz="Asia/Tokyo")
    expected = at(2026, 11, 24, 17, tz="Asia/Tokyo")
    assert held_until(notice("5pm"), first_seen, 0, first_seen, "Asia/Tokyo") == expected


CET_RULE = "CET-1CEST,M3.5.0,M10.5.0/3"


@pytest.mark.parametrize(("tz", "first_seen", "expected"), [
    # TZ as a zone key, with or without the leading colon
    ("Asia/Tokyo", at(2026, 11, 24, 9, tz="Asia/Tokyo"), at(2026, 11, 24, 17, tz="Asia/Tokyo")),
    (":Asia/Tokyo", at(2026, 11, 24, 9, tz="Asia/Tokyo"), at(2026, 11, 24, 17, tz="Asia/Tokyo")),
    # TZ as a path to a zone file (`:/etc/localtime` is the common one)
    (":/usr/share/zoneinfo/Asia/Tokyo", at(2026, 11, 24, 9, tz="Asia/Tokyo"), at(2026, 11, 24, 17, tz="Asia/Tokyo")),
    ("/usr/share/zoneinfo/Europe/Berlin", at(2026, 7, 1, 9, tz="Europe/Berlin"), at(2026, 7, 1, 17, tz="Europe/Berlin")),
    # TZ as a POSIX rule: the C library's local time, summer and winter
    (CET_RULE, at(2026, 7, 1, 9, tz="Europe/Berlin"), at(2026, 7, 1, 15)),
    (CET_RULE, at(2026, 1, 15, 9, tz="Europe/Berlin"), at(2026, 1, 15, 16)),
    ("JST-9", at(2026, 11, 24, 9, tz="Asia/Tokyo"), at(2026, 11, 24, 8)),
    # TZ that is no zone at all: the system's zone (this machine's /etc/localtime)
    ("UTC", at(2026, 11, 24, 9), at(2026, 11, 24, 17)),
])
def test_a_zoneless_reset_time_is_read_in_the_machines_zone_however_tz_names_it(
        tz: str, first_seen: float, expected: float, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from reconciler.timefmt import local_zone

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        assert reset_time(notice("5pm"), first_seen, local_zone()) == expected
    finally:
        monkeypatch.undo()
        time.tzset()
