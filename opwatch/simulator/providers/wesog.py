"""Wesog as PROVIDERS.md describes it: `GET /ops/{id}` and `GET /ops` with the `API-Key`
header, FastAPI-shaped errors, counts, flags and the failed items of each operation."""

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from opwatch.simulator.http import Request
from opwatch.simulator.providers.base import Reply, Routed, SimProvider, Stream, is_digits
from opwatch.simulator.timeline import (
    Phase,
    SimOperation,
    dumps,
    fail_rate,
    failing_indices,
    iso,
    milliseconds,
)

if TYPE_CHECKING:
    from opwatch.simulator.server import Simulator

_OPERATION = re.compile(r"^/ops/([^/]+)/?$")
LIST_CHUNK_OPERATIONS = 200
"""Operations per chunk of a streamed `GET /ops`."""
_REASONS = ("Image too small", "Unsupported format", "Download failed", "Duplicate")


class Wesog(SimProvider):
    name = "wesog"
    profile = "media"
    default_kind = "add image"
    routes = ("wesog", "wesog_list")
    credentials: ClassVar[Mapping[str, str]] = {"wesog_key": "sim-wesog-key"}
    first_id = 1001
    sample_kinds = ("add image", "upd video", "upd video")
    sample_status_word = None  # a finished Wesog operation has flags, no status word

    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        if request.method != "GET":
            return None
        if match := _OPERATION.match(request.path):
            return self._operation(sim, request, match.group(1))
        if request.path in ("/ops", "/ops/"):
            if not self._authorized(sim, request):
                return Routed(self._refusal(), "wesog_list")
            return Routed(Reply(200, stream=_list_stream(sim)), "wesog_list")
        return None

    def _operation(self, sim: "Simulator", request: Request, raw_id: str) -> Routed:
        numeric = is_digits(raw_id)
        operation = sim.operation(self.name, str(int(raw_id))) if numeric else None
        ref = operation.ref if operation else None
        if not self._authorized(sim, request):
            reply = self._refusal()
        elif not numeric:
            reply = Reply(422, _fastapi_422(raw_id))
        elif operation is None:
            reply = Reply(404, {"detail": "Operation not found"})
        else:
            reply = Reply(200, operation.body())
        return Routed(reply, "wesog", ref)

    def _authorized(self, sim: "Simulator", request: Request) -> bool:
        return request.header("api-key") == sim.credentials["wesog_key"]

    def _refusal(self) -> Reply:
        return Reply(401, {"detail": "Invalid or missing API key"})

    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        """`GET /ops/{id}`: counts, flags, timings and the failed items so far."""
        method, _, resource = operation.kind.partition(" ")
        rate = fail_rate(operation.spec, operation.spec.items)
        errors = [
            {"id": i, "msg": _REASONS[i % len(_REASONS)]} for i in failing_indices(phase.done, rate)
        ]
        return {
            "id": int(operation.id),
            "method": method,
            "resource": resource or None,
            "num_total": operation.spec.items,
            "num_good": phase.good,
            "num_bad": phase.bad,
            "is_started": phase.started,
            "is_finished": phase.finished,
            # Unknown (null) while nothing has failed yet and more may; false once one failed.
            "all_good": None if phase.bad == 0 and not phase.finished else phase.bad == 0,
            "do_wait": False,
            "do_urgent": False,
            "do_strict": False,
            "idle_ms": milliseconds(phase.created_at, phase.started_at),
            "exec_ms": milliseconds(phase.started_at, phase.finished_at),
            "created_at": iso(phase.created_at, "+00:00"),
            "started_at": iso(phase.started_at, "+00:00"),
            "finished_at": iso(phase.finished_at, "+00:00"),
            "errors": errors,
        }

    def error(self, status: int, text: str) -> Any:
        return {"detail": text}

    def profile_yaml(self, url: str, credentials: Mapping[str, str]) -> str:
        return (
            f"  {self.profile}:\n    provider: {self.name}\n    url: {url}\n"
            f"    api_key: {credentials['wesog_key']}\n"
        )


def _list_stream(sim: "Simulator") -> Stream:
    """`GET /ops`: one JSON array of every operation, generated as it is sent (a tenant can
    have 100,000); `half` sends half of them, and without `close` the array never ends."""
    operations = sim.operations_of(WESOG.name)

    def stream(half: bool, close: bool) -> Iterator[bytes]:
        chosen = operations[: len(operations) // 2] if half else operations
        pieces = ["["]
        for index, operation in enumerate(chosen):
            pieces.append(("," if index else "") + dumps(operation.body()).decode())
            if len(pieces) >= LIST_CHUNK_OPERATIONS:
                yield "".join(pieces).encode()
                pieces = []
        if close:
            pieces.append("]")
        yield "".join(pieces).encode()

    return stream


def _fastapi_422(raw_id: str) -> dict[str, Any]:
    """FastAPI's validation error for a path parameter that is not an integer."""
    return {
        "detail": [
            {
                "loc": ["path", "op_id"],
                "msg": "value is not a valid integer",
                "type": "type_error.integer",
                "input": raw_id,
            }
        ]
    }


WESOG = Wesog()
