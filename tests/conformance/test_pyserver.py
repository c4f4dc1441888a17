"""Against Python's own http.server: HTTP/1.0 replies read to the close, and HTTP/1.1 replies
on a kept connection."""

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.conformance.harness import both, ours, reply, stock

BODY = '{"state": "running", "name": "Zürich"}'.encode()


class OldStyle(BaseHTTPRequestHandler):
    """HTTP/1.0, no Content-Length: the body ends when the server closes."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


class KeepAlive(OldStyle):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()

    def do_GET(self) -> None:
        KeepAlive.connections.add(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


@pytest.fixture(scope="module", params=[OldStyle, KeepAlive], ids=["http-1.0", "http-1.1"])
def server(request: pytest.FixtureRequest) -> Iterator[ThreadingHTTPServer]:
    # Bound and listening once constructed: requests queue until the thread serves them.
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(httpd: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/ops/1"


def test_a_reply(server: ThreadingHTTPServer) -> None:
    mine, theirs = both(url(server))
    assert mine == theirs == reply(200, BODY)  # same


def test_three_reads(server: ThreadingHTTPServer) -> None:
    KeepAlive.connections.clear()
    mine = [outcome for outcome, _ in asyncio.run(ours(url(server), repeat=3))]
    kept = len(KeepAlive.connections)
    theirs = [outcome for outcome, _ in asyncio.run(stock(url(server), repeat=3))]
    assert mine == theirs == [reply(200, BODY)] * 3  # same
    if server.RequestHandlerClass is KeepAlive:
        assert kept == 1  # one connection served all three
