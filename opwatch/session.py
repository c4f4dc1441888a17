"""One HTTP client per profile, shared by every operation of that profile during a run."""

import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

import httpx

from opwatch.config import Config, Profile
from opwatch.providers import provider_class
from opwatch.providers.base import Provider
from opwatch.runtime import Runtime

MAX_CONNECTIONS_PER_PROFILE = 8
USER_AGENT = "opwatch"


class Session:
    """Opens providers lazily, one client each, and closes them all on exit."""

    def __init__(self, config: Config, runtime: Runtime) -> None:
        self.config = config
        self.runtime = runtime
        self._providers: dict[str, Provider] = {}
        self._stack = AsyncExitStack()
        self._warned_tls: set[str] = set()

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def provider(self, profile_name: str) -> Provider:
        """The provider of `profile_name`, created on first use."""
        found = self._providers.get(profile_name)
        if found is None:
            profile = self.config.get(profile_name)
            http = self._client(profile)
            self._stack.push_async_callback(http.aclose)
            found = provider_class(profile.provider)(profile, http)
            self._providers[profile_name] = found
        return found

    def _client(self, profile: Profile) -> httpx.AsyncClient:
        verify: bool | str = profile.ca_bundle or profile.verify_tls
        if profile.url.startswith("http://"):
            # No TLS on a plain-HTTP profile (a local server, the simulator): skip building a
            # certificate context, which costs about as much as importing httpx.
            verify = False
        if not profile.verify_tls and profile.name not in self._warned_tls:  # said once
            self._warned_tls.add(profile.name)
            self.runtime.warn(
                f"profile '{profile.name}' does not verify TLS certificates (verify_tls: false)"
            )
        hooks: dict[str, list[Callable[..., Any]]] = {
            "request": [self._log_request],
            "response": [self._log_response],
        }
        return httpx.AsyncClient(
            base_url=profile.url,
            timeout=profile.timeout_s,
            verify=verify,
            transport=self.runtime.transport,
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS_PER_PROFILE,
                max_keepalive_connections=MAX_CONNECTIONS_PER_PROFILE,
            ),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            event_hooks=hooks if self.runtime.verbose else None,
            # Redirects are not followed: a redirect to another host must never carry
            # the API-Key header or the session cookies.
            follow_redirects=False,
            trust_env=True,
        )

    async def _log_request(self, request: httpx.Request) -> None:
        request.extensions["opwatch_started"] = time.perf_counter()

    async def _log_response(self, response: httpx.Response) -> None:
        request = response.request
        started = request.extensions.get("opwatch_started", time.perf_counter())
        took = (time.perf_counter() - started) * 1000
        # Only the method, the URL and the status: headers and bodies carry credentials.
        self.runtime.log(
            f"{request.method} {request.url} -> {response.status_code} ({took:.0f} ms)"
        )
