"""Exit codes, and the one function that turns several outcomes into one code.

The numbers are part of the product contract (SPEC.md): scripts branch on them.
"""

from collections.abc import Iterable
from enum import IntEnum

from opwatch.model import Reading, State


class ExitCode(IntEnum):
    """The process exit codes opwatch uses."""

    OK = 0
    """Every operation succeeded (status: every read worked)."""
    BUG = 1
    """An unexpected error: a bug, never used on purpose."""
    USAGE = 2
    """A bad flag or argument."""
    FAILED = 3
    """At least one operation failed (or ended partial without --allow-partial)."""
    TIMEOUT = 4
    """The deadline passed with an operation still pending or running."""
    CONFIG = 5
    """No config, bad YAML, unknown profile, missing variable."""
    AUTH = 6
    """Authentication or permission refused (401/403, failed login)."""
    UNREACHABLE = 7
    """Provider unreachable or answering garbage after the retry budget."""
    NOT_FOUND = 8
    """Operation not found (404)."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C)."""
    TERMINATED = 143
    """Terminated by SIGTERM."""


# With several operations, the first code of this list that applies wins (SPEC.md).
PRECEDENCE = (
    ExitCode.CONFIG,
    ExitCode.AUTH,
    ExitCode.NOT_FOUND,
    ExitCode.UNREACHABLE,
    ExitCode.FAILED,
    ExitCode.TIMEOUT,
)


def combine(codes: Iterable[ExitCode]) -> ExitCode:
    """Return the code that speaks for several operations: the first of PRECEDENCE present."""
    present = set(codes)
    for code in PRECEDENCE:
        if code in present:
            return code
    return ExitCode.OK


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
