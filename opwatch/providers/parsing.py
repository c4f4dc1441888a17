"""The reading idioms every provider's parser shares: fields that may be missing, null or of the
wrong type become None (unknown), never a crash or a made-up 0.

Pure functions over decoded JSON, with nothing of HTTP: a provider module's parser and its tests
use them without loading a client.
"""

import functools
import re
from datetime import UTC, datetime
from typing import Any

from opwatch.errors import ProviderError

TIMESTAMPS_KEPT = 32_768
"""Parsed times remembered: a watched operation sends the same start time on every read."""
_FRACTION = re.compile(r"\.(\d+)")
_SHORT_OFFSET = re.compile(r"([+-]\d\d)$")


def expect_object(payload: Any, label: str) -> dict[str, Any]:
    """`payload` when it is a JSON object, else a ProviderError naming what came instead."""
    if not isinstance(payload, dict):
        raise ProviderError(
            f"{label} answered a body opwatch cannot read: expected an operation object, "
            f"got {type(payload).__name__}"
        )
    return payload


def as_object(value: Any) -> dict[str, Any]:
    """A nested JSON object, or an empty one for anything else: `details` may be absent."""
    return value if isinstance(value, dict) else {}


def as_int(value: object) -> int | None:
    """An integer count, or None for anything else (bool, null, a string of words)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_text(value: object) -> str | None:
    """A string field, or None when the provider sent something else."""
    return value if isinstance(value, str) else None


def as_id(value: object, asked: str | None) -> str:
    """The operation id a body names (a string or a number), else the id that was asked for."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    return str(asked)


def done_count(good: int | None, bad: int | None) -> int | None:
    """Items processed, good or bad: known only when both counts are."""
    return good + bad if good is not None and bad is not None else None


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an ISO 8601 string; None when absent or unreadable.

    Strings without a zone are UTC: Toloka documents its times as UTC and sends no offset.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    return _parse_iso(value)


@functools.lru_cache(maxsize=TIMESTAMPS_KEPT)
def _parse_iso(value: str) -> datetime | None:
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _SHORT_OFFSET.sub(r"\1:00", text)  # `+00`, as PostgreSQL prints it
    # fromisoformat wants 3 or 6 fraction digits before 3.12; pad or cut to 6.
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
