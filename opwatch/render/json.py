"""The JSON objects of SPEC.md: operations, failed reads and error rows, one per line."""

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opwatch.model import Operation, OperationError, OpRef, Reading

if TYPE_CHECKING:
    from opwatch.explain import Group, Listing
    from opwatch.watch import Event, WatchResult


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, to the millisecond; None stays None."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def operation_record(ref: OpRef, operation: Operation, now: datetime) -> dict[str, Any]:
    """The operation object of SPEC.md for one read of `ref`."""
    progress = operation.progress
    queued, elapsed = operation.durations(now)
    return {
        "ref": str(ref),
        "profile": ref.profile,
        "provider": operation.provider,
        "id": operation.id,
        "kind": operation.kind,
        "state": operation.state.value,
        "terminal": operation.terminal,
        "provider_status": operation.provider_status,
        "progress": {
            "percent": progress.percent,
            "done": progress.done,
            "total": progress.total,
            "good": progress.good,
            "bad": progress.bad,
        },
        "error_count": operation.error_count,
        "message": operation.message,
        "submitted_at": iso(operation.submitted_at),
        "started_at": iso(operation.started_at),
        "finished_at": iso(operation.finished_at),
        "queued_s": _seconds(queued),
        "elapsed_s": _seconds(elapsed),
        "error": None,
        "raw": operation.raw,
    }


def reading_record(reading: Reading, now: datetime) -> dict[str, Any]:
    """The operation object when there is one, with `error` set when the last read failed;
    else a record of the failed read with the same identifying keys."""
    error = None
    if reading.error is not None:
        error = {"exit_code": int(reading.error.exit_code), "message": reading.error.message}
    if reading.operation is not None:
        record = operation_record(reading.ref, reading.operation, now)
        record["error"] = error
        return record
    return {
        "ref": str(reading.ref),
        "profile": reading.ref.profile,
        "provider": reading.provider,
        "id": reading.ref.id,
        "state": None,
        "terminal": None,
        "error": error,
    }


def error_record(ref: OpRef, error: OperationError) -> dict[str, Any]:
    """The error object of SPEC.md (list-errors)."""
    return {
        "ref": str(ref),
        "provider": error.provider,
        "id": error.id,
        "item": error.item,
        "code": error.code,
        "field": error.field,
        "step": error.step,
        "message": error.message,
    }


def group_record(listing: "Listing", group: "Group") -> dict[str, Any]:
    """`list-errors --group -o json`: identical errors of one operation folded into one object
    with a count and the first few items that had them."""
    return {
        "ref": str(listing.ref),
        "provider": listing.provider,
        "id": listing.ref.id,
        "count": group.count,
        "code": group.code,
        "field": group.field,
        "message": group.message,
        "items": list(group.items),
    }


def event_record(event: "Event") -> dict[str, Any]:
    """One `-o events` line: what happened, when, and the operation as it stands."""
    record: dict[str, Any] = {
        "event": event.kind.value,
        "at": iso(event.at),
        "operation": reading_record(event.snapshot.reading, event.at),
    }
    if event.error is not None:
        record["error"] = {"exit_code": int(event.error.exit_code), "message": event.error.message}
    if event.delay_s is not None:
        record["retry_in_s"] = round(event.delay_s, 3)
    return record


def summary_record(result: "WatchResult", now: datetime) -> dict[str, Any]:
    """The closing `-o events` line: the exit code and how many operations ended with each
    outcome (opwatch.watch.outcome: a state, `error` or `unread`)."""
    counts: dict[str, int] = {}
    for item in result.snapshots:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    return {
        "event": "summary",
        "at": iso(now),
        "exit_code": int(result.code),
        "timed_out": result.timed_out,
        "counts": counts,
        "operations": len(result.snapshots),
    }


def line(record: dict[str, Any]) -> str:
    """One JSON Lines line, without the newline: strict JSON, which jq can read."""
    try:
        return _dumps(record)
    except ValueError:  # NaN or Infinity somewhere, e.g. in a provider's raw body
        return _dumps(_finite(record))


def _dumps(record: Any) -> str:
    return json.dumps(
        record, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
