"""Load: many sequential requests over one kept connection, and hundreds of connections open
at once, all answered whole. Not timed assertions: bench/ measures speed."""

import contextlib
import json

import httpx

from opwatch.simulator import Simulator
from tests.simulator.conftest import KEY, OAUTH, op_id, raw_connection, read_reply


def test_2000_sequential_keep_alive_requests(sim: Simulator, to_http: httpx.Client) -> None:
    refs = [sim.add_operation({"provider": p}) for p in ("wesog", "toloka", "trafficops")]
    paths = [
        (f"/ops/{op_id(refs[0])}", KEY),
        (f"/api/v1/operations/{op_id(refs[1])}", OAUTH),
        (f"/api/5.0/async_status/{op_id(refs[2])}", {}),
    ]
    for index in range(2000):
        path, headers = paths[index % 3]
        reply = to_http.get(path, headers=headers)
        assert reply.status_code == 200
        assert int(reply.headers["Content-Length"]) == len(reply.content)
    stats = sim.stats()
    assert stats["requests"] == 2001  # and the login
    assert sum(stats["by_ref"].values()) == 2000


def test_500_concurrent_connections(sim: Simulator) -> None:
    refs = [sim.add_operation({"provider": "wesog", "items": n}) for n in range(1, 11)]
    with contextlib.ExitStack() as stack:
        connections = [stack.enter_context(raw_connection(sim)) for _ in range(500)]
        for index, connection in enumerate(connections):  # all open before any is answered
            ref = refs[index % len(refs)]
            connection.sendall(f"GET /ops/{op_id(ref)} HTTP/1.1\r\nHost: x\r\n"
                               "API-Key: sim-wesog-key\r\n\r\n".encode())  # fmt: skip
        for index, connection in enumerate(connections):
            head, body = read_reply(connection)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert json.loads(body)["num_total"] == index % len(refs) + 1
    assert sim.stats()["requests"] == 500
