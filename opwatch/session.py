"""One HTTP client per profile, shared by every operation of that profile during a run."""

import ssl
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType

import httpx

from opwatch.config import CONCURRENCY_PER_PROFILE as MAX_CONNECTIONS_PER_PROFILE
from opwatch.config import Config, Profile
from opwatch.errors import ConfigError
from opwatch.http import Http
from opwatch.providers import provider_class
from opwatch.providers.base import Provider
from opwatch.runtime import Runtime
from opwatch.transport import DEFAULT_PORTS, Transport

USER_AGENT = "opwatch"
_PROXY_SCHEMES = {
    "https": "an https",
    "socks4": "a socks4",
    "socks4a": "a socks4a",
    "socks5": "a socks5",
    "socks5h": "a socks5h",
}
"""The schemes of proxies opwatch cannot speak to, as a message names them."""


class Session:
    """Opens providers lazily, one client each, and closes them all on exit."""

    def __init__(self, config: Config, runtime: Runtime) -> None:
        self.config = config
        self.runtime = runtime
        self._providers: dict[str, Provider] = {}
        self._stack = AsyncExitStack()
        self._warned_tls: set[str] = set()
        self.warn: Callable[[str], None] = runtime.warn
        """Where the session and its providers say what a user should know: the runtime's
        warnings, or the live view's while one is drawn (a line printed past it would tear its
        frame)."""

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
            found.warn = lambda message: self.warn(message)  # whichever is in place then
            found.sleep = self.runtime.sleep
            self._providers[profile_name] = found
        return found

    def _client(self, profile: Profile) -> Http:
        if not profile.verify_tls and profile.name not in self._warned_tls:  # said once
            self._warned_tls.add(profile.name)
            self.warn(
                f"profile '{profile.name}' does not verify TLS certificates (verify_tls: false)"
            )
        return Http(
            profile.url,
            self.runtime.transport or transport_for(profile, self.runtime.env),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            },
            timeout_s=profile.timeout_s,
            log=self.runtime.log if self.runtime.verbose else None,
        )


def transport_for(profile: Profile, env: Mapping[str, str]) -> Transport:
    """opwatch's transport for `profile`: straight to its API, or through the proxy that the
    environment names for its URL; one stack either way."""
    # No TLS context for a plain-HTTP profile (a local server, the simulator): building one
    # costs about as much as importing httpx.
    tls = None if profile.url.startswith("http://") else _tls_context(profile)
    return Transport(
        ssl_context=tls,
        max_connections=MAX_CONNECTIONS_PER_PROFILE,
        proxy=proxy_for(httpx.URL(profile.url), env),
    )


def proxy_for(url: httpx.URL, env: Mapping[str, str]) -> str | None:
    """The proxy the environment names for `url`, read as httpx reads it.

    `http_proxy`, `https_proxy` and `all_proxy` in any case, a lower-case one deciding over an
    upper-case one even when empty, `HTTP_PROXY` ignored under CGI (`REQUEST_METHOD` set), as
    Python's urllib reads them for httpx; a value without a scheme means http://. `no_proxy`
    entries as httpx documents them (after curl): `*` turns proxies off; `example.com` matches
    it and its subdomains, `.example.com` only its subdomains; `localhost`, an IPv4 or IPv6
    address (`::1`, `[::1]`) only itself; `host:port` only that port; `http://host` only that
    scheme; names compare IDNA-decoded and case-blind. Where httpx fails, opwatch does what the
    entry says, as curl does: `[::1]` (httpx raises InvalidURL), `*.example.com` and an entry
    in A-labels or with a non-ASCII name (httpx never matches them), and `host:443` for a URL
    that leaves its port to the scheme (httpx compares it with no port and never matches).
    """
    proxies: dict[str, tuple[str, str]] = {}  # scheme: (value, the variable it came from)
    for lower_only in (False, True):  # urllib's two passes: lower case decides
        for name, value in env.items():
            key = name.lower()
            if not key.endswith("_proxy") or (lower_only and name != key):
                continue
            if name == "HTTP_PROXY" and "REQUEST_METHOD" in env:
                continue  # a CGI request's Proxy: header arrives as HTTP_PROXY (httpoxy)
            if value:
                proxies[key[:-6]] = (value, name)
            elif lower_only:
                proxies.pop(key[:-6], None)
    chosen = proxies.get(url.scheme) or proxies.get("all")
    if not chosen:
        return None
    for entry in proxies.get("no", ("", ""))[0].split(","):
        entry = entry.strip()
        if entry == "*":
            return None
        if entry and _exempts(entry, url):
            return None
    proxy, variable = chosen
    return _usable_proxy(proxy if "://" in proxy else f"http://{proxy}", variable)


def _usable_proxy(proxy: str, variable: str) -> str:
    """`proxy` when opwatch's transport can dial it, else a ConfigError naming `variable`.

    Checked here, once per profile before any request: a port that is no number would end the
    run with httpx's InvalidURL, and a SOCKS or https:// proxy be refused inside every read
    (the transport speaks to http:// proxies only). The value is never shown: a proxy URL may
    hold a password (`http://user:secret@proxy:3128`).
    """
    problem = None
    try:
        parsed = httpx.URL(proxy)
    except httpx.InvalidURL as exc:
        # httpx's message quotes the bad part, which may be the password: name the part only.
        problem = _url_problem(str(exc))
    else:
        if parsed.scheme != "http":
            # Only a scheme people use for proxies is named: any other text may be a secret.
            kind = _PROXY_SCHEMES.get(parsed.scheme, "not an http")
            problem = f"it is {kind}:// proxy; opwatch speaks to http:// proxies only"
        elif not parsed.host:
            problem = "it names no host"
        elif parsed.port is not None and not 0 < parsed.port < 65536:
            problem = "its port is not a number from 0 to 65535"
    if problem is None:
        return proxy
    raise ConfigError(f"the proxy in ${variable} cannot be used: {problem}")


def _url_problem(message: str) -> str:
    """What is wrong with a URL, from httpx's InvalidURL message, without the URL's text."""
    lowered = message.lower()
    if "port" in lowered:
        return "its port is not a number from 0 to 65535"
    if any(word in lowered for word in ("ipv4", "ipv6", "idna")):
        return "its host is not a valid name or address"
    if "character" in lowered:
        return "it holds a character no URL may"
    return "it is not a URL"


def _exempts(entry: str, url: httpx.URL) -> bool:
    """Whether one `no_proxy` entry covers `url`."""
    scheme = ""
    if "://" in entry:
        scheme, _, entry = entry.partition("://")
    subdomains_only = entry.startswith(("*.", "."))
    named = entry.lstrip("*").lstrip(".")
    host, port = _split_port(named)
    if not host:
        return False
    try:
        wanted = httpx.URL(f"http://{_bracketed(host)}/").host
    except httpx.InvalidURL:
        return False
    if scheme and scheme.lower() != url.scheme:
        return False
    if port is not None and port != (url.port or DEFAULT_PORTS.get(url.scheme)):
        return False
    actual = url.host
    if actual == wanted:
        return not subdomains_only
    literal = ":" in wanted or wanted.replace(".", "").isdigit() or wanted == "localhost"
    return not literal and not scheme and actual.endswith("." + wanted)


def _split_port(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `::1`, `[::1]` or `[::1]:port` into host and port."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry.split("/")[0], None


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _tls_context(profile: Profile) -> ssl.SSLContext:
    """Certificates checked against `ca_bundle`, else as httpx does (certifi, SSL_CERT_FILE)."""
    if profile.ca_bundle:
        return ssl.create_default_context(cafile=profile.ca_bundle)
    return httpx.create_ssl_context(verify=profile.verify_tls)
