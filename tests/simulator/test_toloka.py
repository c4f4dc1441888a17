"""Toloka as PROVIDERS.md describes it: one operation, its log (generated, streamed, gone after
a month) and the filtered, paginated list, with Toloka's error bodies."""

import json

import httpx
import pytest

from opwatch.simulator import Simulator
from opwatch.simulator.providers.toloka import log_of
from tests.simulator.conftest import OAUTH, op_id


def get(http: httpx.Client, path: str, **params: object) -> httpx.Response:
    return http.get(f"/api/v1/operations{path}", headers=OAUTH, params=params)  # type: ignore[arg-type]


def test_a_finished_batch_with_invalid_items(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "items": 10, "fail_fraction": 0.2,
                             "age_s": 100})  # fmt: skip
    body = get(http, f"/{op_id(ref)}").json()
    assert body["id"] == op_id(ref)
    assert (body["type"], body["status"], body["progress"]) == ("TASK_SUITE.BATCH_CREATE",
                                                               "SUCCESS", 100)  # fmt: skip
    assert body["details"] == {"total_count": 10, "valid_count": 8, "not_valid_count": 2,
                               "success_count": 8, "failed_count": 0}  # fmt: skip
    assert isinstance(body["parameters"], dict)
    for name in ("submitted", "started", "finished"):
        assert "T" in body[name]
        assert not body[name].endswith(("Z", "+00:00"))  # UTC without a zone


def test_states_on_the_clock(sim: Simulator) -> None:
    ref = sim.add_operation({"provider": "toloka", "items": 10, "duration_s": 10,
                             "start_delay_s": 5})  # fmt: skip
    operation = sim.operation("toloka", op_id(ref))
    assert operation is not None

    def body(sim_seconds: float) -> dict[str, object]:
        return operation.body(operation.at(sim_seconds))

    pending = body(1.5)
    assert (pending["status"], pending["progress"]) == ("PENDING", 0)
    assert "started" not in pending
    assert "details" not in pending
    running = body(5 + 4.55)  # off the 45% boundary: float rounding must not decide
    assert (running["status"], running["progress"]) == ("RUNNING", 45)
    assert "finished" not in running
    assert running["details"]["success_count"] == 4  # type: ignore[index]
    assert body(5 + 10.5)["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        ({"outcome": "failed"}, "FAIL"),
        ({"fail_fraction": 1}, "FAIL"),
        ({"outcome": "stuck"}, "RUNNING"),
        ({"status_word": "ARCHIVED"}, "ARCHIVED"),
    ],
)
def test_final_statuses(
    sim: Simulator, http: httpx.Client, spec: dict[str, object], status: str
) -> None:
    ref = sim.add_operation({"provider": "toloka", "age_s": 1000, **spec})
    assert get(http, f"/{op_id(ref)}").json()["status"] == status


def test_without_progress_there_is_no_progress_nor_counts(
    sim: Simulator, http: httpx.Client
) -> None:
    ref = sim.add_operation({"provider": "toloka", "reports_progress": False, "age_s": 5})
    body = get(http, f"/{op_id(ref)}").json()
    assert body["status"] == "RUNNING"
    assert "progress" not in body
    assert "details" not in body


def test_auth(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka"})
    path = f"/api/v1/operations/{op_id(ref)}"
    for header in ({}, {"Authorization": "OAuth nope"}, {"Authorization": "Bearer x"},
                   {"Authorization": "ApiKey no-dots"}):  # fmt: skip
        refused = http.get(path, headers=header)
        assert refused.status_code == 401
        assert refused.json()["code"] == "NOT_AUTHORIZED"
        assert {"request_id", "message"} <= set(refused.json())
    for offset in (22, 23, 24):  # any key shaped like one passes, as with the real client
        key = "k" * offset + ".part.sig"
        assert http.get(path, headers={"Authorization": f"ApiKey {key}"}).status_code == 200
    assert (
        http.get(path, headers={"Authorization": "ApiKey " + "k" * 21 + ".a.b"}).status_code == 401
    )


def test_unknown_operation(http: httpx.Client) -> None:
    missing = get(http, "/no-such-op")
    assert missing.status_code == 404
    assert missing.json()["code"] == "DOES_NOT_EXIST"
    assert get(http, "/no-such-op/log").status_code == 404


def test_log_steps_name_items_and_fields(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "items": 12, "fail_fraction": 0.5,
                             "age_s": 100})  # fmt: skip
    reply = get(http, f"/{op_id(ref)}/log")
    assert reply.headers["Transfer-Encoding"] == "chunked"
    steps = reply.json()
    assert [s["input"]["__item_idx"] for s in steps] == list(range(12))
    failed = [s for s in steps if not s["success"]]
    assert [s["input"]["__item_idx"] for s in failed] == [1, 3, 5, 7, 9, 11]
    assert {s["type"] for s in failed} == {"TASK_SUITE_VALIDATE"}
    assert [len(s["output"]) for s in failed] == [1, 2, 3, 1, 2, 3]  # several fields, varied
    for step in failed:
        for field, problem in step["output"].items():
            assert "." in field or field == "overlap"
            assert set(problem) == {"code", "message"}
    assert any(s["output"].get("input_values.image", {}).get("code") == "VALUE_REQUIRED"
               for s in failed)  # fmt: skip
    created = [s for s in steps if s["success"]]
    assert {s["type"] for s in created} == {"TASK_SUITE_CREATE"}
    assert all(s["output"]["task_suite_id"] for s in created)


def test_task_batch_log_uses_task_steps(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "kind": "TASK.BATCH_CREATE", "items": 4,
                             "fail_fraction": 0.5, "age_s": 100})  # fmt: skip
    steps = get(http, f"/{op_id(ref)}/log").json()
    assert [s["type"] for s in steps] == ["TASK_CREATE", "TASK_VALIDATE"] * 2
    assert "task_id" in steps[0]["output"]


def test_log_grows_while_running(sim: Simulator) -> None:
    ref = sim.add_operation({"provider": "toloka", "items": 10, "duration_s": 10})
    operation = sim.operation("toloka", op_id(ref))
    assert operation is not None
    assert len(log_of(operation, operation.at(3.5))) == 3
    assert len(log_of(operation)) == 0  # at the start
    assert len(log_of(operation, operation.at(11))) == 10


def test_a_log_of_200000_steps_streams(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "items": 1000, "log_steps": 200_000,
                             "fail_fraction": 0.01, "age_s": 100})  # fmt: skip
    with http.stream("GET", f"/api/v1/operations/{op_id(ref)}/log", headers=OAUTH) as reply:
        data = b"".join(reply.iter_bytes())
    steps = json.loads(data)
    assert len(steps) == 200_000
    assert steps[-1]["input"]["__item_idx"] == 199_999
    assert sum(not s["success"] for s in steps) == 2000


def test_pool_open_failure_log(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "kind": "POOL.OPEN", "outcome": "failed",
                             "age_s": 100})  # fmt: skip
    body = get(http, f"/{op_id(ref)}").json()
    assert body["status"] == "FAIL"
    assert "details" not in body
    [step] = get(http, f"/{op_id(ref)}/log").json()
    assert (step["type"], step["success"]) == ("POOL_OPEN", False)
    assert step["output"]["code"] == "EMPTY_POOL"
    assert {"message", "request_id"} <= set(step["output"])


def test_a_log_older_than_a_month_is_gone(sim: Simulator, http: httpx.Client) -> None:
    old = sim.add_operation({"provider": "toloka", "age_days": 40, "fail_fraction": 0.5})
    assert get(http, f"/{op_id(old)}").json()["status"] == "SUCCESS"  # the operation is still there
    gone = get(http, f"/{op_id(old)}/log")
    assert gone.status_code == 404
    assert gone.json()["code"] == "DOES_NOT_EXIST"
    recent = sim.add_operation({"provider": "toloka", "age_days": 20})
    assert get(http, f"/{op_id(recent)}/log").status_code == 200


def test_list_pages_by_id(sim: Simulator, http: httpx.Client) -> None:
    refs = [sim.add_operation({"provider": "toloka"}) for _ in range(7)]
    seen: list[str] = []
    params: dict[str, object] = {"sort": "id", "limit": 3}
    while True:
        page = get(http, "", **params).json()
        seen += [item["id"] for item in page["items"]]
        if not page["has_more"]:
            break
        params["id_gt"] = page["items"][-1]["id"]
    assert seen == sorted(op_id(ref) for ref in refs)


def test_list_limits(sim: Simulator, http: httpx.Client) -> None:
    for _ in range(55):
        sim.add_operation({"provider": "toloka"})
    page = get(http, "").json()
    assert (len(page["items"]), page["has_more"]) == (50, True)  # default limit
    assert len(get(http, "", limit=300).json()["items"]) == 55
    for limit in (301, 0, "many"):
        refused = get(http, "", limit=limit)
        assert refused.status_code == 400
        assert refused.json()["code"] == "VALIDATION_ERROR"
        assert "limit" in refused.json()["payload"]


def test_list_filters(sim: Simulator, http: httpx.Client) -> None:
    old = sim.add_operation({"provider": "toloka", "kind": "POOL.OPEN", "age_s": 7200})
    new = sim.add_operation({"provider": "toloka", "duration_s": 1000})
    by_status = get(http, "", status="SUCCESS").json()["items"]
    assert [item["id"] for item in by_status] == [op_id(old)]
    by_type = get(http, "", type="TASK_SUITE.BATCH_CREATE").json()["items"]
    assert [item["id"] for item in by_type] == [op_id(new)]
    cut = get(http, f"/{op_id(new)}").json()["submitted"]
    assert [i["id"] for i in get(http, "", submitted_lt=cut).json()["items"]] == [op_id(old)]
    assert [i["id"] for i in get(http, "", submitted_gte=cut).json()["items"]] == [op_id(new)]
    assert get(http, "", submitted_gt=cut + "Z").json()["items"] == []
    assert get(http, "", submitted_lt="yesterday").status_code == 400
    assert get(http, "", sort="-id").status_code == 200


def test_a_finished_pool_clone_names_the_new_pool(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "kind": "POOL.CLONE", "age_s": 100})
    body = get(http, f"/{op_id(ref)}").json()
    assert body["details"]["pool_id"].isdigit()
    assert body["parameters"] == {}


def test_user_bonus_log_steps(sim: Simulator, http: httpx.Client) -> None:
    ref = sim.add_operation({"provider": "toloka", "kind": "USER_BONUS.BATCH_CREATE", "items": 2,
                             "fail_fraction": 0.5, "age_s": 100})  # fmt: skip
    steps = get(http, f"/{op_id(ref)}/log").json()
    assert [s["type"] for s in steps] == ["USER_BONUS_PERSIST", "USER_BONUS_VALIDATE"]
    assert "user_bonus_id" in steps[0]["output"]


def test_list_by_id_both_ways_and_between_bounds(sim: Simulator, http: httpx.Client) -> None:
    ids = sorted(op_id(sim.add_operation({"provider": "toloka"})) for _ in range(6))
    everything = sorted(op.id for op in sim.operations_of("toloka"))
    down = get(http, "", sort="-id", limit=300).json()["items"]
    assert [item["id"] for item in down] == everything[::-1]
    between = get(http, "", id_gte=ids[1], id_lt=ids[4], limit=300).json()["items"]
    assert [item["id"] for item in between] == [i for i in everything if ids[1] <= i < ids[4]]
    # A page mark past the end: nothing more, not an error.
    assert get(http, "", id_gt=everything[-1]).json() == {"items": [], "has_more": False}
