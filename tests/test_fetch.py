"""The fetcher against real servers on 127.0.0.1: the ``site`` fixture for well-behaved
HTTP, and raw sockets started here for servers that misbehave (drip, reset, lie)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from ereputation import __version__
from ereputation.config import FetchSettings
from ereputation.fetch import (
    Fetcher,
)

FAST = FetchSettings(timeout=2, host_delay=0.0, per_host=4)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as fetcher:
        yield fetcher


# -- raw socket servers for misbehaving peers ------------------------------------------------


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each socket to ``serve`` in a thread."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.serve = serve
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            _read_request(conn)
            self.serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(serve: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(serve))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _drip(conn: socket.socket, data: bytes, pause: float = 0.25, limit: float = 15.0) -> None:
    """Send ``data`` a byte at a time; gives up after ``limit`` seconds or a closed client."""
    stop = time.monotonic() + limit
    for byte in data:
        if time.monotonic() > stop:
            return
        conn.sendall(bytes([byte]))
        time.sleep(pause)


# -- plain fetching ---------------------------------------------------------------------------


def test_fetch_returns_body_and_validators(site, fetcher):
    url = site.add(
        "/feed.xml",
        "<rss>é</rss>",
        Content_Type="application/rss+xml; charset=utf-8",
        ETag='"v1"',
        Last_Modified="Mon, 05 May 2025 10:00:00 GMT",
    )
    result = fetcher.fetch(url)
    assert result.ok
    assert result.error is None
    assert result.status == 200
    assert result.body == "<rss>é</rss>".encode()
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 05 May 2025 10:00:00 GMT"
    assert not result.not_modified
    assert result.url == result.final_url == url


def test_request_headers_name_us_and_ask_for_feeds_compressed(site, fetcher):
    url = site.add("/feed.xml", "<rss/>")
    fetcher.fetch(url)
    headers = site.hits("/feed.xml")[0].headers
    assert headers["User-Agent"] == (
        f"ereputation/{__version__} (+https://github.com/ereputation/ereputation)"
    )
    assert "application/rss+xml" in headers["Accept"]
    assert "gzip" in headers["Accept-Encoding"]
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


def test_user_agent_can_be_overridden(site):
    url = site.add("/feed.xml", "<rss/>")
    with Fetcher(FAST, user_agent="ereputation/{version} (+mailto:com@example.ma)") as fetcher:
        fetcher.fetch(url)
    agent = site.hits("/feed.xml")[0].headers["User-Agent"]
    assert agent == f"ereputation/{__version__} (+mailto:com@example.ma)"


def test_conditional_get_with_etag_gives_not_modified(site, fetcher):
    url = site.add("/feed.xml", "<rss/>", ETag='"abc"')
    first = fetcher.fetch(url)
    second = fetcher.fetch(url, etag=first.etag)
    assert site.hits("/feed.xml")[1].headers["If-None-Match"] == '"abc"'
    assert second.ok and second.not_modified
    assert second.status == 304
    assert second.body is None
    assert second.etag == '"abc"'


def test_conditional_get_with_last_modified(site, fetcher):
    stamp = "Mon, 05 May 2025 10:00:00 GMT"

    def handler(request: BaseHTTPRequestHandler) -> None:
        if request.headers.get("If-Modified-Since") == stamp:
            request.send_response(304)
            request.end_headers()
            return
        request.send_response(200)
        request.send_header("Last-Modified", stamp)
        request.send_header("Content-Length", "6")
        request.end_headers()
        request.wfile.write(b"<rss/>")

    url = site.add_handler("/feed.xml", handler)
    first = fetcher.fetch(url)
    assert first.body == b"<rss/>" and first.last_modified == stamp
    second = fetcher.fetch(url, etag='"old"', last_modified=stamp)
    assert second.not_modified and second.body is None
    # The server sent no validators with its 304: the ones we had stay valid.
    assert second.last_modified == stamp and second.etag == '"old"'


def test_gzip_and_deflate_bodies_are_decoded(site, fetcher):
    text = b"<rss>" + b"mention " * 1000 + b"</rss>"
    gz = site.add("/gz", gzip.compress(text), Content_Encoding="gzip")
    zl = site.add("/zlib", zlib.compress(text), Content_Encoding="deflate")
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    rd = site.add(
        "/raw", raw_deflate.compress(text) + raw_deflate.flush(), Content_Encoding="deflate"
    )
    for url in (gz, zl, rd):
        result = fetcher.fetch(url)
        assert result.error is None, url
        assert result.body == text


def test_unknown_content_encoding_is_an_error(site, fetcher):
    result = fetcher.fetch(site.add("/br", b"\x0b\x02\x80", Content_Encoding="br"))
    assert not result.ok
    assert result.error == "unsupported Content-Encoding: br"


def test_corrupt_gzip_is_an_error_not_an_exception(site, fetcher):
    result = fetcher.fetch(site.add("/bad", b"not gzip at all", Content_Encoding="gzip"))
    assert not result.ok and result.error.startswith("cannot decode gzip body")


# -- size cap ---------------------------------------------------------------------------------


def test_default_cap_is_reported_as_10_mb(site):
    url = site.add("/big", b"x" * (10 * 1024 * 1024 + 1))
    with Fetcher(FetchSettings(timeout=5)) as fetcher:
        result = fetcher.fetch(url)
    assert result.error == "larger than 10 MB"
    assert result.body is None and not result.ok


def test_body_at_the_cap_is_accepted(site):
    url = site.add("/exact", b"x" * 1000)
    with Fetcher(FetchSettings(timeout=2, max_bytes=1000)) as fetcher:
        assert fetcher.fetch(url).body == b"x" * 1000


def test_body_without_content_length_is_cut_at_the_cap(raw_server):
    def serve(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        for _ in range(100):  # 6.4 MB, far past the cap
            conn.sendall(b"y" * 65536)

    server = raw_server(serve)
    with Fetcher(FetchSettings(timeout=5, max_bytes=100_000)) as fetcher:
        result = fetcher.fetch(server.url)
    assert result.error == "larger than 97.7 KB"


def _gzip_bomb(decoded_size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(decoded_size >> 20)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_gzip_bomb_stops_at_the_decoded_cap(site):
    bomb = _gzip_bomb(200 * 1024 * 1024)  # 200 MB of zeros, about 200 KB on the wire
    assert len(bomb) < 1024 * 1024
    url = site.add("/bomb", bomb, Content_Encoding="gzip")
    with Fetcher(FetchSettings(timeout=5, max_bytes=1024 * 1024)) as fetcher:
        result = fetcher.fetch(url)
    assert result.error == "larger than 1 MB"
    assert result.body is None


# -- timeouts and the overall deadline --------------------------------------------------------


def test_silent_server_times_out(raw_server):
    server = raw_server(lambda conn: time.sleep(5))
    with Fetcher(FetchSettings(timeout=1)) as fetcher:
        result = fetcher.fetch(server.url)
    assert result.status is None
    assert result.error == "timed out: no complete answer within 1 s"


def test_server_dripping_headers_is_cut_by_the_deadline(raw_server):
    # Each byte arrives well within the read timeout; only the overall deadline can end it.
    headers = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Padding: " + b"z" * 200 + b"\r\n\r\nok"
    server = raw_server(lambda conn: _drip(conn, headers))
    with Fetcher(FetchSettings(timeout=1)) as fetcher:
        result = fetcher.fetch(server.url)
    assert result.body is None
    assert result.error == "timed out: no complete answer within 1 s"


def test_server_dripping_body_is_cut_by_the_deadline(raw_server):
    def serve(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n")
        _drip(conn, b"b" * 200)

    server = raw_server(serve)
    with Fetcher(FetchSettings(timeout=1)) as fetcher:
        result = fetcher.fetch(server.url)
    assert result.status == 200
    assert result.body is None
    assert result.error == "timed out: no complete answer within 1 s"


def test_fetcher_still_works_after_a_deadline(raw_server, site):
    # The deadline belongs to one request: the thread's next request gets a fresh one.
    server = raw_server(lambda conn: _drip(conn, b"HTTP/1.1 200 OK\r\n" + b"X" * 100))
    url = site.add("/feed.xml", "<rss/>")
    with Fetcher(FetchSettings(timeout=1)) as fetcher:
        assert fetcher.fetch(server.url).error is not None
        assert fetcher.fetch(url).body == b"<rss/>"
