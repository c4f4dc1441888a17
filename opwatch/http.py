"""The HTTP client of one profile: httpx requests and responses, handed straight to a transport.

httpx's AsyncClient spends more CPU per request than the transport under it (URL merging, a
cookie jar that rebuilds an email message for every response, auth and redirect generators), and
a watcher of thousands of operations makes little use of it: one origin per profile, a handful of
default headers, one session cookie, no redirects. `Http` does those and nothing else, so a read
costs the transport plus a few dictionary lookups.
"""

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

REQUESTS_KEPT = 10_000
"""Built requests kept for sending again: a poll repeats one request per watched operation
(2 KB each; a wait on more operations than this builds each request anew)."""


class Http:
    """Requests to one base URL with default headers, a cookie session and one timeout.

    Redirects are never followed: a redirect to another host must never carry the API-Key header
    or the session cookie. Cookies are kept by name only, which is enough for one origin.
    """

    def __init__(
        self,
        base_url: str,
        transport: httpx.AsyncBaseTransport,
        *,
        headers: Mapping[str, str],
        timeout_s: float,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self.transport = transport
        self._headers = list(headers.items())
        self._timeout = httpx.Timeout(timeout_s).as_dict()
        self._log = log
        self._requests: dict[tuple[str, str, tuple[tuple[str, str], ...], str], httpx.Request] = {}
        self.cookies: dict[str, str] = {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send one request and read its whole reply, whatever the status."""
        response = await self._send(self._build(method, path, headers, json))
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """Send one request; the reply's body is read as the caller iterates it."""
        response = await self._send(self._build(method, path, headers, None))
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    def _build(
        self, method: str, path: str, headers: Mapping[str, str] | None, json: Any
    ) -> httpx.Request:
        """The request to send. One without a body is built once and sent again as it is
        (sending does not change an httpx request): building costs a poll as much as parsing
        its reply."""
        extra = tuple(headers.items()) if headers else ()
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        key = (method, path, extra, cookie)
        if json is None and (kept := self._requests.get(key)) is not None:
            return kept
        # A header the caller gives replaces the default of that name (a declared provider's
        # `Accept: application/vnd.github+json`), rather than travelling beside it.
        given = {name.lower() for name, _ in extra}
        defaults = [pair for pair in self._headers if pair[0].lower() not in given]
        sent = [*defaults, *extra, *([("Cookie", cookie)] if cookie else [])]
        request = httpx.Request(
            method,
            self._base + path,
            headers=sent,
            json=json,
            extensions={"timeout": self._timeout},
        )
        if json is None:
            if len(self._requests) >= REQUESTS_KEPT:
                self._requests.clear()
            self._requests[key] = request
        return request

    async def _send(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter() if self._log else 0.0
        response = await self.transport.handle_async_request(request)
        response.request = request
        for header in response.headers.get_list("Set-Cookie"):
            if not header.isascii():
                # RFC 6265 cookie values are ASCII, and one opwatch kept could never be sent
                # back (a header is encoded as ASCII): a broken reply, the provider's fault.
                await response.aclose()
                raise httpx.RemoteProtocolError(
                    "reply broke HTTP/1.1: a Set-Cookie header with bytes outside ASCII",
                    request=request,
                )
            self._keep_cookie(header)
        if self._log:
            took = (time.perf_counter() - started) * 1000
            # Only the method, the URL and the status: headers and bodies carry credentials.
            self._log(f"{request.method} {request.url} -> {response.status_code} ({took:.0f} ms)")
        return response

    def _keep_cookie(self, header: str) -> None:
        """Keep `name=value` from a Set-Cookie header; Max-Age=0 or an empty value removes it."""
        pair, *attributes = header.split(";")
        name, equals, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            return
        gone = not value
        for attribute in attributes:
            key, _, number = attribute.strip().partition("=")
            if key.lower() == "max-age" and number.strip().lstrip("-").isdigit():
                gone = gone or int(number) <= 0
        if gone:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value
