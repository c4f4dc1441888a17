"""Toloka as PROVIDERS.md describes it: one operation, its log (generated as it streams, gone
after a month), the filtered and paginated list, and Toloka's error bodies."""

import json
import math
import re
import uuid
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

from opwatch.simulator.http import Request
from opwatch.simulator.providers.base import Reply, Routed, SimProvider, Stream
from opwatch.simulator.timeline import Phase, SimOperation, fail_rate, failures_before, iso

if TYPE_CHECKING:
    from opwatch.simulator.server import Simulator

MAX_LIMIT = 300
"""The largest page `GET /api/v1/operations` gives."""
LOG_KEPT_DAYS = 30
"""Toloka keeps an operation's log for one month (PROVIDERS.md)."""
LOG_CHUNK_STEPS = 2000
"""Log steps per chunk of a streamed log."""
_OPERATION = re.compile(r"^/api/v1/operations/([^/]+)/?$")
_LOG = re.compile(r"^/api/v1/operations/([^/]+)/log/?$")
_CODES = {
    400: "VALIDATION_ERROR",
    401: "NOT_AUTHORIZED",
    403: "ACCESS_DENIED",
    404: "DOES_NOT_EXIST",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "REMOTE_SERVICE_UNAVAILABLE",
}
# Realistic validation failures, as Toloka reports them: one step can carry several fields.
_FIELD_PROBLEMS = (
    ("input_values.image", "VALUE_REQUIRED", "Value must be present and not equal to null"),
    ("input_values.url", "INVALID_URL", "Value must be a valid URL"),
    ("input_values.label", "VALUE_TOO_LONG", "String length must not exceed 100"),
    ("overlap", "INVALID_MIN_VALUE", "Value must be greater than or equal to 1"),
)
_VARIANTS = 3  # failed-step shapes: one, two or three fields
_COMPARISONS = ("gt", "gte", "lt", "lte")


class Toloka(SimProvider):
    name = "toloka"
    profile = "crowd"
    default_kind = "TASK_SUITE.BATCH_CREATE"
    routes = ("toloka", "toloka_log", "toloka_list")
    credentials: ClassVar[Mapping[str, str]] = {"toloka_token": "sim-toloka-token"}
    first_id = None  # Toloka's operation ids are UUID4 strings
    sample_kinds = ("TASK_SUITE.BATCH_CREATE", "TASK.BATCH_CREATE", "POOL.OPEN")
    extra_samples = (
        # running without progress, and one whose log is gone (older than a month)
        {"provider": "toloka", "kind": "POOL.CLOSE", "duration_s": 86400.0,
         "reports_progress": False},
        {"provider": "toloka", "items": 20, "fail_fraction": 0.5, "age_days": 40},
    )  # fmt: skip

    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        path = request.path
        if not path.startswith("/api/v1/"):
            return None
        if request.method == "GET":
            if match := _LOG.match(path):
                return self._log(sim, request, match.group(1))
            if match := _OPERATION.match(path):
                return self._operation(sim, request, match.group(1))
            if path in ("/api/v1/operations", "/api/v1/operations/"):
                reply = self._refusal(sim, request) or _list(sim, parse_qs(request.query))
                return Routed(reply, "toloka_list")
        # Any other path under Toloka's prefix: its 404, not counted as a route.
        return Routed(Reply(404, self.error(404, "Resource not found")), None)

    def _refusal(self, sim: "Simulator", request: Request) -> Reply | None:
        """401 unless the request carries the simulator's OAuth token or any API key."""
        scheme, _, token = request.header("authorization").partition(" ")
        # The official client sends ApiKey for keys shaped like one; accept any such key.
        api_key = scheme == "ApiKey" and token.count(".") == 2 and token.index(".") in (22, 23, 24)
        if (scheme == "OAuth" and token == sim.credentials["toloka_token"]) or api_key:
            return None
        return Reply(401, self.error(401, "Authorization required: a valid OAuth token"))

    def _operation(self, sim: "Simulator", request: Request, op_id: str) -> Routed:
        operation = sim.operation(self.name, op_id)
        reply = self._refusal(sim, request)
        if reply is None:
            if operation is None:
                reply = Reply(404, self.error(404, f"Operation {op_id} not found"))
            else:
                reply = Reply(200, operation.body())
        return Routed(reply, "toloka", operation.ref if operation else None)

    def _log(self, sim: "Simulator", request: Request, op_id: str) -> Routed:
        operation = sim.operation(self.name, op_id)
        reply = self._refusal(sim, request)
        if reply is None:
            if operation is None:
                reply = Reply(404, self.error(404, f"Operation {op_id} not found"))
            elif log_gone(operation):
                # The log is kept for one month; after that it is gone like an unknown id.
                reply = Reply(404, self.error(404, f"Operation log {op_id} not found"))
            else:
                reply = Reply(200, stream=_log_stream(operation))
        # Reading a log is not a poll of the operation: it counts by route, not by REF.
        return Routed(reply, "toloka_log", operation.ref if operation else None, poll=False)

    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        """`GET /api/v1/operations/{id}`."""
        kind = operation.kind
        spec = operation.spec
        batch = kind.endswith("BATCH_CREATE")
        body: dict[str, Any] = {
            "id": operation.id,
            "type": kind,
            "status": _status(operation, phase),
            # Toloka sends UTC without a zone (PROVIDERS.md).
            "submitted": iso(phase.created_at, ""),
            "parameters": {"skip_invalid_items": True} if batch else {},
        }
        if phase.started_at:
            body["started"] = iso(phase.started_at, "")
        if phase.finished_at:
            body["finished"] = iso(phase.finished_at, "")
        if spec.reports_progress:
            body["progress"] = math.floor(phase.fraction * 100)
            if batch and phase.started:
                # Counts so far; invalid items are skipped (skip_invalid_items), not failed.
                body["details"] = {
                    "total_count": spec.items,
                    "valid_count": phase.good,
                    "not_valid_count": phase.bad,
                    "success_count": phase.good,
                    "failed_count": 0,
                }
        if phase.finished and kind in ("POOL.CLONE", "TRAINING.CLONE"):
            body["details"] = {"pool_id": str(100000 + operation.serial)}
        return body

    def error(self, status: int, text: str) -> Any:
        code = _CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
        return {"request_id": str(uuid.uuid4()), "code": code, "message": text}

    def profile_yaml(self, url: str, credentials: Mapping[str, str]) -> str:
        return (
            f"  {self.profile}:\n    provider: {self.name}\n    url: {url}\n"
            f"    token: {credentials['toloka_token']}\n"
        )


TOLOKA = Toloka()


def _status(operation: SimOperation, phase: Phase) -> str:
    if not phase.started:
        return "PENDING"
    if not phase.finished:
        return "RUNNING"  # a stuck operation runs for ever
    if operation.spec.status_word:
        return operation.spec.status_word
    return "FAIL" if operation.spec.final == "failed" else "SUCCESS"


# --- the log ---


def log_gone(operation: SimOperation) -> bool:
    """Whether Toloka has already thrown this operation's log away."""
    return operation.spec.age_days > LOG_KEPT_DAYS


def log_size(operation: SimOperation, now: float | None = None) -> int:
    """Steps in the log at `now` (the clock's monotonic seconds; default: now)."""
    phase = operation.phase(now)
    spec = operation.spec
    if not operation.kind.endswith("BATCH_CREATE"):
        return 1 if phase.finished and spec.final == "failed" else 0
    total = spec.log_steps if spec.log_steps is not None else spec.items
    return total if phase.finished else math.floor(total * phase.fraction)


def log_of(operation: SimOperation, now: float | None = None) -> list[dict[str, Any]]:
    """The log at `now` as objects (for tests and small logs)."""
    text = b"".join(log_chunks(operation, log_size(operation, now)))
    steps: list[dict[str, Any]] = json.loads(text)
    return steps


def log_chunks(
    operation: SimOperation, steps: int, *, chunk_steps: int = LOG_CHUNK_STEPS, close: bool = True
) -> Iterator[bytes]:
    """The first `steps` steps of the log as pieces of one JSON array, generated as they are
    sent (a log can hold hundreds of thousands of steps). Without `close` the array is never
    closed: a truncated body."""
    kind = operation.kind
    spec = operation.spec
    if not kind.endswith("BATCH_CREATE"):
        steps_json = [] if steps == 0 else [json.dumps(_failed_step(operation))]
        yield ("[" + ",".join(steps_json) + ("]" if close else "")).encode()
        return
    total = spec.log_steps if spec.log_steps is not None else spec.items
    rate = fail_rate(spec, total)
    if kind.startswith("USER_BONUS"):
        ok_tpl = _ok_template("USER_BONUS_PERSIST", "user_bonus_id")
        bad_type = "USER_BONUS_VALIDATE"
    elif kind.startswith("TASK."):
        ok_tpl = _ok_template("TASK_CREATE", "task_id")
        bad_type = "TASK_VALIDATE"
    else:
        ok_tpl = _ok_template("TASK_SUITE_CREATE", "task_suite_id")
        bad_type = "TASK_SUITE_VALIDATE"
    bad_tpls = [_bad_template(bad_type, variant) for variant in range(_VARIANTS)]
    prefix = f"{operation.serial:08x}-0000-4000-8000-"
    pieces: list[str] = ["["]
    for index in range(steps):
        before = failures_before(index, rate)
        sep = "," if index else ""
        if failures_before(index + 1, rate) > before:
            pieces.append(sep + bad_tpls[before % len(bad_tpls)] % index)
        else:
            pieces.append(sep + ok_tpl % (index, prefix, index))
        if len(pieces) >= chunk_steps:
            yield "".join(pieces).encode()
            pieces = []
    if close:
        pieces.append("]")
    if pieces:
        yield "".join(pieces).encode()


def _log_stream(operation: SimOperation) -> Stream:
    """The log as it stands now, streamed; `half` sends half the steps (a cut-short body)."""
    size = log_size(operation)

    def stream(half: bool, close: bool) -> Iterator[bytes]:
        return log_chunks(operation, size // 2 if half else size, close=close)

    return stream


def _failed_step(operation: SimOperation) -> dict[str, Any]:
    """The one failed step of a non-batch operation, e.g. POOL_OPEN on an empty pool."""
    kind = operation.kind
    code, message = ("EMPTY_POOL", "Pool has no tasks to open")
    if not kind.startswith(("POOL.OPEN", "TRAINING.OPEN")):
        code, message = ("INTERNAL_ERROR", "Operation failed")
    return {
        "type": kind.replace(".", "_"),
        "success": False,
        "input": {"pool_id": str(100000 + operation.serial)},
        "output": {
            "code": code,
            "message": message,
            "request_id": f"{operation.serial:08x}-0000-4000-8000-000000000000",
        },
    }


def _ok_template(step_type: str, id_key: str) -> str:
    """A success step with %d (index), %s (id prefix), %012x (index) to fill in."""
    return (
        f'{{"type":"{step_type}","success":true,"input":{{"__item_idx":%d}},'
        f'"output":{{"{id_key}":"%s%012x"}}}}'
    )


def _bad_template(step_type: str, variant: int) -> str:
    """A failed validation step with %d (index) to fill in. The k-th failed step has the
    first 1 + k % 3 fields of the list: a missing image always, a bad URL and label often
    (tests/e2e count the rows each gives)."""
    problems = _FIELD_PROBLEMS[: 1 + variant % 3]
    output = {path: {"code": code, "message": text} for path, code, text in problems}
    step = {
        "type": step_type,
        "success": False,
        "input": {"__item_idx": 0, "input_values": {"url": "ftp://example"}},
        "output": output,
    }
    return json.dumps(step, separators=(",", ":")).replace('"__item_idx":0', '"__item_idx":%d')


# --- the list ---


def _list(sim: "Simulator", query: dict[str, list[str]]) -> Reply:
    """`GET /api/v1/operations`: filtered, sorted, `limit` at a time, `has_more` after."""
    first = {key: values[0] for key, values in query.items() if values}
    try:
        limit = int(first.get("limit", 50))
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        return Reply(400, _validation("limit", limit))
    filters: list[tuple[str, str, Any]] = []
    for key, value in first.items():
        name, _, op = key.rpartition("_")
        if key in ("type", "status"):
            filters.append((key, "eq", value))
        elif name in ("id", "submitted", "started", "finished") and op in _COMPARISONS:
            if name == "id":
                filters.append((name, op, value))
                continue
            moment = _parse_time(value)
            if moment is None:
                return Reply(400, _validation(key, value))
            filters.append((name, op, moment))
    sort = first.get("sort", "id")
    sort_key = sort.lstrip("-")
    if sort_key not in ("id", "submitted", "finished"):
        return Reply(400, _validation("sort", sort))
    if sort_key == "id":
        # Paging by id (the documented way) walks a sorted index from the page mark on and
        # builds only the bodies it looks at: a list of 100,000 operations pages in linear time.
        selected = _by_id(sim, filters, descending=sort.startswith("-"), wanted=limit + 1)
    else:
        bodies = [op.body() for op in sim.operations_of(TOLOKA.name)]
        selected = [b for b in bodies if all(_keep(b, *f) for f in filters)]
        selected.sort(key=lambda b: b.get(sort_key) or "", reverse=sort.startswith("-"))
    return Reply(200, {"items": selected[:limit], "has_more": len(selected) > limit})


_SORTED_IDS: "weakref.WeakKeyDictionary[Simulator, list[str]]" = weakref.WeakKeyDictionary()
"""Each simulator's Toloka ids in order, rebuilt when operations were added (none is ever
removed, and an id never changes)."""


def _by_id(
    sim: "Simulator", filters: list[tuple[str, str, Any]], *, descending: bool, wanted: int
) -> list[dict[str, Any]]:
    """Up to `wanted` bodies that pass `filters`, in id order."""
    ids = _SORTED_IDS.get(sim)
    count = len(sim.operations_of(TOLOKA.name))
    if ids is None or len(ids) != count:
        ids = sorted(op.id for op in sim.operations_of(TOLOKA.name))
        _SORTED_IDS[sim] = ids
    low, high = 0, len(ids)
    for name, op, value in filters:
        if name == "id":
            if op in ("gt", "gte"):
                low = max(low, (bisect_right if op == "gt" else bisect_left)(ids, value))
            else:
                high = min(high, (bisect_left if op == "lt" else bisect_right)(ids, value))
    rest = [f for f in filters if f[0] != "id"]
    walk = range(high - 1, low - 1, -1) if descending else range(low, high)
    found: list[dict[str, Any]] = []
    for index in walk:
        operation = sim.operation(TOLOKA.name, ids[index])
        if operation is None:
            continue
        body = operation.body()
        if all(_keep(body, *f) for f in rest):
            found.append(body)
            if len(found) >= wanted:
                break
    return found


def _keep(body: dict[str, Any], name: str, op: str, value: Any) -> bool:
    seen = body.get(name)
    if seen is None:
        return False
    if op == "eq":
        return bool(seen == value)
    if name != "id":
        seen = _parse_time(seen)
        if seen is None:
            return False
    if op == "gt":
        return bool(seen > value)
    if op == "gte":
        return bool(seen >= value)
    if op == "lt":
        return bool(seen < value)
    return bool(seen <= value)


def _parse_time(text: str) -> datetime | None:
    """A Toloka time filter: ISO 8601, UTC when it names no zone."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _validation(parameter: str, value: Any) -> dict[str, Any]:
    error: dict[str, Any] = TOLOKA.error(400, "Validation failed")
    problem = {"code": "VALUE_INVALID", "message": f"Invalid value {value!r}"}
    if parameter == "limit":
        problem = {"code": "VALUE_OUT_OF_RANGE", "message": f"Value must be from 1 to {MAX_LIMIT}"}
    error["payload"] = {parameter: problem}
    return error
