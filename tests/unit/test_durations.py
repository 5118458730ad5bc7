"""parse_duration / format_duration: the manifest's durations (90s, 15m, 2h, 1d, 1h30m)."""

from __future__ import annotations

import pytest

from reconciler.manifest.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("1s", 1),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d2h3m4s", 86400 + 7200 + 180 + 4),
        ("30m1h", 5400),  # units in any order add up
        ("01m", 60),
        ("  5m ", 300),  # surrounding blanks are ignored
        ("0m1s", 1),
        ("100d", 8_640_000),
    ],
)
def test_parse_duration(text: str, seconds: int):
    result = parse_duration(text)
    assert result == seconds
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "text",
    ["15 minutes", "-5m", "5", "", " ", "m", "1.5h", "5M", "1H", "1h 30m", "5ms", "1w", "5 m",
     "five minutes", "+5m", "5m-", "PT5M", "1e3s"],
)
def test_parse_duration_rejects(text: str):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f"{text!r} is not a duration (use 90s, 15m, 2h, 1d)"


@pytest.mark.parametrize("value", [5, 5.0, None, ["5m"]])
def test_parse_duration_rejects_non_text(value):
    with pytest.raises(ValueError, match=r"is not a duration \(use 90s, 15m, 2h, 1d\)"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["0s", "0m", "0d0h", "00s"])
def test_parse_duration_minimum_is_one_second(text: str):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f"{text!r} is shorter than the minimum of 1s"


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (-5, "0s"),  # never negative
        (1, "1s"),
        (45, "45s"),
        (59.4, "59s"),  # rounded
        (59.6, "1m"),
        (60, "1m"),
        (90, "1m30s"),
        (720, "12m"),
        (3599, "59m59s"),
        (3600, "1h"),
        (3660, "1h01m"),
        (3 * 3600 + 5 * 60, "3h05m"),
        (3 * 3600 + 5 * 60 + 59, "3h05m"),  # seconds dropped above an hour
        (86399, "23h59m"),
        (86400, "1d"),
        (2 * 86400, "2d"),
        (2 * 86400 + 3 * 3600, "2d03h"),
        (2 * 86400 + 3 * 3600 + 59 * 60, "2d03h"),  # minutes dropped above a day
        (400 * 86400, "400d"),
    ],
)
def test_format_duration(seconds: float, text: str):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [1, 59, 60, 61, 90, 900, 3600, 3660, 5400, 86400, 90000, 172800])
def test_format_duration_output_parses_back(seconds: int):
    # whole minutes above an hour and whole hours above a day survive the round trip exactly
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["366d", "99999999d", "365d1s", "9999999999h", "8761h"])
def test_parse_duration_refuses_more_than_a_year(text: str):
    with pytest.raises(ValueError, match=f"'{text}' is longer than the maximum of 365d"):
        parse_duration(text)


def test_a_year_is_the_longest_duration():
    assert parse_duration("365d") == 365 * 86400


@pytest.mark.parametrize("text", ["366d", "8761h", "99999999.5d", "1e9s"])
def test_checkin_in_refuses_more_than_a_year(text: str):
    from reconciler.errors import UserError
    from reconciler.scheduling import parse_delay

    with pytest.raises(UserError):
        parse_delay(text)
