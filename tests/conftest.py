"""Real components on loopback, shared by the tests: an HTTP server and an SMTP server.

``site`` is a threaded HTTP server on 127.0.0.1 whose routes a test sets as it likes; it records
every request so tests can check what the daemon sent (conditional headers, User-Agent, …).
``smtp`` is an aiosmtpd server on 127.0.0.1 that keeps every message it accepts.
"""

from __future__ import annotations

import email
import email.policy
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from ereputation.config import EmailSettings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# CI must not turn red on a random draw or a slow moment: there, property tests replay a
# fixed sequence of examples and have no per-example deadline. Locally they keep exploring.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@dataclass
class Response:
    """What the server answers on one path; ``handler`` may take over entirely."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


class Site:
    """Routes and request log of the loopback HTTP server."""

    def __init__(self) -> None:
        self.routes: dict[str, Response] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.base = ""

    def add(self, path: str, body: bytes | str = b"", status: int = 200, **headers: str) -> str:
        """Serve ``body`` at ``path``; returns the full URL.  Header names use ``_`` for ``-``."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Response(
            body, status, {k.replace("_", "-"): v for k, v in headers.items()}
        )
        return self.base + path

    def add_handler(self, path: str, handler: Callable[[BaseHTTPRequestHandler], None]) -> str:
        self.routes[path] = Response(handler=handler)
        return self.base + path

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


def _make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet tests
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            with site.lock:
                site.requests.append(Request("GET", self.path, dict(self.headers.items())))
            route = site.routes.get(self.path)
            if route is None:
                self._send(404, b"not found", {})
                return
            if route.handler is not None:
                route.handler(self)
                return
            etag = route.headers.get("ETag")
            if etag and self.headers.get("If-None-Match") == etag:
                self._send(304, b"", {"ETag": etag})
                return
            self._send(route.status, route.body, route.headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    """A real HTTP server on 127.0.0.1 (random port) serving the routes a test adds."""
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class Mailbox:
    """Messages accepted by the loopback SMTP server, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.fail_with: str | None = None  # e.g. "451 try later": refuse every message

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mail_settings(tmp_path: Path, smtp: Mailbox | None) -> EmailSettings:
    """Mail to the loopback ``smtp`` server (plain, no TLS), or to an outbox in ``tmp_path``."""
    from ereputation.config import EmailSettings

    if smtp is None:
        return EmailSettings(outbox=tmp_path / "outbox")
    return EmailSettings(
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        starttls=False,
        sender="e-réputation <alerts@example.ma>",
    )


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts."""
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
            if box.fail_with:
                return box.fail_with
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            box.messages.append(message)  # type: ignore[arg-type]
            box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 OK"

    box.port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()
