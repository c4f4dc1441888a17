"""Against nginx: encodings, chunked bodies, keep-alive limits, 204/304, cookies, non-ASCII
headers, IPv6 literals. opwatch matches stock httpx on every case here."""

import asyncio
import gzip
import json

from opwatch.config import parse_config
from opwatch.runtime import Runtime
from opwatch.session import Session
from tests.conformance.conftest import COOKIES, PLACE, Nginx
from tests.conformance.harness import both, ours, reply, stock


def test_a_plain_json_file(nginx: Nginx) -> None:
    mine, theirs = both(nginx.url("/ok.json"))
    assert mine == theirs == reply(200, b'{"ok": 1}')  # same


def test_gzip_chunked_reply_is_decoded(nginx: Nginx) -> None:
    (mine, response), *_ = asyncio.run(ours(nginx.url("/gz/ok.json")))
    (theirs, _), *_ = asyncio.run(stock(nginx.url("/gz/ok.json")))
    assert mine == theirs == reply(200, b'{"ok": 1}')  # same
    assert response is not None
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Transfer-Encoding"] == "chunked"


def test_a_large_gzip_body_streams_through_whole(nginx: Nginx) -> None:
    mine, theirs = both(nginx.url("/gz/big.json"))
    assert mine == theirs  # same
    assert mine.body is not None
    assert len(json.loads(mine.body)["items"]) == 12_000
    assert len(gzip.compress(mine.body)) < len(mine.body)  # it did come compressed


def test_keep_alive_closed_by_the_server_after_2_requests(nginx: Nginx) -> None:
    """nginx's keepalive_requests 2 closes every second reply's connection (with
    `Connection: close`): five reads still all succeed, on three connections."""
    url = nginx.url("/ok.json", port=nginx.limited)
    before = nginx.logged()
    mine = asyncio.run(ours(url, repeat=5))
    used = nginx.connections_seen(before)
    theirs = asyncio.run(stock(url, repeat=5))
    assert [outcome for outcome, _ in mine] == [reply(200, b'{"ok": 1}')] * 5
    assert [outcome for outcome, _ in theirs] == [outcome for outcome, _ in mine]  # same
    assert len(set(used)) == 3


def test_204_has_no_body_and_the_connection_is_kept(nginx: Nginx) -> None:
    before = nginx.logged()
    mine = asyncio.run(ours(nginx.url("/nocontent"), repeat=3))
    assert len(set(nginx.connections_seen(before))) == 1
    theirs = asyncio.run(stock(nginx.url("/nocontent"), repeat=3))
    assert [o for o, _ in mine] == [o for o, _ in theirs] == [reply(204)] * 3  # same


def test_304_for_a_matching_etag(nginx: Nginx) -> None:
    ((_, first),) = asyncio.run(ours(nginx.url("/ok.json")))
    assert first is not None
    tag = {"If-None-Match": first.headers["ETag"]}
    mine, theirs = both(nginx.url("/ok.json"), headers=tag)
    assert mine == theirs == reply(304)  # same


def test_many_cookies_are_all_kept_for_the_next_request(nginx: Nginx) -> None:
    async def cookies_sent() -> str:
        settings = {"provider": "wesog", "api_key": "k", "url": nginx.url("")}
        config = parse_config({"profiles": {"p": settings}}, nginx.ca_bundle, {})
        async with Session(config, Runtime(env={})) as session:
            client = session.provider("p").client
            response = await client.request("GET", "/cookies")
            assert len(response.headers.get_list("Set-Cookie")) == COOKIES
            return "; ".join(f"{name}={value}" for name, value in client.cookies.items())

    mine, theirs = both(nginx.url("/cookies"))
    assert mine == theirs == reply(200, b"{}")  # same
    assert asyncio.run(cookies_sent()) == "; ".join(f"c{n}=v{n}" for n in range(COOKIES))


def test_non_ascii_header_and_body(nginx: Nginx) -> None:
    (mine, response), *_ = asyncio.run(ours(nginx.url("/place")))
    (theirs, stock_response), *_ = asyncio.run(stock(nginx.url("/place")))
    assert mine == theirs == reply(200, f'{{"place": "{PLACE}"}}'.encode())  # same
    assert response is not None
    assert stock_response is not None
    assert response.headers["X-Place"] == stock_response.headers["X-Place"] == PLACE


def test_an_ipv6_literal(nginx: Nginx) -> None:
    mine, theirs = both(nginx.url("/ok.json", host="[::1]"))
    assert mine == theirs == reply(200, b'{"ok": 1}')  # same
