"""Wesog as PROVIDERS.md describes it: `GET /ops/{id}` with the API-Key header, FastAPI-shaped
errors, `all_good` unknown until something fails, and `GET /ops` listing every operation."""

from datetime import datetime
from typing import Any

import httpx

from opwatch.simulator import Simulator
from tests.simulator.conftest import KEY, op_id

FIELDS = {
    "method", "resource", "num_total", "num_good", "num_bad", "is_started", "is_finished",
    "all_good", "do_wait", "do_urgent", "do_strict", "idle_ms", "exec_ms", "created_at",
    "started_at", "finished_at", "errors",
}  # fmt: skip


def test_a_finished_partial_operation(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation(
        {"provider": "wesog", "kind": "upd video", "items": 10, "fail_fraction": 0.3,
         "duration_s": 60, "age_s": 100}
    )  # fmt: skip
    reply = http.get(f"/ops/{op_id(ref)}", headers=KEY)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert set(body) >= FIELDS
    assert (body["method"], body["resource"]) == ("upd", "video")
    assert (body["num_total"], body["num_good"], body["num_bad"]) == (10, 7, 3)
    assert (body["is_started"], body["is_finished"], body["all_good"]) == (True, True, False)
    assert body["errors"] == [
        {"id": 3, "msg": "Duplicate"},
        {"id": 6, "msg": "Download failed"},
        {"id": 9, "msg": "Unsupported format"},  # reasons rotate by item
    ]
    assert body["exec_ms"] == 60_000  # a past run keeps its real length
    for name in ("created_at", "started_at", "finished_at"):
        assert body[name].endswith("+00:00")
        datetime.fromisoformat(body[name])


def test_progress_grows_and_all_good_is_unknown_until_something_fails(sim: Simulator) -> None:
    ref = sim.add_operation({"provider": "wesog", "items": 100, "fail_fraction": 0.1,
                             "duration_s": 100, "start_delay_s": 10})  # fmt: skip
    operation = sim.operation("wesog", op_id(ref))
    assert operation is not None

    def body(sim_seconds: float) -> dict[str, Any]:
        # Half-second offsets keep float rounding away from the item boundaries.
        return operation.body(operation.at(sim_seconds))

    pending = body(5.5)
    assert (pending["is_started"], pending["started_at"], pending["idle_ms"]) == (False, None, None)
    early = body(10 + 5.5)  # 5 items done, none failed yet
    assert (early["num_good"], early["num_bad"], early["all_good"]) == (5, 0, None)
    assert early["finished_at"] is None
    later = body(10 + 50.5)
    assert (later["num_good"], later["num_bad"], later["all_good"]) == (45, 5, False)
    assert [e["id"] for e in later["errors"]] == [9, 19, 29, 39, 49]
    done = body(10 + 100.5)
    assert (done["num_good"], done["num_bad"], done["is_finished"]) == (90, 10, True)


def test_all_good_is_true_at_the_end_without_failures(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "wesog", "items": 4, "age_s": 100})
    body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
    assert (body["all_good"], body["num_good"], body["errors"]) == (True, 4, [])


def test_failed_has_no_good_item(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "wesog", "items": 4, "outcome": "failed", "age_s": 100})
    body = http.get(f"/ops/{op_id(ref)}", headers=KEY).json()
    assert (body["num_good"], body["num_bad"], len(body["errors"])) == (0, 4, 4)


def test_errors_are_fastapi_shaped(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "wesog"})
    for headers in ({}, {"API-Key": "wrong"}):
        refused = http.get(f"/ops/{op_id(ref)}", headers=headers)
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Invalid or missing API key"}
    missing = http.get("/ops/999999", headers=KEY)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Operation not found"})
    unprocessable = http.get("/ops/abc", headers=KEY)
    assert unprocessable.status_code == 422
    [problem] = unprocessable.json()["detail"]
    assert problem["loc"] == ["path", "op_id"]
    assert {"msg", "type"} <= set(problem)


def test_ids_increase_and_can_be_given(sim: Simulator) -> None:
    first = int(op_id(sim.add_operation({"provider": "wesog"})))
    second = int(op_id(sim.add_operation({"provider": "wesog"})))
    assert second == first + 1
    assert sim.add_operation({"provider": "wesog", "id": 42}) == "media:42"


def test_list_of_operations(sim: Simulator, http: httpx.Client) -> None:
    refs = [sim.add_operation({"provider": "wesog"}) for _ in range(3)]
    sim.add_operation({"provider": "toloka"})
    listed = http.get("/ops", headers=KEY).json()
    assert [f"media:{op['id']}" for op in listed] == refs
    assert http.get("/ops").status_code == 401
