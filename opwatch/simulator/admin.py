"""The admin API under `/_sim/`, a prefix no provider uses: tests, benchmarks and scripts create
operations and faults there and read statistics, while the simulator serves."""

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from opwatch.simulator.http import Request
from opwatch.simulator.providers.base import Reply

if TYPE_CHECKING:
    from opwatch.simulator.server import Simulator

PREFIX = "/_sim/"
_OK = {"ok": True}


def handle(sim: "Simulator", request: Request) -> Reply:
    """The reply to an admin request; a bad body is a 400 naming what is wrong."""
    method, path = request.method, request.path.rstrip("/")
    try:
        given = json.loads(request.body) if request.body else {}
        if (method, path) == ("POST", "/_sim/operations"):
            ref = sim.add_operation(_mapping(given))
            profile, _, op_id = ref.partition(":")
            return Reply(201, {"ref": ref, "profile": profile, "id": op_id})
        if (method, path) == ("GET", "/_sim/operations"):
            return Reply(200, [op.summary() for op in sim.operations_of()])
        if (method, path) == ("POST", "/_sim/faults"):
            sim.add_fault(_mapping(given))
            return Reply(201, _OK)
        if (method, path) == ("GET", "/_sim/faults"):
            return Reply(200, sim.faults.describe(sim.clock.monotonic()))
        if (method, path) == ("DELETE", "/_sim/faults"):
            sim.clear_faults()
            return Reply(200, _OK)
        if (method, path) == ("GET", "/_sim/stats"):
            reads = parse_qs(request.query).get("reads", ["0"])[0] not in ("0", "false", "")
            return Reply(200, sim.stats(reads=reads))
        if (method, path) == ("POST", "/_sim/stats/reset"):
            sim.reset_stats()
            return Reply(200, _OK)
        if (method, path) == ("GET", "/_sim/config"):
            return Reply(200, body=sim.config_yaml().encode(), content_type="application/yaml")
        return Reply(404, {"error": f"no admin endpoint {method} {path}"})
    except (ValueError, TypeError) as exc:
        return Reply(400, {"error": str(exc)})


def _mapping(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise ValueError("the body must be a JSON object")
    return given
