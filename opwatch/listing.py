"""What `opwatch list` asks a provider for: the filters as one frozen query, read from the
command line, and the one test every listed operation passes whatever the provider filtered.

Providers send what filters their list API has (Toloka: status, type, submitted_gte) and may
ignore the rest; `ListQuery.matches` then applies every filter to the parsed operations, so the
answer is the same for every provider, and a provider status that maps to two states (Toloka's
SUCCESS: succeeded or partial) is told apart after parsing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opwatch.durations import parse_duration
from opwatch.errors import UsageError
from opwatch.model import Operation, State

STATE_GROUPS: dict[str, frozenset[State]] = {
    **{state.value: frozenset({state}) for state in State},
    "terminal": frozenset(state for state in State if state.terminal),
    "active": frozenset({State.PENDING, State.RUNNING}),
}
"""The words `--state` takes: each state, `terminal` (succeeded, partial, failed) and `active`
(pending, running)."""


@dataclass(frozen=True)
class ListQuery:
    """Which operations to list; every filter None means any."""

    states: frozenset[State] | None = None
    """The states wanted."""
    kind: str | None = None
    """The operation's kind (Toloka's type, Wesog's `method resource`), compared without case."""
    since: datetime | None = None
    """Submitted at or after this moment (UTC)."""
    limit: int | None = None
    """At most this many operations."""

    def matches(self, operation: Operation) -> bool:
        """Whether `operation` passes every filter. An operation whose submission time or kind
        the provider does not say fails a filter on it: opwatch cannot tell it belongs."""
        if self.states is not None and operation.state not in self.states:
            return False
        if self.kind is not None and (operation.kind or "").casefold() != self.kind.casefold():
            return False
        return self.since is None or (
            operation.submitted_at is not None and operation.submitted_at >= self.since
        )


def parse_states(words: Iterable[str]) -> frozenset[State] | None:
    """The states of `--state` words (repeated or comma-separated); None when none is given."""
    states: set[State] = set()
    for word in (part.strip().lower() for text in words for part in text.split(",")):
        if not word:
            continue
        if word not in STATE_GROUPS:
            raise UsageError(f"unknown state {word!r} (choose from {', '.join(STATE_GROUPS)})")
        states |= STATE_GROUPS[word]
    return frozenset(states) if states else None


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: a duration back from `now` (`2h`, `3d`) or an ISO 8601 date or time (UTC
    when it names no zone)."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a duration (2h, 3d) nor a date (2026-11-20T08:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
