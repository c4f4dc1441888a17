"""One HTTP client per profile, shared by every operation of that profile during a run."""

import ssl
from collections.abc import Mapping
from contextlib import AsyncExitStack
from types import TracebackType

import httpx

from opwatch.config import Config, Profile
from opwatch.http import Http
from opwatch.providers import provider_class
from opwatch.providers.base import Provider
from opwatch.runtime import Runtime
from opwatch.transport import Transport

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
            found.warn = self.runtime.warn
            self._providers[profile_name] = found
        return found

    def _client(self, profile: Profile) -> Http:
        if not profile.verify_tls and profile.name not in self._warned_tls:  # said once
            self._warned_tls.add(profile.name)
            self.runtime.warn(
                f"profile '{profile.name}' does not verify TLS certificates (verify_tls: false)"
            )
        return Http(
            profile.url,
            self.runtime.transport or _transport(profile, self.runtime.env),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            },
            timeout_s=profile.timeout_s,
            log=self.runtime.log if self.runtime.verbose else None,
        )


def _transport(profile: Profile, env: Mapping[str, str]) -> httpx.AsyncBaseTransport:
    """opwatch's lean transport, or httpx's own when a proxy variable covers the profile's URL."""
    # No TLS context for a plain-HTTP profile (a local server, the simulator): building one
    # costs about as much as importing httpx.
    tls = None if profile.url.startswith("http://") else _tls_context(profile)
    proxy = proxy_for(httpx.URL(profile.url), env)
    if proxy:
        return httpx.AsyncHTTPTransport(
            proxy=proxy,
            verify=tls or True,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS_PER_PROFILE),
        )
    return Transport(ssl_context=tls, max_connections=MAX_CONNECTIONS_PER_PROFILE)


def proxy_for(url: httpx.URL, env: Mapping[str, str]) -> str | None:
    """The proxy that `http_proxy`, `https_proxy` or `all_proxy` names for `url` (lower case
    first, as curl reads them), unless a `no_proxy` entry matches its host or is `*`."""

    def variable(name: str) -> str:
        return env.get(name) or env.get(name.upper()) or ""

    proxy = variable(f"{url.scheme}_proxy") or variable("all_proxy")
    if not proxy:
        return None
    host = url.host.lower()
    for entry in variable("no_proxy").split(","):
        exempt = entry.strip().lstrip("*.").lower()
        if entry.strip() == "*" or (exempt and (host == exempt or host.endswith("." + exempt))):
            return None
    return proxy


def _tls_context(profile: Profile) -> ssl.SSLContext:
    """Certificates checked against `ca_bundle`, else as httpx does (certifi, SSL_CERT_FILE)."""
    if profile.ca_bundle:
        return ssl.create_default_context(cafile=profile.ca_bundle)
    return httpx.create_ssl_context(verify=profile.verify_tls)
