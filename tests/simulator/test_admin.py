"""The admin endpoints under /_sim/, the Python API beside them, and the config the simulator
writes for opwatch."""

import httpx
import pytest
import yaml

from opwatch.simulator import ManualClock, Simulator, describe
from tests.simulator.conftest import KEY, op_id


def test_operations_endpoint(sim: Simulator, http: httpx.Client) -> None:
    created = http.post("/_sim/operations", json={"provider": "toloka", "items": 3})
    assert created.status_code == 201
    body = created.json()
    assert body["profile"] == "crowd"
    assert body["ref"] == f"crowd:{body['id']}"
    [listed] = http.get("/_sim/operations").json()
    assert listed["ref"] == body["ref"]
    assert listed["state"] == "running"
    assert listed["spec"]["items"] == 3
    assert listed["kind"] == "TASK_SUITE.BATCH_CREATE"
    for bad in ({"provider": "nope"}, {"provider": "wesog", "items": "ten"}, [1, 2]):
        refused = http.post("/_sim/operations", json=bad)
        assert refused.status_code == 400
        assert refused.json()["error"]
    assert http.post("/_sim/operations", content=b"{not json").status_code == 400


def test_faults_endpoint(sim: Simulator, http: httpx.Client, clock: ManualClock) -> None:
    ref = sim.add_operation({"provider": "wesog"})
    assert (
        http.post("/_sim/faults", json={"kind": "5xx", "ref": ref, "count": 5}).status_code == 201
    )
    assert http.post("/_sim/faults", json={"kind": "429", "duration_s": 30}).status_code == 201
    clock.advance(10)
    assert http.get("/_sim/faults").json() == [
        {"kind": "5xx", "ref": ref, "route": None, "count": 5, "seconds_left": None},
        {"kind": "429", "ref": None, "route": None, "count": None, "seconds_left": 20.0},
    ]
    assert http.get(f"/ops/{op_id(ref)}", headers=KEY).status_code == 503
    assert http.get("/_sim/faults").json()[0]["count"] == 4  # what is left of it
    assert http.delete("/_sim/faults").status_code == 200
    assert http.get("/_sim/faults").json() == []
    assert http.get(f"/ops/{op_id(ref)}", headers=KEY).status_code == 200
    assert http.post("/_sim/faults", json={"kind": "nope"}).status_code == 400


def test_stats(sim: Simulator, http: httpx.Client, clock: ManualClock) -> None:
    ref = sim.add_operation({"provider": "wesog"})
    read_at = []
    for _ in range(3):
        clock.advance(1.5)
        read_at.append(clock.monotonic())
        http.get(f"/ops/{op_id(ref)}", headers=KEY)
    http.get("/api/v1/operations/x")  # refused: counted by route, not by REF
    stats = http.get("/_sim/stats").json()
    assert stats["requests"] == 4
    assert stats["by_route"] == {"wesog": 3, "toloka": 1}
    assert stats["by_ref"] == {ref: 3}
    assert "reads" not in stats
    reads = http.get("/_sim/stats", params={"reads": 1}).json()["reads"]
    assert reads == [{"ref": ref, "t": t} for t in read_at]  # the clock's time of each read
    assert sim.reads_of(ref) == read_at
    assert http.post("/_sim/stats/reset").status_code == 200
    assert sim.stats() == {"requests": 0, "by_route": {}, "by_ref": {}}
    assert http.get("/_sim/nothing").status_code == 404


def test_config(sim: Simulator, http: httpx.Client) -> None:
    text = http.get("/_sim/config").text
    assert text == sim.config_yaml()
    config = yaml.safe_load(text)
    assert config["default_profile"] == "crowd"
    assert config["profiles"] == {
        "media": {"provider": "wesog", "url": sim.url, "api_key": "sim-wesog-key"},
        "crowd": {"provider": "toloka", "url": sim.url, "token": "sim-toloka-token"},
        "cdn": {"provider": "trafficops", "url": sim.url, "username": "admin",
                "password": "sim-password"},
    }  # fmt: skip


def test_unknown_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown credential\(s\): wesog_token \(known: "):
        Simulator(credentials={"wesog_token": "k2"})


def test_credentials_can_be_replaced() -> None:
    with Simulator(credentials={"wesog_key": "k2", "toloka_token": "t2"}) as sim:
        config = yaml.safe_load(sim.config_yaml())
        assert config["profiles"]["media"]["api_key"] == "k2"
        ref = sim.add_operation({"provider": "wesog"})
        with httpx.Client(base_url=sim.url) as http:
            assert http.get(f"/ops/{op_id(ref)}", headers=KEY).status_code == 401
            assert http.get(f"/ops/{op_id(ref)}", headers={"API-Key": "k2"}).status_code == 200


def test_refs_and_describe(sim: Simulator) -> None:
    refs = [sim.add_operation({"provider": p}) for p in ("trafficops", "wesog", "toloka")]
    assert sim.refs() == refs
    assert [ref.partition(":")[0] for ref in refs] == ["cdn", "media", "crowd"]
    assert describe(sim) == "".join(f"{ref}\n" for ref in refs)


def test_unknown_paths(http: httpx.Client) -> None:
    assert http.get("/nowhere").status_code == 404
    assert http.get("/api/v1/pools/1").json()["code"] == "DOES_NOT_EXIST"


def test_stop_hangs_up_on_keep_alive_clients() -> None:
    sim = Simulator().start()
    with httpx.Client(base_url=sim.url, timeout=2) as http:
        assert http.get("/_sim/stats").status_code == 200
        sim.stop()
        with pytest.raises(httpx.TransportError):
            http.get("/_sim/stats")
