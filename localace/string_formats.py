"""One JSON Schema format checker for the whole engine, the same whatever optional packages are installed.

jsonschema checks "date-time", "time", "uri" and "hostname" only when optional packages happen to be
installed (rfc3339-validator, rfc3986-validator, fqdn). A clean install has none of them, so those formats
were silently not checked there while they were on a development machine. Ours are always registered."""

from __future__ import annotations

import datetime
import re

from jsonschema import Draft202012Validator, FormatChecker

_OFFSET = r"(?:[Zz]|[+-](?P<oh>\d{2}):(?P<om>\d{2}))"
_TIME = r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.\d+)?" + _OFFSET
_TIME_RE = re.compile(_TIME)
_DATE_TIME_RE = re.compile(r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt ]" + _TIME)
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\.?$){_LABEL}(?:\.{_LABEL})*\.?")


def _clock_ok(match: re.Match[str]) -> bool:
    hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"])
    offset_ok = match["oh"] is None or (int(match["oh"]) < 24 and int(match["om"]) < 60)
    return hour < 24 and minute < 60 and second <= 60 and offset_ok  # second 60: a leap second


def is_time(value: object) -> bool:
    """RFC 3339 full-time, e.g. 10:30:00Z or 23:59:59.5+02:00."""
    if not isinstance(value, str):
        return True  # formats only constrain strings
    match = _TIME_RE.fullmatch(value)
    return match is not None and _clock_ok(match)


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time, e.g. 2025-06-01T10:00:00Z."""
    if not isinstance(value, str):
        return True
    match = _DATE_TIME_RE.fullmatch(value)
    if match is None or not _clock_ok(match):
        return False
    try:
        datetime.date(int(match["y"]), int(match["mo"]), int(match["d"]))
    except ValueError:
        return False
    return True


def is_uri(value: object) -> bool:
    """An absolute URI: scheme, colon, then no spaces or characters URIs never contain raw."""
    return not isinstance(value, str) or (value.isascii() and _URI_RE.fullmatch(value) is not None)


def is_hostname(value: object) -> bool:
    return not isinstance(value, str) or _HOSTNAME_RE.fullmatch(value) is not None


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checkers.update(Draft202012Validator.FORMAT_CHECKER.checkers)
for _name, _check in (("date-time", is_date_time), ("time", is_time), ("uri", is_uri), ("hostname", is_hostname)):
    FORMAT_CHECKER.checks(_name)(_check)
