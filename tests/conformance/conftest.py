"""The real servers of the conformance suite, started once per session on loopback ports.

nginx serves plain HTTP (gzip, keep-alive limits, 204/304, many cookies, non-ASCII headers,
IPv6) and TLS with certificates from a throwaway authority (trusted, wrong host, expired,
TLS 1.3 only, TLS 1.0 only); tinyproxy runs open and with Basic credentials.
"""

import datetime
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.conformance.harness import free_port, need, running

COOKIES = 40
PLACE = "Zürich"
PROXY_USER, PROXY_PASSWORD = "watcher", "s3cret-proxy-pw"


@dataclass(frozen=True)
class Nginx:
    plain: int
    """Port of the plain-HTTP server (also on [::1])."""
    limited: int
    """Port of a plain server closing each connection after 2 requests."""
    tls: int
    wrong_host: int
    expired: int
    tls13: int
    tls10: int
    ca_bundle: Path
    access_log: Path

    def url(self, path: str, port: int | None = None, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{port or self.plain}{path}"

    def https(self, port: int, path: str = "/ok.json") -> str:
        return f"https://localhost:{port}{path}"

    def connections_seen(self, since: int) -> list[str]:
        """nginx's connection numbers of the requests logged after line `since`."""
        return [line.split()[0] for line in self.access_log.read_text().splitlines()[since:]]

    def logged(self) -> int:
        return len(self.access_log.read_text().splitlines()) if self.access_log.exists() else 0


@pytest.fixture(scope="session")
def authority() -> trustme.CA:
    return trustme.CA()


NGINX_CONF = """
daemon off;
worker_processes 1;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    log_format compact '$connection $connection_requests $request $status';
    access_log {root}/access.log compact;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    types {{ application/json json; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{plain};
        listen [::1]:{plain};
        root {root}/www;
        location /gz/ {{
            gzip on; gzip_types application/json; gzip_min_length 0;
            alias {root}/www/;
        }}
        location = /nocontent {{ return 204; }}
        location = /cookies {{
            {cookies}
            default_type application/json;
            return 200 '{{}}';
        }}
        location = /place {{
            add_header X-Place "{place}";
            default_type application/json;
            return 200 '{{"place": "{place}"}}';
        }}
    }}
    server {{
        listen 127.0.0.1:{limited};
        keepalive_requests 2;
        root {root}/www;
    }}
    {tls_servers}
}}
"""

TLS_SERVER = """
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols {protocols};
        ssl_ciphers {ciphers};
        root {root}/www;
    }}
"""


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory, authority: trustme.CA) -> Iterator[Nginx]:
    binary = need("nginx")
    root = tmp_path_factory.mktemp("nginx")
    (root / "tmp").mkdir()
    www = root / "www"
    www.mkdir()
    (www / "ok.json").write_text('{"ok": 1}')
    big = {"items": [{"id": index, "state": "succeeded"} for index in range(12_000)]}
    (www / "big.json").write_text(json.dumps(big))  # ~400 KB: streams past the first read
    ca_bundle = root / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_bundle))

    def pair(name: str, *hosts: str, expired: bool = False) -> tuple[Path, Path]:
        if expired:
            past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
            leaf = authority.issue_cert(
                *hosts, not_before=past, not_after=past + datetime.timedelta(days=1)
            )
        else:
            leaf = authority.issue_cert(*hosts)
        cert, key = root / f"{name}.crt", root / f"{name}.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        for pem in leaf.cert_chain_pems[1:]:
            pem.write_to_path(str(cert), append=True)
        leaf.private_key_pem.write_to_path(str(key))
        return cert, key

    ports = {name: free_port() for name in ("tls", "wrong_host", "expired", "tls13", "tls10")}
    certs = {
        "tls": pair("good", "localhost"),
        "wrong_host": pair("other", "other.test"),
        "expired": pair("expired", "localhost", expired=True),
        "tls13": pair("good13", "localhost"),
        "tls10": pair("good10", "localhost"),
    }
    protocols = {"tls13": "TLSv1.3", "tls10": "TLSv1"}
    tls_servers = "".join(
        TLS_SERVER.format(
            port=ports[name],
            cert=certs[name][0],
            key=certs[name][1],
            protocols=protocols.get(name, "TLSv1.2 TLSv1.3"),
            # OpenSSL 3 refuses TLS 1.0 at its default security level even to serve it.
            ciphers="DEFAULT:@SECLEVEL=0" if name == "tls10" else "HIGH:!aNULL",
            root=root,
        )
        for name in ports
    )
    plain, limited = free_port(), free_port()
    cookies = " ".join(f'add_header Set-Cookie "c{n}=v{n}; Path=/";' for n in range(COOKIES))
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            root=root,
            plain=plain,
            limited=limited,
            cookies=cookies,
            place=PLACE,
            tls_servers=tls_servers,
            # Workers drop to `nobody` when started as root, who cannot read pytest's tmp dir.
            user="user root;" if os.geteuid() == 0 else "",
        )
    )
    with running(
        [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        [plain, limited, *ports.values()],
        root / "error.log",
    ):
        yield Nginx(
            plain=plain,
            limited=limited,
            ca_bundle=ca_bundle,
            access_log=root / "access.log",
            **ports,
        )


@dataclass(frozen=True)
class Proxies:
    open: int
    authenticated: int

    def url(self, port: int, credentials: str = "") -> str:
        return f"http://{credentials}127.0.0.1:{port}"


TINYPROXY_CONF = """
Port {port}
Listen 127.0.0.1
Timeout 10
MaxClients 32
LogFile "{root}/tinyproxy-{port}.log"
LogLevel Info
PidFile "{root}/tinyproxy-{port}.pid"
DisableViaHeader Yes
{user}
{auth}
"""


@pytest.fixture(scope="session")
def proxies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxies]:
    binary = need("tinyproxy")
    root = tmp_path_factory.mktemp("tinyproxy")
    ports = Proxies(open=free_port(), authenticated=free_port())
    # No ConnectPort line: CONNECT is allowed to every port (the servers' are ephemeral).
    user = "User root\nGroup root" if os.geteuid() == 0 else ""
    argvs = []
    for port, auth in ((ports.open, ""), (ports.authenticated, "BasicAuth {} {}")):
        conf = root / f"tinyproxy-{port}.conf"
        conf.write_text(
            TINYPROXY_CONF.format(
                port=port, root=root, user=user, auth=auth.format(PROXY_USER, PROXY_PASSWORD)
            )
        )
        argvs.append(([binary, "-d", "-c", str(conf)], port, root / f"tinyproxy-{port}.log"))
    with (
        running(argvs[0][0], [argvs[0][1]], argvs[0][2]),
        running(argvs[1][0], [argvs[1][1]], argvs[1][2]),
    ):
        yield ports
