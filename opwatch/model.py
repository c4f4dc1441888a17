"""The normalized operation and error objects every provider is read into, and the exit code
one REF's reading calls for.

Numbers a provider does not give stay ``None`` (``null`` in JSON), never a made-up 0.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from opwatch.exitcodes import ExitCode

if TYPE_CHECKING:
    from opwatch.errors import OpwatchError


class State(StrEnum):
    """Where an operation stands, the same words for every provider."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    """Finished, but some items failed."""
    FAILED = "failed"
    UNKNOWN = "unknown"
    """A provider status opwatch does not know: a warning, never a crash."""

    @property
    def terminal(self) -> bool:
        """True when the operation will not change any more."""
        return self in (State.SUCCEEDED, State.PARTIAL, State.FAILED)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an operation has come; every field is None when the provider does not say."""

    percent: float | None = None
    """0 to 100."""
    done: int | None = None
    """Items processed so far, good or bad."""
    total: int | None = None
    """Items in the operation."""
    good: int | None = None
    """Items processed successfully."""
    bad: int | None = None
    """Items that failed."""

    @property
    def percent_done(self) -> float | None:
        """The percent reported, else done of total as a percent, else None."""
        if self.percent is not None:
            return self.percent
        if self.done is not None and self.total:
            return 100.0 * self.done / self.total
        return None


@dataclass(frozen=True, slots=True)
class OpRef:
    """One operation named on the command line: which profile, which id."""

    profile: str
    """The profile's name in the config."""
    id: str
    """The provider's operation id, normalized (a Traffic Ops Location path becomes its number)."""

    def __str__(self) -> str:
        return f"{self.profile}:{self.id}"


@dataclass(frozen=True, slots=True)
class Operation:
    """One read of an operation, normalized from a provider's response."""

    provider: str
    """`wesog`, `toloka` or `trafficops`."""
    id: str
    """The provider's operation id."""
    state: State
    """The normalized state."""
    provider_status: str | None
    """The provider's own status word, as received."""
    kind: str | None = None
    """What the operation does, in the provider's words (`TASK_SUITE.BATCH_CREATE`, `add image`)."""
    progress: Progress = field(default_factory=Progress)
    """Counts and percent, where the provider reports them."""
    error_count: int | None = None
    """How many items failed, where known."""
    message: str | None = None
    """The provider's free-text detail (Traffic Ops), else None."""
    submitted_at: datetime | None = None
    """When the operation was created (timezone-aware, UTC)."""
    started_at: datetime | None = None
    """When it started running."""
    finished_at: datetime | None = None
    """When it ended."""
    queued_s: float | None = None
    """Seconds from submission to start, when the provider reports it directly."""
    elapsed_s: float | None = None
    """Seconds from start to end, when the provider reports it directly."""
    raw: Any = field(default=None, compare=False)
    """The provider's response body, as received."""

    @property
    def terminal(self) -> bool:
        """True when the operation will not change any more."""
        return self.state.terminal

    def durations(self, now: datetime) -> tuple[float | None, float | None]:
        """Seconds queued and seconds running, measured up to `now` while still under way."""
        queued = self.queued_s
        if queued is None and self.submitted_at is not None:
            end = self.started_at or (None if self.terminal else now)
            if end is not None:
                queued = max(0.0, (end - self.submitted_at).total_seconds())
        elapsed = self.elapsed_s
        if elapsed is None and self.started_at is not None:
            end = self.finished_at or (None if self.terminal else now)
            if end is not None:
                elapsed = max(0.0, (end - self.started_at).total_seconds())
        return queued, elapsed


@dataclass(frozen=True, slots=True)
class OperationError:
    """One failed item of an operation, as `list-errors` shows it."""

    provider: str
    """`wesog`, `toloka` or `trafficops`."""
    id: str
    """The operation's id."""
    item: str | None = None
    """Which submitted item failed (an index or an element id), where the provider says."""
    code: str | None = None
    """The provider's error code (`VALUE_REQUIRED`)."""
    field: str | None = None
    """The field path the error is about (`input_values.image`)."""
    step: str | None = None
    """The provider's step name (`TASK_VALIDATE`)."""
    message: str | None = None
    """The provider's explanation."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What opwatch knows of one REF: the last operation read, or why it could not be read."""

    ref: OpRef
    """The operation asked for."""
    provider: str
    """The provider of the REF's profile."""
    operation: Operation | None = None
    """The last successful read, if any."""
    error: "OpwatchError | None" = None
    """Why the last read (or the whole watch of this REF) failed, if it did."""


def reading_code(reading: Reading, *, judge_state: bool, allow_partial: bool = False) -> ExitCode:
    """The code one REF calls for.

    A read that failed speaks first. With `judge_state` (wait, or status --exit-status) a failed
    operation is 3, a partial one 3 unless allowed, and one not yet terminal 4.
    """
    if reading.error is not None:
        return reading.error.exit_code
    if not judge_state or reading.operation is None:
        return ExitCode.OK
    state = reading.operation.state
    if state is State.FAILED or (state is State.PARTIAL and not allow_partial):
        return ExitCode.FAILED
    if not state.terminal:
        return ExitCode.TIMEOUT
    return ExitCode.OK
