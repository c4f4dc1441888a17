"""Every fault kind, on every route it makes sense for: what goes on the wire, that it lasts
as long as asked (count or duration), and that it touches only what it names."""

import json
import time

import httpx
import pytest

from opwatch.simulator import Fault, ManualClock, Scenario, Simulator
from opwatch.simulator.faults import wrong_shape
from tests.simulator.conftest import KEY, LOGIN, OAUTH, op_id, raw_connection, read_until_closed


def read(http: httpx.Client, ref: str) -> httpx.Response:
    """One status read of `ref`, whichever provider it belongs to."""
    profile, _, ident = ref.partition(":")
    if profile == "media":
        return http.get(f"/ops/{ident}", headers=KEY)
    if profile == "crowd":
        return http.get(f"/api/v1/operations/{ident}", headers=OAUTH)
    return http.get(f"/api/5.0/async_status/{ident}")


@pytest.fixture
def refs(sim: Simulator, to_http: httpx.Client) -> dict[str, str]:
    """A finished operation of each provider (their bodies no longer change)."""
    return {
        provider: sim.add_operation({"provider": provider, "age_s": 100, "fail_fraction": 0.5})
        for provider in ("wesog", "toloka", "trafficops")
    }


@pytest.mark.parametrize(
    ("provider", "error_of"),
    [
        ("wesog", lambda body: body["detail"]),
        ("toloka", lambda body: body["code"]),
        ("trafficops", lambda body: body["alerts"][0]["level"]),
    ],
)
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_in_each_providers_format(
    sim: Simulator, to_http: httpx.Client, refs: dict[str, str], provider: str,
    error_of: object, status: int,
) -> None:  # fmt: skip
    ref = refs[provider]
    sim.add_fault({"kind": "5xx", "ref": ref, "status": status, "count": 2, "retry_after": 2})
    for _ in range(2):
        reply = read(to_http, ref)
        assert reply.status_code == status
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.headers["Retry-After"] == "2"
        assert error_of(reply.json())  # type: ignore[operator]
    assert read(to_http, ref).status_code == 200  # the count is used up


def test_toloka_error_codes(sim: Simulator, to_http: httpx.Client, refs: dict[str, str]) -> None:
    sim.add_fault({"kind": "5xx", "ref": refs["toloka"], "status": 503})
    assert read(to_http, refs["toloka"]).json()["code"] == "REMOTE_SERVICE_UNAVAILABLE"
    sim.add_fault({"kind": "5xx", "ref": refs["toloka"], "status": 500})
    assert read(to_http, refs["toloka"]).json()["code"] == "INTERNAL_ERROR"
    sim.add_fault({"kind": "429", "ref": refs["toloka"]})
    assert read(to_http, refs["toloka"]).json()["code"] == "TOO_MANY_REQUESTS"


def test_429_with_retry_after(sim: Simulator, to_http: httpx.Client, refs: dict[str, str]) -> None:
    for ref in refs.values():
        sim.add_fault({"kind": "429", "ref": ref, "retry_after": 7})
        reply = read(to_http, ref)
        assert (reply.status_code, reply.headers["Retry-After"]) == (429, "7")
        sim.add_fault({"kind": "429", "ref": ref})
        assert read(to_http, ref).headers["Retry-After"] == "1"  # a default, as real servers send


def test_html_error_page(sim: Simulator, to_http: httpx.Client, refs: dict[str, str]) -> None:
    for ref in refs.values():
        sim.add_fault({"kind": "html", "ref": ref})
        reply = read(to_http, ref)
        assert reply.status_code == 502
        assert reply.headers["Content-Type"] == "text/html"
        assert reply.text.startswith("<html><head><title>502 Bad Gateway</title>")


def test_truncated_is_the_real_body_cut_in_half(
    sim: Simulator, to_http: httpx.Client, refs: dict[str, str]
) -> None:
    for ref in refs.values():
        whole = read(to_http, ref).content
        sim.add_fault({"kind": "truncated", "ref": ref})
        cut = read(to_http, ref)
        assert (cut.status_code, cut.headers["Content-Type"]) == (200, "application/json")
        assert cut.content == whole[: len(whole) // 2]
        with pytest.raises(json.JSONDecodeError):
            cut.json()


def test_wrong_shape(sim: Simulator, to_http: httpx.Client, refs: dict[str, str]) -> None:
    for ref in refs.values():
        whole = read(to_http, ref).json()
        sim.add_fault({"kind": "wrong_shape", "ref": ref})
        odd = read(to_http, ref)
        assert odd.status_code == 200
        assert odd.json() == wrong_shape(whole)
        assert odd.json() != whole
    body = wrong_shape({"num_total": 3, "num_good": 2, "num_bad": 1, "is_started": True})
    assert body == {"num_total": "3 items", "num_good": None, "is_started": "yes"}


def test_drop_closes_the_connection_mid_body(
    sim: Simulator, to_http: httpx.Client, refs: dict[str, str]
) -> None:
    for ref in refs.values():
        sim.add_fault({"kind": "drop", "ref": ref})
        with pytest.raises(httpx.RemoteProtocolError):
            read(to_http, ref)
        assert read(to_http, ref).status_code == 200  # a new connection works


def test_drop_on_the_wire(sim: Simulator, refs: dict[str, str]) -> None:
    sim.add_fault({"kind": "drop", "ref": refs["wesog"]})
    with raw_connection(sim) as raw:
        raw.sendall(f"GET /ops/{op_id(refs['wesog'])} HTTP/1.1\r\nHost: x\r\n"
                    "API-Key: sim-wesog-key\r\n\r\n".encode())  # fmt: skip
        received = read_until_closed(raw)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))  # fmt: skip
    assert 0 < len(body) < length  # promised more than it sent, then hung up


def test_slow_really_waits_whatever_the_clock(
    sim: Simulator, http: httpx.Client, refs: dict[str, str]
) -> None:
    # `slow` stands for the network, so it sleeps for real: the only test here on the wall
    # clock, asserting lower bounds a busy machine cannot break.
    sim.add_fault({"kind": "slow", "ref": refs["wesog"], "delay_s": 0.6})
    with pytest.raises(httpx.ReadTimeout):
        http.get(f"/ops/{op_id(refs['wesog'])}", headers=KEY, timeout=0.2)
    sim.add_fault({"kind": "slow", "ref": refs["wesog"], "delay_s": 0.2})
    started = time.monotonic()
    assert read(http, refs["wesog"]).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_login_fail(sim: Simulator, http: httpx.Client, refs: dict[str, str]) -> None:
    sim.add_fault({"kind": "login_fail", "count": 2})
    assert read(http, refs["wesog"]).status_code == 200  # other requests do not use it up
    for _ in range(2):
        refused = http.post("/api/5.0/user/login", json=LOGIN)
        assert refused.status_code == 401
        assert refused.json()["alerts"][0]["text"] == "Invalid username or password."
    assert http.post("/api/5.0/user/login", json=LOGIN).status_code == 200


def test_route_faults_for_a_while(
    sim: Simulator, to_http: httpx.Client, refs: dict[str, str], clock: ManualClock
) -> None:
    sim.add_fault({"kind": "5xx", "route": "toloka", "duration_s": 30})
    assert read(to_http, refs["toloka"]).status_code == 503
    assert read(to_http, refs["toloka"]).status_code == 503  # no count: every request meanwhile
    assert read(to_http, refs["wesog"]).status_code == 200  # other routes untouched
    assert read(to_http, refs["trafficops"]).status_code == 200
    clock.advance(29.9)
    assert read(to_http, refs["toloka"]).status_code == 503
    clock.advance(0.1)  # 30 s of the clock: over
    assert read(to_http, refs["toloka"]).status_code == 200
    assert sim.faults.describe(clock.monotonic()) == []


def test_a_fault_for_every_route(
    sim: Simulator, to_http: httpx.Client, refs: dict[str, str]
) -> None:
    sim.add_fault({"kind": "5xx", "count": 3})
    assert [read(to_http, ref).status_code for ref in refs.values()] == [503, 503, 503]
    assert [read(to_http, ref).status_code for ref in refs.values()] == [200, 200, 200]


def test_log_faults(sim: Simulator, http: httpx.Client, refs: dict[str, str]) -> None:
    path = f"/api/v1/operations/{op_id(refs['toloka'])}/log"
    whole = http.get(path, headers=OAUTH).json()
    sim.add_fault({"kind": "truncated", "route": "toloka_log"})
    cut = http.get(path, headers=OAUTH)
    assert cut.status_code == 200
    assert cut.text == json.dumps(whole[: len(whole) // 2], separators=(",", ":"))[:-1]
    sim.add_fault({"kind": "drop", "route": "toloka_log"})
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(path, headers=OAUTH)
    sim.add_fault({"kind": "5xx", "ref": refs["toloka"], "route": "toloka_log"})
    assert http.get(path, headers=OAUTH).status_code == 503
    assert read(http, refs["toloka"]).status_code == 200


def test_faults_can_be_cleared(sim: Simulator, http: httpx.Client, refs: dict[str, str]) -> None:
    sim.add_fault({"kind": "5xx", "count": 100})
    assert read(http, refs["wesog"]).status_code == 503
    sim.clear_faults()
    assert read(http, refs["wesog"]).status_code == 200


def test_a_scenario_faults_duration_counts_from_the_start_of_serving() -> None:
    clock = ManualClock()
    scenario = Scenario(faults=[{"kind": "429", "route": "wesog", "duration_s": 1}])
    sim = Simulator(scenario, clock=clock)
    clock.advance(1.2)  # built long before it serves: the fault must not have run out
    with sim, httpx.Client(base_url=sim.url) as http:
        assert http.get("/ops/1", headers=KEY).status_code == 429
        clock.advance(0.9)
        assert http.get("/ops/1", headers=KEY).status_code == 429
        clock.advance(0.1)
        assert http.get("/ops/1", headers=KEY).status_code == 404  # over: the real answer


def test_a_scenario_fault_with_a_count() -> None:
    scenario = Scenario(faults=[{"kind": "5xx", "route": "toloka", "count": 2}])
    with Simulator(scenario, clock=ManualClock()) as sim, httpx.Client(base_url=sim.url) as http:
        codes = [http.get("/api/v1/operations/x", headers=OAUTH).status_code for _ in range(3)]
        assert codes == [503, 503, 404]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "teapot"}, "fault kind must be one of"),
        ({"kind": "5xx", "route": "nowhere"}, "fault route must be one of"),
        ({"kind": "5xx", "status": 404}, "from 500 to 599"),
        ({"kind": "5xx", "count": -1}, "count must be a number"),
        ({"kind": "5xx", "ref": "no-profile"}, "REF like"),
        ({"kind": "5xx", "when": "now"}, "unknown fault key(s): when"),
    ],
)
def test_bad_faults(sim: Simulator, fault: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sim.add_fault(fault)


def test_fault_objects_are_accepted_and_checked() -> None:
    fault = Fault("5xx", count=1)
    with Simulator() as sim, httpx.Client(base_url=sim.url) as http:
        sim.add_fault(fault)
        assert http.get("/ops/1", headers=KEY).status_code == 503
        assert http.get("/ops/1", headers=KEY).status_code == 404  # once: a count of one
        sim.add_fault(fault)  # the same fault again starts afresh
        assert http.get("/ops/1", headers=KEY).status_code == 503
    with pytest.raises(ValueError, match="fault kind must be one of"):
        Fault("meteor")
