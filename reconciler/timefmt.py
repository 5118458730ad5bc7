"""Times as orch shows them: ISO 8601 UTC with milliseconds in JSON, local clock time in text."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone, tzinfo


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def local(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


class _LibcLocal(tzinfo):
    """The C library's local time: honours every TZ it understands (`:/etc/localtime`, a path, a
    POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3`), summer time included."""

    def _tm(self, dt: datetime) -> time.struct_time:
        wall = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, 0, 0, -1)  # -1: libc says if DST
        return time.localtime(time.mktime(wall))

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(seconds=self._tm(dt).tm_gmtoff) if dt is not None else timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1) if dt is not None and self._tm(dt).tm_isdst > 0 else timedelta(0)

    def tzname(self, dt: datetime | None) -> str | None:
        return self._tm(dt).tm_zone if dt is not None else None

    def fromutc(self, dt: datetime) -> datetime:
        tm = time.localtime((dt.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds())
        return datetime(*tm[:6], dt.microsecond, tzinfo=self)


def local_zone() -> tzinfo:
    """This machine's zone: TZ's IANA zone where it names one, else the C library's local time
    (TZ as a path or a POSIX rule, or unset: /etc/localtime), never UTC by mistake."""
    import os
    from zoneinfo import ZoneInfo

    key = os.environ.get("TZ", "").lstrip(":")
    if key and not key.startswith("/"):
        try:
            return ZoneInfo(key)
        except (KeyError, ValueError, OSError):  # a POSIX rule, or no zone: libc reads it
            pass
    return _LibcLocal()
