"""The closing verdict of every command that judges (`wait`, `status --exit-status`): one line
per operation that did not succeed, then a summary with the exit code, for stderr.

    opwatch: cdn:17 timed out after 3.0s, still running at 42% (5/12)
    opwatch: media:1002 partial: 8 of 80 items bad
    opwatch: 1 of 3 succeeded, 1 partial, 1 timed out; exit 3

Plain strings: a CI log, a terminal and a pipe read them alike.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from opwatch.durations import format_duration
from opwatch.errors import shared_by
from opwatch.exitcodes import ExitCode
from opwatch.model import Operation, Reading, State

SHOWN = 20
"""Lines of operations at most (a screenful); past them, how many more did not succeed."""

ORDER = (
    "partial",
    "failed",
    "timed out",
    "still pending",
    "still running",
    "not waited for",
    "unknown",
    "not found",
    "refused",
    "unreachable",
    "misconfigured",
    "unreadable",
    "never read",
)
"""The summary's words, in the order it lists them."""

_ERROR_WORDS = {
    ExitCode.NOT_FOUND: "not found",
    ExitCode.AUTH: "refused",
    ExitCode.UNREACHABLE: "unreachable",
    ExitCode.CONFIG: "misconfigured",
}


@dataclass(frozen=True)
class WaitEnd:
    """How a wait ended, for the words of the verdict."""

    timed_out: bool
    timeout_s: float | None


@dataclass(frozen=True)
class Judgement:
    """One operation judged: its summary word (None when it succeeded) and its line."""

    word: str | None
    line: str | None


def judge(reading: Reading, *, wait: WaitEnd | None, allow_partial: bool) -> Judgement:
    """What the verdict says of one operation; `wait` is None for `status --exit-status`."""
    ref = str(reading.ref)
    if reading.error is not None:
        word = _ERROR_WORDS.get(reading.error.exit_code, "unreadable")
        return Judgement(word, f"{ref} {word}: {reading.error.message}")
    operation = reading.operation
    if operation is None:
        word = "not waited for" if wait is not None and not wait.timed_out else "never read"
        return Judgement(word, f"{ref} {word}")
    state = operation.state
    if state is State.SUCCEEDED or (state is State.PARTIAL and allow_partial):
        return Judgement(None, None)
    if state is State.PARTIAL:
        return Judgement("partial", f"{ref} partial{_bad(operation)}")
    if state is State.FAILED:
        message = f": {operation.message}" if operation.message else ""
        return Judgement("failed", f"{ref} failed{_bad(operation)}{message}")
    if state is State.UNKNOWN:
        line = f"{ref} unknown: status {operation.provider_status!r}, which opwatch does not know"
        if wait is not None and wait.timed_out:
            line += ", when the deadline passed"
        return Judgement("unknown", line)
    where = _where(operation)
    if wait is None:
        word = f"still {state.value}"
        return Judgement(word, f"{ref} {word}{where}")
    if wait.timed_out:
        after = f" after {format_duration(wait.timeout_s)}" if wait.timeout_s is not None else ""
        return Judgement("timed out", f"{ref} timed out{after}, still {state.value}{where}")
    return Judgement("not waited for", f"{ref} not waited for, {state.value}{where}")


def verdict(
    readings: Sequence[Reading],
    code: ExitCode,
    *,
    wait: WaitEnd | None = None,
    allow_partial: bool = False,
) -> list[str]:
    """The verdict's lines, without a prefix: the operations that did not succeed (at most
    SHOWN, then a count), then `2 of 3 succeeded, 1 failed; exit 3`."""
    lines: list[str] = []
    words: Counter[str] = Counter()
    shared: Counter[tuple[str, str]] = Counter()
    """(scope, word) of the operations stopped by one refusal or one dead origin: their error
    was said once already, with how many it stopped; here they take one line per scope."""
    succeeded = 0
    partial_allowed = 0
    for reading in readings:
        judged = judge(reading, wait=wait, allow_partial=allow_partial)
        if judged.word is None:
            succeeded += 1
            if reading.operation is not None and reading.operation.state is State.PARTIAL:
                partial_allowed += 1
            continue
        words[judged.word] += 1
        scope = shared_by(reading.error, reading.ref.profile) if reading.error else None
        if scope is not None:
            shared[(scope, judged.word)] += 1
        elif judged.line is not None and len(lines) < SHOWN:
            lines.append(judged.line)
    unhappy = sum(words.values()) - sum(shared.values())
    if unhappy > len(lines):
        lines.append(f"… and {unhappy - len(lines)} more that did not succeed")
    for (scope, word), count in shared.items():
        noun = "operation" if count == 1 else "operations"
        lines.append(f"{count} {noun} of {scope} {word}, as said above")
    summary = f"{succeeded} of {len(readings)} succeeded"
    if partial_allowed:
        summary += f" ({partial_allowed} partial, allowed)"
    for word in ORDER:
        if words[word]:
            summary += f", {words[word]} {word}"
    lines.append(f"{summary}; exit {int(code)}")
    return lines


def _bad(operation: Operation) -> str:
    """`: 8 of 80 items bad`, as far as the provider counts."""
    progress = operation.progress
    bad = progress.bad if progress.bad is not None else operation.error_count
    if bad is None:
        return ""
    total = progress.total
    if total is None and progress.good is not None:
        total = progress.good + bad
    noun = "item" if (total or bad) == 1 else "items"
    return f": {bad} of {total} {noun} bad" if total is not None else f": {bad} {noun} bad"


def _where(operation: Operation) -> str:
    """` at 42% (5/12)`, or the provider's message when that is all the progress it reports."""
    progress = operation.progress
    percent = progress.percent_done
    if percent is None:
        return f" ({operation.message})" if operation.message else ""
    counts = (
        f" ({progress.done}/{progress.total})"
        if progress.done is not None and progress.total is not None
        else ""
    )
    return f" at {percent:.0f}%{counts}"
