"""Bugs a review found, pinned where a unit test says it best."""

from datetime import UTC, datetime

import pytest

from opwatch.providers.base import MAX_RETRY_AFTER_S, parse_retry_after

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["inf", "1e999", "-inf", "nan", "Infinity"])
def test_a_retry_after_that_is_no_number_of_seconds_is_ignored(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("1e300", MAX_RETRY_AFTER_S),
        ("Mon, 23 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_S),
        ("Sun, 01 Jan 2000 00:00:00 GMT", 0.0),
    ],
)
def test_a_retry_after_is_capped_at_one_day(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds
