"""Keep-alive under load: many sequential requests over one connection all succeed, with a
Content-Length each. Not a timed assertion: bench/ measures speed."""

import httpx

from opwatch.simulator import Simulator
from tests.simulator.conftest import KEY, OAUTH, op_id


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
