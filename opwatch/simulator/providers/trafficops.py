"""Traffic Ops as PROVIDERS.md describes it: API versions (501 for the others), cookie and
token logins, sessions that expire on the simulator's clock and refresh on use, async job
bodies whose message changes as they go, and the 202 of a job start."""

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from opwatch.simulator.http import Request
from opwatch.simulator.providers.base import Reply, Routed, SimProvider, is_digits
from opwatch.simulator.timeline import Phase, SimOperation, iso

if TYPE_CHECKING:
    from opwatch.simulator.operations import OperationSpec
    from opwatch.simulator.server import Simulator

VERSIONS = ("4.0", "4.1", "5.0")
"""The API versions served unless `Simulator(to_versions=…)` says otherwise."""
KINDS = ("acme_renew", "dnssec_refresh", "generic")
"""Which job's messages an operation shows."""
_PATH = re.compile(r"^/api/(\d+\.\d+)/(.+?)/?$")
_STATUS = re.compile(r"^async_status/([^/]+)$")
# Routes that start a job: (method, path) → (kind, the alert's opening words).
_STARTERS = {
    ("POST", "acme_autorenew"): ("acme_renew", "Beginning async ACME renewal of certificates."),
    ("POST", "deliveryservices/sslkeys/generate/acme"): (
        "acme_renew",
        "Beginning async call to generate ACME certificates.",
    ),
    ("PUT", "cdns/dnsseckeys/refresh"): (
        "dnssec_refresh",
        "Starting DNSSEC key refresh in the background.",
    ),
}


class TrafficOps(SimProvider):
    name = "trafficops"
    profile = "cdn"
    default_kind = "generic"
    routes = ("trafficops", "login")
    login_routes = ("login",)
    credentials: ClassVar[Mapping[str, str]] = {
        "to_user": "admin",
        "to_password": "sim-password",
        "to_token": "sim-to-token",
    }
    first_id = 1
    sample_kinds = ("acme_renew", "dnssec_refresh", "dnssec_refresh")

    def check(self, spec: "OperationSpec") -> None:
        super().check(spec)
        if spec.kind is not None and spec.kind not in KINDS:
            raise ValueError(f"a Traffic Ops kind must be one of {', '.join(KINDS)}")

    def handle(self, sim: "Simulator", request: Request) -> Routed | None:
        match = _PATH.match(request.path)
        if match is None:
            return None
        version, rest = match.groups()
        method = request.method
        login = method == "POST" and rest in ("user/login", "user/login/token")
        route = "login" if login else "trafficops"
        status_match = _STATUS.match(rest) if method == "GET" else None
        raw_id = status_match.group(1) if status_match else None
        numeric = raw_id is not None and is_digits(raw_id)
        operation = sim.operation(self.name, str(int(raw_id))) if raw_id and numeric else None
        if version not in sim.to_versions:
            reply = Reply(501, self.error(501, f"API version {version} not implemented"))
        elif login:
            reply = self._login(sim, rest, request.body)
        elif not sim.session_valid(*_session_credentials(request)):
            reply = Reply(401, self.error(401, "unauthorized, please log in."))
        elif (method, rest) in _STARTERS:
            reply = self._start_job(sim, *_STARTERS[(method, rest)])
        elif raw_id is None:
            reply = Reply(404, self.error(404, "Not Found"))
        elif not numeric:
            reply = Reply(400, self.error(400, f"id must be an integer, not '{raw_id[:40]}'"))
        elif operation is None:  # id 0, "already running", reads as 404 too
            reply = Reply(404, self.error(404, "Not Found"))
        else:
            reply = Reply(200, operation.body(), headers=_refreshed_cookie(sim, request))
        return Routed(reply, route, operation.ref if operation else None)

    def _login(self, sim: "Simulator", rest: str, body: bytes) -> Reply:
        try:
            given = json.loads(body or b"{}")
        except ValueError:
            return Reply(400, self.error(400, "invalid request body: not JSON"))
        if not isinstance(given, dict):
            return Reply(400, self.error(400, "invalid request body: not an object"))
        creds = sim.credentials
        if rest == "user/login":
            ok = (given.get("u"), given.get("p")) == (creds["to_user"], creds["to_password"])
        else:
            ok = given.get("t") == creds["to_token"]
        if not ok:
            return Reply(401, self.error(401, "Invalid username or password."))
        cookie, token = sim.new_session()
        age = _cookie_max_age(sim)
        return Reply(
            200,
            {"alerts": [{"text": "Successfully logged in.", "level": "success"}]},
            headers=(
                ("Set-Cookie", f"mojolicious={cookie}; Path=/; HttpOnly; Max-Age={age}"),
                ("Set-Cookie", f"access_token={token}; Path=/; HttpOnly; Max-Age={age}"),
            ),
        )

    def _start_job(self, sim: "Simulator", kind: str, opening: str) -> Reply:
        ref = sim.add_operation({"provider": self.name, "kind": kind})
        # Traffic Ops points at the 4.0 status route whatever version started the job.
        location = f"/api/4.0/async_status/{ref.partition(':')[2]}"
        text = f"{opening} Status updates can be found here: {location}"
        return Reply(
            202, {"alerts": [{"text": text, "level": "success"}]}, headers=(("Location", location),)
        )

    def body(self, operation: SimOperation, phase: Phase) -> dict[str, Any]:
        """`GET /api/{version}/async_status/{id}`."""
        spec = operation.spec
        job: dict[str, Any] = {
            "id": int(operation.id),
            "status": "PENDING",  # jobs start at once; PENDING is what running looks like
            "start_time": iso(phase.started_at or phase.created_at, "Z", micro=True),
            "message": _message(operation.kind, spec.final, phase),
        }
        if phase.finished:
            job["status"] = spec.status_word or (
                "FAILED" if spec.final == "failed" else "SUCCEEDED"
            )
            # end_time is left out while the job runs (the docs show null; servers omit it).
            job["end_time"] = iso(phase.finished_at, "Z", micro=True)
        return {"response": job}

    def error(self, status: int, text: str) -> Any:
        return {"alerts": [{"text": text, "level": "error"}]}

    def profile_yaml(self, url: str, credentials: Mapping[str, str]) -> str:
        return (
            f"  {self.profile}:\n    provider: {self.name}\n    url: {url}\n"
            f"    username: {credentials['to_user']}\n    password: {credentials['to_password']}\n"
        )


TRAFFICOPS = TrafficOps()


def _session_credentials(request: Request) -> tuple[str | None, str | None]:
    """The mojolicious cookie and the access token (cookie or Bearer) of the request."""
    cookie = token = None
    for part in request.header("cookie").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "mojolicious":
            cookie = value
        elif name == "access_token":
            token = value
    bearer = request.header("authorization")
    if bearer.startswith("Bearer "):
        token = bearer[7:].strip()
    return cookie, token


def _refreshed_cookie(sim: "Simulator", request: Request) -> tuple[tuple[str, str], ...]:
    """Each authenticated request renews the mojolicious cookie, its Max-Age counting again;
    clients that keep cookies keep the session as long as they use it."""
    cookie, _ = _session_credentials(request)
    if cookie is None or not sim.has_session(cookie):
        return ()
    age = _cookie_max_age(sim)
    return (("Set-Cookie", f"mojolicious={cookie}; Path=/; HttpOnly; Max-Age={age}"),)


def _cookie_max_age(sim: "Simulator") -> int:
    """The session TTL in the clock's seconds, for Set-Cookie. One second more than the TTL:
    cookie jars round expiry down to whole seconds, and the server's clock should decide when
    a session ends (a 401), not the client's jar."""
    return math.ceil(sim.session_ttl_s / sim.speed) + 1


def _message(kind: str, final: str, phase: Phase) -> str:
    """Traffic Ops' free-text message, overwritten as the job goes."""
    good, bad = phase.good, phase.bad
    if kind == "dnssec_refresh":
        if not phase.finished:
            return "DNSSEC refresh in progress"
        if bad:
            return f"DNSSEC refresh failed (updated {good} keys, but {bad} errors occurred)"
        return "Successfully refreshed DNSSEC keys"
    if kind == "acme_renew":
        if not phase.started or (phase.done == 0 and not phase.finished):
            return "Async job has started."
        verb = "complete" if phase.finished else "in progress"
        return f"ACME renewal {verb}. {good} certs renewed, {bad} errors."
    if not phase.finished:
        return "Async job has started."
    if final == "failed":
        return "Job failed."
    return f"Job completed with {bad} errors." if bad else "Job completed."
