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

URL_CACHE_SIZE = 20_000
"""Parsed URLs kept for reuse: one per watched operation is the common case."""


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
        self._urls: dict[str, httpx.URL] = {}
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
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(self._base + path)
        sent = self._headers + list(headers.items()) if headers else self._headers
        if self.cookies:
            cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            sent = [*sent, ("Cookie", cookie)]
        return httpx.Request(
            method, url, headers=sent, json=json, extensions={"timeout": self._timeout}
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter() if self._log else 0.0
        response = await self.transport.handle_async_request(request)
        response.request = request
        for header in response.headers.get_list("Set-Cookie"):
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
