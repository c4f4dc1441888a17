"""Traffic Ops as PROVIDERS.md describes it: versions (501 for the others), cookie and token
logins, sessions that expire on the simulated clock and refresh on use, async job bodies whose
message changes as they go, and the 202 of a job start."""

import re

import httpx
import pytest

from opwatch.simulator import ManualClock, Simulator
from tests.simulator.conftest import LOGIN, op_id


def status(http: httpx.Client, ref: str, version: str = "5.0") -> httpx.Response:
    return http.get(f"/api/{version}/async_status/{op_id(ref)}")


def test_login_sets_two_cookies(sim: Simulator, http: httpx.Client) -> None:
    reply = http.post("/api/5.0/user/login", json=LOGIN)
    assert reply.status_code == 200
    assert reply.json() == {"alerts": [{"text": "Successfully logged in.", "level": "success"}]}
    cookies = reply.headers.get_list("Set-Cookie")
    assert sorted(c.split("=")[0] for c in cookies) == ["access_token", "mojolicious"]
    for cookie in cookies:
        assert "Path=/" in cookie
        assert "HttpOnly" in cookie
        # Six hours, and a second for jars that round down.
        assert f"Max-Age={6 * 3600 + 1}" in cookie


@pytest.mark.parametrize(
    "body", [{"u": "admin", "p": "nope"}, {"u": "root", "p": "sim-password"}, {}]
)
def test_bad_login(http: httpx.Client, body: dict[str, str]) -> None:
    reply = http.post("/api/4.0/user/login", json=body)
    assert reply.status_code == 401
    assert reply.json() == {"alerts": [{"text": "Invalid username or password.", "level": "error"}]}
    assert "set-cookie" not in reply.headers


def test_token_login_and_bearer(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "trafficops"})
    assert http.post("/api/5.0/user/login/token", json={"t": "wrong"}).status_code == 401
    reply = http.post("/api/5.0/user/login/token", json={"t": "sim-to-token"})
    assert reply.status_code == 200
    token = reply.cookies["access_token"]
    http.cookies.clear()
    assert status(http, ref).status_code == 401
    bearer = http.get(
        f"/api/5.0/async_status/{op_id(ref)}", headers={"Authorization": f"Bearer {token}"}
    )
    assert bearer.status_code == 200


def test_unauthorized_without_a_session(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "trafficops"})
    reply = status(http, ref)
    assert reply.status_code == 401
    assert reply.json() == {"alerts": [{"text": "unauthorized, please log in.", "level": "error"}]}
    http.cookies.set("mojolicious", "forged")
    assert status(http, ref).status_code == 401


def test_a_running_acme_job(sim: Simulator, to_http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "trafficops", "kind": "acme_renew", "items": 5,
                             "fail_fraction": 0.4, "duration_s": 100, "age_s": 60.5})  # fmt: skip
    reply = status(to_http, ref)
    assert reply.headers["Content-Type"] == "application/json"
    job = reply.json()["response"]
    assert job["id"] == int(op_id(ref))
    assert job["status"] == "PENDING"
    assert "end_time" not in job  # left out while the job runs
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", job["start_time"])
    assert job["message"] == "ACME renewal in progress. 2 certs renewed, 1 errors."


@pytest.mark.parametrize(
    ("spec", "final", "message"),
    [
        ({"kind": "acme_renew", "items": 7, "fail_fraction": 2 / 7}, "SUCCEEDED",
         "ACME renewal complete. 5 certs renewed, 2 errors."),
        ({"kind": "acme_renew", "items": 5}, "SUCCEEDED",
         "ACME renewal complete. 5 certs renewed, 0 errors."),
        ({"kind": "acme_renew", "items": 3, "outcome": "failed"}, "FAILED",
         "ACME renewal complete. 0 certs renewed, 3 errors."),
        ({"kind": "dnssec_refresh", "items": 6, "fail_fraction": 1 / 3}, "SUCCEEDED",
         "DNSSEC refresh failed (updated 4 keys, but 2 errors occurred)"),
        ({"kind": "dnssec_refresh"}, "SUCCEEDED", "Successfully refreshed DNSSEC keys"),
        ({"kind": "generic", "outcome": "failed"}, "FAILED", "Job failed."),
        ({"kind": "generic", "status_word": "CANCELLED"}, "CANCELLED", "Job completed."),
    ],
)  # fmt: skip
def test_finished_jobs(
    sim: Simulator, to_http: httpx.Client, spec: dict[str, object], final: str, message: str
) -> None:
    ref = sim.add_operation({"provider": "trafficops", "age_s": 1000, **spec})
    job = status(to_http, ref).json()["response"]
    assert (job["status"], job["message"]) == (final, message)
    assert job["end_time"].endswith("Z")


def test_messages_change_as_the_job_runs(sim: Simulator) -> None:
    ref = sim.add_operation({"provider": "trafficops", "kind": "dnssec_refresh", "duration_s": 10})
    operation = sim.operation("trafficops", op_id(ref))
    assert operation is not None

    def job(sim_seconds: float) -> dict[str, object]:
        body = operation.body(operation.at(sim_seconds))
        return body["response"]  # type: ignore[no-any-return]

    assert job(5)["message"] == "DNSSEC refresh in progress"
    assert job(10.5)["message"] == "Successfully refreshed DNSSEC keys"


def test_a_stuck_job_stays_pending(sim: Simulator, to_http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "trafficops", "outcome": "stuck", "age_s": 10**6})
    job = status(to_http, ref).json()["response"]
    assert job["status"] == "PENDING"
    assert "end_time" not in job


def test_ids(sim: Simulator, to_http: httpx.Client) -> None:
    first = sim.add_operation({"provider": "trafficops"})
    assert int(op_id(first)) >= 1
    assert op_id(sim.add_operation({"provider": "trafficops"})) == str(int(op_id(first)) + 1)
    for raw, code in (("abc", 400), ("0", 404), ("99999", 404)):
        reply = to_http.get(f"/api/4.1/async_status/{raw}")
        assert reply.status_code == code
        assert reply.json()["alerts"][0]["level"] == "error"
    assert to_http.get("/api/4.1/async_status/0").json()["alerts"][0]["text"] == "Not Found"


def test_versions() -> None:
    with Simulator(to_versions=("4.0", "4.1")) as sim, httpx.Client(base_url=sim.url) as http:
        for version in ("3.1", "5.0"):
            reply = http.post(f"/api/{version}/user/login", json=LOGIN)
            assert reply.status_code == 501
            [alert] = reply.json()["alerts"]
            assert alert["level"] == "error"
            assert alert["text"].endswith("not implemented")
            assert http.get(f"/api/{version}/async_status/1").status_code == 501
        assert http.post("/api/4.1/user/login", json=LOGIN).status_code == 200


def test_default_versions(http: httpx.Client) -> None:
    for version in ("4.0", "4.1", "5.0"):
        assert http.post(f"/api/{version}/user/login", json=LOGIN).status_code == 200
    assert http.post("/api/3.1/user/login", json=LOGIN).status_code == 501


def test_session_expires_on_the_clock_and_refreshes_on_use(
    http: httpx.Client, clock: ManualClock
) -> None:
    with Simulator(speed=200, session_ttl_s=60, clock=clock) as sim:
        http.base_url = httpx.URL(sim.url)
        ref = sim.add_operation({"provider": "trafficops"})
        reply = http.post("/api/5.0/user/login", json=LOGIN)
        assert "Max-Age=2" in reply.headers["Set-Cookie"]  # 0.3 s at speed 200, and a second
        for _ in range(4):  # used every 0.2 s, the session lives past its 0.3 s
            clock.advance(0.2)
            used = status(http, ref)
            assert used.status_code == 200
            assert used.headers["Set-Cookie"].startswith("mojolicious=")  # renewed
        clock.advance(0.31)
        assert status(http, ref).status_code == 401
        assert status(http, ref).status_code == 401  # it stays ended
        assert http.post("/api/5.0/user/login", json=LOGIN).status_code == 200  # log in again
        assert status(http, ref).status_code == 200


def test_an_access_token_is_not_renewed_by_use(sim: Simulator, http: httpx.Client,
                                               clock: ManualClock) -> None:  # fmt: skip
    ref = sim.add_operation({"provider": "trafficops"})
    token = http.post("/api/5.0/user/login/token", json={"t": "sim-to-token"}).cookies[
        "access_token"
    ]
    http.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    for _ in range(5):
        clock.advance(3600)
        assert http.get(f"/api/5.0/async_status/{op_id(ref)}", headers=bearer).status_code == 200
    clock.advance(3600.5)  # six hours after the login, however often it was used
    assert http.get(f"/api/5.0/async_status/{op_id(ref)}", headers=bearer).status_code == 401


def test_expired_sessions_need_a_new_login(sim: Simulator, to_http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "trafficops"})
    assert status(to_http, ref).status_code == 200
    sim.add_fault({"kind": "expire_sessions"})
    assert status(to_http, ref).status_code == 401
    assert status(to_http, ref).status_code == 401  # until the client logs in again
    assert to_http.post("/api/5.0/user/login", json=LOGIN).status_code == 200
    assert status(to_http, ref).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "acme_autorenew", "acme_renew"),
        ("POST", "deliveryservices/sslkeys/generate/acme", "acme_renew"),
        ("PUT", "cdns/dnsseckeys/refresh", "dnssec_refresh"),
    ],
)
def test_starting_a_job_answers_202_with_a_4_0_location(
    sim: Simulator, to_http: httpx.Client, method: str, path: str, kind: str
) -> None:
    started = to_http.request(method, f"/api/5.0/{path}")
    assert started.status_code == 202
    location = started.headers["Location"]
    assert re.fullmatch(r"/api/4\.0/async_status/\d+", location)  # always 4.0
    assert started.json()["alerts"][0]["text"].endswith(
        f"Status updates can be found here: {location}"
    )
    ref = f"cdn:{location.rsplit('/', 1)[1]}"
    assert sim.refs()[-1] == ref
    assert sim.operation("trafficops", op_id(ref)).kind == kind  # type: ignore[union-attr]
    assert to_http.get(location).json()["response"]["status"] == "PENDING"
    to_http.cookies.clear()
    assert to_http.request(method, f"/api/5.0/{path}").status_code == 401


@pytest.mark.parametrize(
    ("body", "text"),
    [(b"{not json", "invalid request body: not JSON"),
     (b"[1, 2]", "invalid request body: not an object")],
)  # fmt: skip
def test_a_login_body_that_is_not_an_object(http: httpx.Client, body: bytes, text: str) -> None:
    reply = http.post("/api/5.0/user/login", content=body)
    assert reply.status_code == 400
    assert reply.json() == {"alerts": [{"text": text, "level": "error"}]}


def test_other_paths_are_404_in_traffic_ops_shape(to_http: httpx.Client) -> None:
    reply = to_http.get("/api/5.0/servers")
    assert reply.status_code == 404
    assert reply.json() == {"alerts": [{"text": "Not Found", "level": "error"}]}


def test_the_session_cookie_in_a_second_cookie_header(sim: Simulator, http: httpx.Client) -> None:
    # RFC 9110 lets a client split cookies over several Cookie headers; they are one list.
    ref = sim.add_operation({"provider": "trafficops"})
    cookie = http.post("/api/5.0/user/login", json=LOGIN).cookies["mojolicious"]
    http.cookies.clear()
    headers = [("Cookie", "theme=dark"), ("Cookie", f"mojolicious={cookie}")]
    assert http.get(f"/api/5.0/async_status/{op_id(ref)}", headers=headers).status_code == 200
