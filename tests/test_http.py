"""The per-profile client: headers, the cookie session, redirects left alone, the -v log line."""

import asyncio
from collections.abc import Callable

import httpx
import pytest

from opwatch.http import Http

Handler = Callable[[httpx.Request], httpx.Response]


def exchange(handler: Handler, *paths: str, log: list[str] | None = None) -> list[httpx.Request]:
    """GET each of `paths` in turn through an Http on `handler`; return the requests sent."""
    sent: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    async def main() -> None:
        http = Http(
            "https://api.test/base/",
            httpx.MockTransport(recording),
            headers={"User-Agent": "opwatch"},
            timeout_s=5,
            log=log.append if log is not None else None,
        )
        for path in paths:
            await http.request("GET", path, headers={"API-Key": "secret-key"})
        await http.aclose()

    asyncio.run(main())
    return sent


def test_the_base_url_and_both_kinds_of_headers_are_sent() -> None:
    (request,) = exchange(lambda request: httpx.Response(200), "/ops/1?x=1")
    assert str(request.url) == "https://api.test/base/ops/1?x=1"
    assert request.headers["User-Agent"] == "opwatch"
    assert request.headers["API-Key"] == "secret-key"
    assert request.extensions["timeout"] == {"connect": 5, "read": 5, "write": 5, "pool": 5}


@pytest.mark.parametrize(
    ("set_cookie", "then_sent"),
    [
        ("mojolicious=abc; Path=/; HttpOnly; Max-Age=3600", "mojolicious=abc"),
        ("mojolicious=; Path=/", None),
        ("mojolicious=abc; Max-Age=0", None),
        ("mojolicious=abc; max-age=-1", None),
        ("no-equals-sign", "mojolicious=old"),
    ],
)
def test_the_cookie_session(set_cookie: str, then_sent: str | None) -> None:
    replies = iter(
        [
            httpx.Response(200, headers={"Set-Cookie": "mojolicious=old"}),
            httpx.Response(200, headers={"Set-Cookie": set_cookie}),
            httpx.Response(200),
        ]
    )
    first, second, third = exchange(lambda request: next(replies), "/a", "/b", "/c")
    assert "Cookie" not in first.headers
    assert second.headers["Cookie"] == "mojolicious=old"
    assert third.headers.get("Cookie") == then_sent


def test_a_redirect_is_returned_not_followed() -> None:
    (request,) = exchange(
        lambda request: httpx.Response(302, headers={"Location": "https://elsewhere.test/"}),
        "/ops/1",
    )
    assert request.url.host == "api.test"


def test_the_log_line_names_the_request_but_no_header() -> None:
    log: list[str] = []
    exchange(lambda request: httpx.Response(404), "/ops/9", log=log)
    (entry,) = log
    assert entry.startswith("GET https://api.test/base/ops/9 -> 404 (")
    assert "secret-key" not in entry
