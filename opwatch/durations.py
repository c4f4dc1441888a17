"""Durations as people write them: `90s`, `15m`, `2h`, `500ms`, `1h30m`, or plain seconds."""

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Return seconds for `text`; raise ValueError with a readable reason when it is not one."""
    cleaned = text.strip().lower()
    try:
        seconds = float(cleaned)
    except ValueError:
        pass
    else:
        if seconds < 0 or seconds != seconds or seconds == float("inf"):
            raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 15m, 2h)")
        return seconds
    parts = _PART.findall(cleaned)
    if not parts or "".join(number + unit for number, unit in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 15m, 2h)")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: float | None) -> str:
    """A short human form: `850ms`, `42s`, `3m05s`, `2h14m`; an empty string for None."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
