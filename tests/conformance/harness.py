"""What the conformance cases share: both clients, their outcomes, and servers to run them on.

Every case sends the same request through opwatch's shipped stack (a profile's Session, so
its transport, proxy and TLS settings as a user gets them) and through stock
`httpx.AsyncClient` (environment ignored unless the case says so), and compares the
`Outcome`s: opwatch matches httpx, or is stricter where that is safer, and the case says which.
"""

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opwatch.config import parse_config
from opwatch.runtime import Runtime
from opwatch.session import Session
from opwatch.transport import describe

TIMEOUT_S = 2.0
READY_S = 10.0
"""The longest a server may take to accept connections before the case fails."""


@dataclass(frozen=True)
class Outcome:
    """What one client made of one request: a reply, or the httpx error it raised."""

    status: int | None = None
    body: bytes | None = None
    error: str | None = None
    """The httpx exception class, `ConnectError` say."""
    reason: str = ""
    """For an error, opwatch's words for it (transport.describe), kept out of equality."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.status, self.body, self.error) == (other.status, other.body, other.error)

    def __hash__(self) -> int:
        return hash((self.status, self.body, self.error))


def reply(status: int, body: bytes = b"") -> Outcome:
    return Outcome(status=status, body=body)


def error(name: str) -> Outcome:
    return Outcome(error=name)


async def _outcome(send: Callable[[], Any]) -> tuple[Outcome, httpx.Response | None]:
    try:
        response: httpx.Response = await send()
    except httpx.RequestError as exc:
        return Outcome(error=type(exc).__name__, reason=describe(exc)), None
    return Outcome(status=response.status_code, body=response.content), response


async def ours(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    ca_bundle: Path | None = None,
    timeout_s: float = TIMEOUT_S,
    repeat: int = 1,
) -> list[tuple[Outcome, httpx.Response | None]]:
    """`repeat` requests to `url` through a profile's client, as `opwatch` sends them."""
    parsed = httpx.URL(url)
    base = str(parsed.copy_with(raw_path=b"/"))
    path = parsed.raw_path.decode("ascii")
    settings: dict[str, Any] = {
        "provider": "wesog",
        "api_key": "k",
        "url": base,
        "timeout": f"{timeout_s}s",
    }
    if ca_bundle is not None:
        settings["ca_bundle"] = str(ca_bundle)
    config = parse_config({"profiles": {"p": settings}}, Path("conformance.yaml"), {})
    results = []
    async with Session(config, Runtime(env=env or {})) as session:
        client = session.provider("p").client
        for _ in range(repeat):
            results.append(await _outcome(lambda: client.request(method, path, headers=headers)))
    return results


async def stock(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    verify: Any = True,
    proxy: str | None = None,
    trust_env: bool = False,
    timeout_s: float = TIMEOUT_S,
    repeat: int = 1,
) -> list[tuple[Outcome, httpx.Response | None]]:
    """The same requests through stock httpx.AsyncClient, with the headers opwatch sends."""
    sent = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate", **(headers or {})}
    results = []
    async with httpx.AsyncClient(
        verify=verify, proxy=proxy, trust_env=trust_env, timeout=timeout_s
    ) as client:
        for _ in range(repeat):
            results.append(await _outcome(lambda: client.request(method, url, headers=sent)))
    return results


def both(url: str, **options: Any) -> tuple[Outcome, Outcome]:
    """One request through each client: (opwatch's outcome, stock httpx's)."""
    ours_options = {k: v for k, v in options.items() if k not in ("verify", "proxy", "trust_env")}
    stock_options = {k: v for k, v in options.items() if k not in ("env", "ca_bundle")}
    if options.get("ca_bundle") and "verify" not in options:
        stock_options["verify"] = ssl.create_default_context(cafile=str(options["ca_bundle"]))
    mine = asyncio.run(ours(url, **ours_options))[0][0]
    theirs = asyncio.run(stock(url, **stock_options))[0][0]
    return mine, theirs


# Servers


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path | None = None) -> None:
    """Poll until `port` accepts a connection; fail with the server's log if it never does."""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.01)  # polling interval of the readiness check, bounded by READY_S
    text = log.read_text(errors="replace") if log and log.exists() else ""
    pytest.fail(f"{process.args!r} did not listen on {port}: {text[-2000:]}")


def need(tool: str) -> str:
    """The path of `tool`; in CI its absence fails the suite, elsewhere it skips the case."""
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if found:
        return found
    message = f"{tool} is not installed (apt-get install {tool}; .ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def running(argv: list[str], ports: list[int], log: Path | None = None) -> Iterator[None]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for port in ports:
            wait_for_port(port, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


Script = Callable[[socket.socket, int], None]
"""Serves one accepted connection (blocking socket); the int counts connections from 0."""


class Scripted:
    """A loopback server that runs `script` on each connection in a thread of its own, so
    either client's event loop talks to it as to any remote server."""

    def __init__(self, script: Script, host: str = "127.0.0.1") -> None:
        self.script = script
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.host = host
        self.connections = 0
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/ops/1") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> "Scripted":
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        for thread in self._threads:
            thread.join(2)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            number = self.connections
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket, number: int) -> None:
        with connection, contextlib.suppress(OSError):
            self.script(connection, number)


def read_request(connection: socket.socket) -> bytes:
    """One request's head (opwatch sends GETs without bodies); b"" once the client hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(65536)
        if not piece:
            return b""
        data += piece
    return data


def answering(*replies: bytes, close: bool = True) -> Script:
    """Answer the n-th request of each connection with `replies[n]`; then close, or (with
    close=False) wait for the client to hang up."""

    def script(connection: socket.socket, _: int) -> None:
        for answer in replies:
            if not read_request(connection):
                return
            connection.sendall(answer)
        if not close:
            while connection.recv(65536):
                pass

    return script
