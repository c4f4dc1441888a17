"""What to simulate: `OperationSpec`, the keys a scenario file or `POST /_sim/operations`
gives for one operation, checked before anything is served. How an operation then moves is in
`timeline.py`; what each API says about it, in `providers/`."""

from dataclasses import dataclass, fields
from typing import Any

from opwatch.simulator.providers import provider_named

OUTCOMES = ("succeeded", "partial", "failed", "stuck")


@dataclass(frozen=True)
class OperationSpec:
    """What to simulate. Every field has a default; YAML scenarios and the admin endpoint give
    the same keys as a mapping."""

    provider: str = "toloka"
    """wesog | toloka | trafficops."""
    id: str | None = None
    """Generated when absent: increasing integers (Wesog, Traffic Ops) or UUID4 (Toloka)."""
    kind: str | None = None
    """Toloka `type`; Wesog `method resource` (`add image`); Traffic Ops `acme_renew`,
    `dnssec_refresh` or `generic` (which picks the job's messages)."""
    duration_s: float = 10.0
    """Simulated seconds from start to finish."""
    start_delay_s: float = 0.0
    """Simulated seconds pending before it runs; negative means it started that long ago."""
    age_s: float = 0.0
    """Created this many simulated seconds before its clock started (already under way or done)."""
    items: int = 100
    fail_fraction: float = 0.0
    """Share of the items that fail, spread evenly across them (0..1)."""
    outcome: str | None = None
    """succeeded | partial | failed | stuck; default from fail_fraction (0, between, 1)."""
    reports_progress: bool = True
    """False: Toloka leaves out `progress` and the counts in `details`."""
    status_word: str | None = None
    """Replaces the provider's final status word: an unknown status for opwatch to tolerate
    (Toloka and Traffic Ops; Wesog has no status word)."""
    log_steps: int | None = None
    """Toloka: steps in the operation log (default: one per item)."""
    age_days: float = 0.0
    """Toloka: a log older than 30 days is gone (404); the operation is that old, finished."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OperationSpec":
        """Build from YAML/JSON, with a ValueError naming any unknown or bad key."""
        if not isinstance(data, dict):
            raise ValueError("an operation must be a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(
                f"unknown operation key(s): {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        spec = cls(**{key: _coerce(key, value) for key, value in data.items()})
        spec.validate()
        return spec

    def validate(self) -> None:
        """Raise ValueError when the spec cannot be simulated."""
        provider = provider_named(self.provider)
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")
        if not 0.0 <= float(self.fail_fraction) <= 1.0:
            raise ValueError("fail_fraction must be between 0 and 1")
        if not float(self.duration_s) > 0:
            raise ValueError("duration_s must be positive")
        if int(self.items) < 0 or (self.log_steps is not None and int(self.log_steps) < 0):
            raise ValueError("items and log_steps must not be negative")
        if float(self.age_s) < 0 or float(self.age_days) < 0:
            raise ValueError("age_s and age_days must not be negative")
        provider.check(self)

    @property
    def final(self) -> str:
        """The outcome, explicit or implied by fail_fraction."""
        if self.outcome:
            return self.outcome
        if self.fail_fraction <= 0:
            return "succeeded"
        return "failed" if self.fail_fraction >= 1 else "partial"


_NUMBERS = {"duration_s": float, "start_delay_s": float, "age_s": float, "fail_fraction": float,
            "age_days": float, "items": int, "log_steps": int}  # fmt: skip
_TEXTS = ("provider", "kind", "outcome", "status_word")


def _coerce(key: str, value: Any) -> Any:
    """One spec value from YAML/JSON, checked for its type."""
    if value is None and key in ("id", "kind", "outcome", "status_word", "log_steps"):
        return None
    if key in _NUMBERS:
        kind = _NUMBERS[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key} must be a number, not {value!r}")
        if kind is int and value != int(value):
            raise ValueError(f"{key} must be a whole number, not {value!r}")
        return kind(value)
    if key == "reports_progress":
        if not isinstance(value, bool):
            raise ValueError(f"reports_progress must be true or false, not {value!r}")
        return value
    if key == "id":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"id must be a string or an integer, not {value!r}")
        return str(value)
    if key in _TEXTS and not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {value!r}")
    return value
