"""Every string format we accept is really checked, with or without jsonschema's optional packages."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localace.apis.spec import STRING_FORMATS
from localace.string_formats import FORMAT_CHECKER, is_date_time, is_time

# The formats the README promises for --schema, plus those API schemas may use.
PROMISED = STRING_FORMATS | {"ipv6", "hostname"}


def test_every_promised_format_has_a_checker():
    # A clean install lacked date-time, uri and hostname checkers: the formats were silently not checked.
    assert PROMISED <= set(FORMAT_CHECKER.checkers)


@pytest.mark.parametrize(("fmt", "good", "bad"), [
    ("date-time", "2025-06-01T10:00:00Z", "yesterday at ten"),
    ("date-time", "2024-02-29T23:59:59.5+02:00", "2025-02-29T10:00:00Z"),
    ("time", "10:30:00Z", "25:99"),
    ("time", "23:59:60-05:00", "10:30"),
    ("uri", "https://example.com/a?b=c", "not a uri"),
    ("hostname", "api.example.com", "bad_host!"),
    ("date", "2025-06-01", "2025-13-01"),
    ("email", "a@b.co", "no-at-sign"),
])
def test_formats_accept_and_reject(fmt, good, bad):
    assert FORMAT_CHECKER.conforms(good, fmt)
    assert not FORMAT_CHECKER.conforms(bad, fmt)


@given(st.datetimes(timezones=st.timezones()))
def test_python_isoformat_date_times_are_accepted(moment):
    if moment.utcoffset() is not None and moment.utcoffset().seconds % 60 == 0:
        text = moment.isoformat()
        assert is_date_time(text)
        assert is_time(text.split("T")[1])


@given(st.text(max_size=30))
def test_checkers_never_raise(text):
    for fmt in PROMISED:
        FORMAT_CHECKER.conforms(text, fmt)
