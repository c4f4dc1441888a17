"""Through tinyproxy, to nginx: absolute-form for http://, CONNECT for https://, with and
without credentials, and no_proxy read from the environment as httpx reads it."""

import asyncio

import pytest

from opwatch.errors import ConfigError
from tests.conformance.conftest import PROXY_PASSWORD, PROXY_USER, Nginx, Proxies
from tests.conformance.harness import both, error, free_port, ours, reply, stock

OK = reply(200, b'{"ok": 1}')
CREDENTIALS = f"{PROXY_USER}:{PROXY_PASSWORD}@"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_through_an_open_proxy(nginx: Nginx, proxies: Proxies, scheme: str) -> None:
    url = nginx.url("/ok.json") if scheme == "http" else nginx.https(nginx.tls)
    proxy = proxies.url(proxies.open)
    mine, theirs = both(url, env={f"{scheme}_proxy": proxy}, proxy=proxy, ca_bundle=nginx.ca_bundle)
    assert mine == theirs == OK  # same


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_through_a_proxy_with_credentials(nginx: Nginx, proxies: Proxies, scheme: str) -> None:
    url = nginx.url("/ok.json") if scheme == "http" else nginx.https(nginx.tls)
    proxy = proxies.url(proxies.authenticated, CREDENTIALS)
    mine, theirs = both(url, env={"all_proxy": proxy}, proxy=proxy, ca_bundle=nginx.ca_bundle)
    assert mine == theirs == OK  # same


def test_wrong_proxy_credentials_over_http_are_the_proxys_reply(
    nginx: Nginx, proxies: Proxies
) -> None:
    proxy = proxies.url(proxies.authenticated, f"{PROXY_USER}:wrong@")
    mine, theirs = both(nginx.url("/ok.json"), env={"http_proxy": proxy}, proxy=proxy)
    # same: the proxy's own reply, 401 from tinyproxy 1.11 where RFC 9110 says 407
    assert mine.status == theirs.status
    assert mine.status in (401, 407)


def test_wrong_proxy_credentials_for_a_tunnel_are_named(nginx: Nginx, proxies: Proxies) -> None:
    proxy = proxies.url(proxies.authenticated, f"{PROXY_USER}:wrong-{PROXY_PASSWORD}@")
    url = nginx.https(nginx.tls)
    mine, theirs = both(url, env={"https_proxy": proxy}, proxy=proxy, ca_bundle=nginx.ca_bundle)
    assert mine == theirs == error("ProxyError")  # same
    assert "the proxy refused its credentials (40" in mine.reason
    assert PROXY_PASSWORD not in mine.reason


@pytest.mark.parametrize(
    ("no_proxy", "outcome"),
    [
        ("127.0.0.1", OK),
        ("other.test, 127.0.0.1:{port}", OK),
        ("*", OK),
        ("http://127.0.0.1", OK),
        ("127.0.0.1:1", error("ConnectError")),
        ("127.0.0.2", error("ConnectError")),
    ],
)
def test_no_proxy_from_the_environment_like_httpx(
    nginx: Nginx, monkeypatch: pytest.MonkeyPatch, no_proxy: str, outcome: object
) -> None:
    """The proxy named is a closed port: a request that goes to it fails to connect."""
    env = {
        "http_proxy": f"http://127.0.0.1:{free_port()}",
        "no_proxy": no_proxy.format(port=nginx.plain),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    url = nginx.url("/ok.json")
    mine = asyncio.run(ours(url, env=env))[0][0]
    theirs = asyncio.run(stock(url, trust_env=True))[0][0]  # httpx reads os.environ
    assert mine == theirs == outcome  # same


def test_a_socks_proxy_is_refused_by_name_before_any_request() -> None:
    """httpx needs its socks extra for this; opwatch speaks to http:// proxies only, and says
    so when the profile's client is made (nothing listens on port 1)."""
    with pytest.raises(ConfigError, match=r"\$all_proxy cannot be used: it is a socks5:// proxy"):
        asyncio.run(ours("http://127.0.0.1:1/ok.json", env={"all_proxy": "socks5://s:1"}))
