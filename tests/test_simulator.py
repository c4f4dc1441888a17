"""The simulator against the provider facts of PROVIDERS.md: shapes, status codes, cookies,
pagination, faults and the admin endpoints."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opwatch.simulator import OperationSpec, Scenario, Simulator, load_scenario

OAUTH = {"Authorization": "OAuth sim-toloka-token"}
KEY = {"API-Key": "sim-wesog-key"}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(speed=20) as simulator:
        yield simulator


@pytest.fixture
def http(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        yield client


def op_id(ref: str) -> str:
    return ref.partition(":")[2]


def test_wesog_shape_and_progress(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "wesog", "duration_s": 20, "items": 10,
                             "fail_fraction": 0.3})  # fmt: skip
    body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
    assert body["is_started"] is True
    assert body["is_finished"] is False
    assert body["all_good"] is None
    assert body["finished_at"] is None
    time.sleep(1.1)
    body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
    assert (body["is_finished"], body["num_good"], body["num_bad"]) == (True, 7, 3)
    assert body["all_good"] is False
    assert [e["id"] for e in body["errors"]] == [3, 6, 9]
    assert body["created_at"].endswith("+00:00")
    assert isinstance(body["exec_ms"], int)


def test_wesog_errors(sim: Simulator, http: httpx.Client) -> None:
    assert http.get("/ops/1").status_code == 401
    assert http.get("/ops/1", headers={"API-Key": "x"}).json() == {
        "detail": "Invalid or missing API key"
    }
    assert http.get("/ops/99999", headers=KEY).status_code == 404
    unprocessable = http.get("/ops/abc", headers=KEY)
    assert unprocessable.status_code == 422
    assert unprocessable.json()["detail"][0]["loc"] == ["path", "op_id"]


def test_toloka_shape(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "duration_s": 10, "items": 10,
                             "fail_fraction": 0.2, "start_delay_s": 4})  # fmt: skip
    body = http.get(f"/api/v1/operations/{op_id(ref)}", headers=OAUTH).json()
    assert body["status"] == "PENDING"
    assert "started" not in body
    assert "T" in body["submitted"]
    assert not body["submitted"].endswith(("Z", "+00:00"))  # UTC without a zone
    time.sleep(0.8)
    body = http.get(f"/api/v1/operations/{op_id(ref)}", headers=OAUTH).json()
    assert body["status"] == "SUCCESS"
    assert body["details"]["not_valid_count"] == 2
    assert body["progress"] == 100


def test_toloka_auth(http: httpx.Client) -> None:
    refused = http.get("/api/v1/operations/x", headers={"Authorization": "OAuth nope"})
    assert refused.status_code == 401
    assert set(refused.json()) == {"request_id", "code", "message"}
    api_key = {"Authorization": "ApiKey " + "a" * 23 + ".b.c"}
    assert http.get("/api/v1/operations/x", headers=api_key).status_code == 404
    assert http.get("/api/v1/operations/x", headers=OAUTH).json()["code"] == "DOES_NOT_EXIST"


def test_toloka_log(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "items": 9, "fail_fraction": 1 / 3,
                             "age_s": 100})  # fmt: skip
    log = http.get(f"/api/v1/operations/{op_id(ref)}/log", headers=OAUTH)
    assert log.headers["Transfer-Encoding"] == "chunked"
    steps = log.json()
    assert len(steps) == 9
    failed = [s for s in steps if not s["success"]]
    assert [s["input"]["__item_idx"] for s in failed] == [2, 5, 8]
    assert any(len(s["output"]) > 1 for s in failed)  # several fields in one step
    assert all(s["type"] == "TASK_SUITE_VALIDATE" for s in failed)
    gone = sim.add_operation({"provider": "toloka", "age_days": 40, "age_s": 100})
    assert http.get(f"/api/v1/operations/{op_id(gone)}/log", headers=OAUTH).status_code == 404


def test_toloka_pool_open_failure_log(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "kind": "POOL.OPEN", "outcome": "failed",
                             "age_s": 100})  # fmt: skip
    assert http.get(f"/api/v1/operations/{op_id(ref)}", headers=OAUTH).json()["status"] == "FAIL"
    [step] = http.get(f"/api/v1/operations/{op_id(ref)}/log", headers=OAUTH).json()
    assert step["output"]["code"] == "EMPTY_POOL"


def test_toloka_list_pagination(sim: Simulator, http: httpx.Client) -> None:
    for _ in range(7):
        sim.add_operation({"provider": "toloka"})
    seen, last = [], None
    while True:
        params = {"sort": "id", "limit": 3, **({"id_gt": last} if last else {})}
        page = http.get("/api/v1/operations", params=params, headers=OAUTH).json()
        seen += [item["id"] for item in page["items"]]
        if not page["has_more"]:
            break
        last = page["items"][-1]["id"]
    assert len(seen) == 7
    assert seen == sorted(seen)
    too_many = http.get("/api/v1/operations", params={"limit": 301}, headers=OAUTH)
    assert too_many.status_code == 400
    running = http.get("/api/v1/operations", params={"status": "RUNNING"}, headers=OAUTH)
    assert len(running.json()["items"]) == 7


def login(
    http: httpx.Client, version: str = "5.0", password: str = "sim-password"
) -> httpx.Response:
    return http.post(f"/api/{version}/user/login", json={"u": "admin", "p": password})


def test_trafficops_cookie_session(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "trafficops", "kind": "acme_renew", "duration_s": 100})
    assert http.get(f"/api/5.0/async_status/{op_id(ref)}").status_code == 401
    bad = login(http, password="nope")
    assert bad.status_code == 401
    assert bad.json()["alerts"][0]["text"] == "Invalid username or password."
    good = login(http)
    assert good.status_code == 200
    assert {"mojolicious", "access_token"} <= set(good.cookies)
    body = http.get(f"/api/5.0/async_status/{op_id(ref)}").json()["response"]
    assert body["status"] == "PENDING"
    assert "end_time" not in body  # left out while the job runs
    assert body["start_time"].endswith("Z")
    assert http.get("/api/4.0/async_status/0").status_code == 404
    assert http.get("/api/4.0/async_status/abc").status_code == 400
    sim.add_fault({"kind": "expire_sessions"})
    assert http.get(f"/api/5.0/async_status/{op_id(ref)}").status_code == 401


def test_trafficops_versions() -> None:
    with Simulator(to_versions=("4.0",)) as sim, httpx.Client(base_url=sim.url) as http:
        assert login(http, "5.0").status_code == 501
        assert login(http, "3.1").status_code == 501
        assert login(http, "4.0").status_code == 200


def test_trafficops_job_start_answers_202_with_location(http: httpx.Client) -> None:
    login(http, "5.0")
    started = http.post("/api/5.0/acme_autorenew")
    assert started.status_code == 202
    location = started.headers["Location"]
    assert location.startswith("/api/4.0/async_status/")  # always 4.0
    assert started.json()["alerts"][0]["text"].endswith(f"can be found here: {location}")


def test_session_expiry_on_the_simulated_clock() -> None:
    with Simulator(speed=100, session_ttl_s=50) as sim, httpx.Client(base_url=sim.url) as http:
        ref = sim.add_operation({"provider": "trafficops"})
        login(http)
        assert http.get(f"/api/5.0/async_status/{op_id(ref)}").status_code == 200
        time.sleep(0.7)
        assert http.get(f"/api/5.0/async_status/{op_id(ref)}").status_code == 401


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        ({"kind": "5xx"}, 503, "application/json"),
        ({"kind": "5xx", "status": 500}, 500, "application/json"),
        ({"kind": "429", "retry_after": 4}, 429, "application/json"),
        ({"kind": "html"}, 502, "text/html"),
        ({"kind": "truncated"}, 200, "application/json"),
        ({"kind": "wrong_shape"}, 200, "application/json"),
    ],
)
def test_faults(
    sim: Simulator, http: httpx.Client, fault: dict[str, object], status: int, kind: str
) -> None:
    ref = sim.add_operation({"provider": "wesog"})
    sim.add_fault({**fault, "ref": ref, "count": 1})
    reply = http.get(f"/ops/{op_id(ref)}", headers=KEY)
    assert reply.status_code == status
    assert reply.headers["Content-Type"] == kind
    if fault["kind"] == "429":
        assert reply.headers["Retry-After"] == "4"
    if fault["kind"] == "truncated":
        with pytest.raises(json.JSONDecodeError):
            reply.json()
    assert http.get(f"/ops/{op_id(ref)}", headers=KEY).status_code == 200  # count used up


def test_drop_and_slow_faults(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka"})
    sim.add_fault({"kind": "drop", "ref": ref})
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"/api/v1/operations/{op_id(ref)}", headers=OAUTH)
    sim.add_fault({"kind": "slow", "ref": ref, "delay_s": 1.5})
    with pytest.raises(httpx.ReadTimeout):
        http.get(f"/api/v1/operations/{op_id(ref)}", headers=OAUTH, timeout=0.5)


def test_login_fail_fault_and_route_faults(sim: Simulator, http: httpx.Client) -> None:
    sim.add_fault({"kind": "login_fail", "count": 1})
    assert login(http).status_code == 401
    assert login(http).status_code == 200
    sim.add_fault({"kind": "5xx", "route": "toloka", "duration_s": 30})
    assert http.get("/api/v1/operations/x", headers=OAUTH).status_code == 503
    assert http.get("/ops/99999", headers=KEY).status_code == 404  # other routes unaffected
    sim.clear_faults()


def test_admin_endpoints(sim: Simulator, http: httpx.Client) -> None:
    created = http.post("/_sim/operations", json={"provider": "wesog", "items": 3})
    assert created.status_code == 201
    ref = created.json()["ref"]
    assert ref.startswith("media:")
    assert ref in [op["ref"] for op in http.get("/_sim/operations").json()]
    assert http.post("/_sim/operations", json={"provider": "nope"}).status_code == 400
    assert http.post("/_sim/faults", json={"kind": "5xx", "ref": ref}).status_code == 201
    assert http.get(f"/ops/{created.json()['id']}", headers=KEY).status_code == 503
    stats = http.get("/_sim/stats").json()
    assert stats["by_ref"][ref] == 1
    http.post("/_sim/stats/reset")
    assert http.get("/_sim/stats").json()["requests"] == 0
    assert "provider: trafficops" in http.get("/_sim/config").text


def test_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "speed: 5\noperations:\n  - {provider: wesog, items: 3}\n  - {provider: toloka}\n"
    )
    scenario = load_scenario(path)
    assert scenario.speed == 5
    assert [op.provider for op in scenario.operations] == ["wesog", "toloka"]
    path.write_text("operations:\n  - {provider: wesog, itmes: 3}\n")
    with pytest.raises(ValueError, match="operation 1: unknown operation key"):
        load_scenario(path)


def test_many_keep_alive_requests(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation(OperationSpec("wesog"))
    for _ in range(2000):
        assert http.get(f"/ops/{op_id(ref)}", headers=KEY).status_code == 200
    assert sim.stats()["by_ref"][ref] == 2000


def test_stuck_and_unknown_status() -> None:
    scenario = Scenario(
        [
            OperationSpec("trafficops", outcome="stuck", duration_s=1),
            OperationSpec("toloka", status_word="ARCHIVED", duration_s=1, age_s=10),
        ]
    )
    with Simulator(scenario, speed=50) as sim, httpx.Client(base_url=sim.url) as http:
        stuck, unknown = sim.refs()
        time.sleep(0.2)
        login(http)
        assert http.get(f"/api/5.0/async_status/{op_id(stuck)}").json()["response"]["status"] == (
            "PENDING"
        )
        body = http.get(f"/api/v1/operations/{op_id(unknown)}", headers=OAUTH).json()
        assert body["status"] == "ARCHIVED"
