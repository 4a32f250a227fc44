"""The fetcher against real servers on 127.0.0.1: the ``site`` fixture for well-behaved
HTTP, and raw sockets started here for servers that misbehave (drip, reset, lie)."""

from __future__ import annotations

import gzip
import random
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ereputation import __version__
from ereputation.config import FetchSettings
from ereputation.fetch import (
    MAX_BACKOFF,
    MAX_REDIRECTS,
    MAX_RETRY_AFTER,
    ROBOTS_ERROR_TTL,
    ROBOTS_TTL,
    Conditional,
    FetchResult,
    Redirected,
    next_poll_delay,
    parse_retry_after,
)
from ereputation.fetch import Fetcher as ThreadFetcher

FAST = FetchSettings(timeout=2, host_delay=0.0, per_host=4)


class ManyFetcher(ThreadFetcher):
    """``fetch`` through ``fetch_many`` (the poll's conditional GETs, one multi handle) when
    it can be: every test of this file runs both ways, and must get the same answers."""

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        obey_robots: bool = False,
    ) -> FetchResult:
        if obey_robots:
            return super().fetch(url, etag=etag, last_modified=last_modified, obey_robots=True)
        try:
            answers = [a for batch in self.fetch_many([Conditional(url, etag, last_modified)])
                       for a in batch]  # fmt: skip
        except RuntimeError:  # another test thread is in fetch_many: share the hosts' limits
            return super().fetch(url, etag=etag, last_modified=last_modified)
        assert len(answers) == 1 and answers[0][0].url == url
        result = answers[0][1]
        return self.follow(result) if isinstance(result, Redirected) else result


Fetcher: type[ThreadFetcher] = ThreadFetcher


@pytest.fixture(autouse=True, params=["threads", "multi"])
def _both_ways(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        globals(), "Fetcher", ManyFetcher if request.param == "multi" else ThreadFetcher
    )


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as fetcher:
        yield fetcher


# -- raw socket servers for misbehaving peers ------------------------------------------------


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each socket to ``serve`` in a thread."""

    def __init__(
        self, serve: Callable[[socket.socket], None], tls: ssl.SSLContext | None = None
    ) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.serve = serve
        self.tls = tls
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
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
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
    bomb = _gzip_bomb(64 * 1024 * 1024)  # 64 MB of zeros, about 64 KB on the wire
    assert len(bomb) < 100 * 1024
    url = site.add("/bomb", bomb, Content_Encoding="gzip")
    with Fetcher(FetchSettings(timeout=5, max_bytes=1024 * 1024)) as fetcher:
        tracemalloc.start()
        try:
            result = fetcher.fetch(url)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.error == "larger than 1 MB"
    assert result.body is None
    # Decompressing a whole 64 KB network chunk at once would take about 64 MB.
    assert peak < 8 * 1024 * 1024


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


# -- redirects and schemes --------------------------------------------------------------------


def test_redirects_are_followed_absolute_and_relative(site, fetcher):
    site.add("/old", status=301, Location=site.url("/middle"))
    site.add("/middle", status=302, Location="final")
    final = site.add("/final", "<rss/>")
    result = fetcher.fetch(site.url("/old"))
    assert result.ok and result.body == b"<rss/>"
    assert result.url == site.url("/old")
    assert result.final_url == final


def test_redirect_loop_ends_with_a_clear_error(site, fetcher):
    site.add("/a", status=302, Location="/b")
    site.add("/b", status=302, Location="/a")
    result = fetcher.fetch(site.url("/a"))
    assert not result.ok
    assert result.error == f"redirect loop: {site.url('/b')} -> {site.url('/a')}"
    assert len(site.hits("/a")) == 1 and len(site.hits("/b")) == 1


def test_redirect_chain_is_limited(site, fetcher):
    for i in range(MAX_REDIRECTS + 1):
        site.add(f"/r{i}", status=307, Location=f"/r{i + 1}")
    site.add(f"/r{MAX_REDIRECTS + 1}", "<rss/>")
    assert fetcher.fetch(site.url("/r1")).body == b"<rss/>"  # exactly MAX_REDIRECTS hops
    result = fetcher.fetch(site.url("/r0"))
    assert result.error.startswith(f"too many redirects (more than {MAX_REDIRECTS})")
    assert result.body is None


@pytest.mark.parametrize("target", ["ftp://example.com/feed", "file:///etc/passwd"])
def test_redirect_to_other_schemes_is_refused(site, fetcher, target):
    url = site.add("/sneaky", status=302, Location=target)
    result = fetcher.fetch(url)
    scheme = target.split(":")[0]
    assert result.error == f"redirect to unsupported scheme '{scheme}': {target}"
    assert result.final_url == target


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed", "file:///etc/passwd", "javascript:alert(1)", "example.com"]
)
def test_only_http_and_https_urls_are_fetched(fetcher, url):
    result = fetcher.fetch(url)
    assert not result.ok
    assert result.error.startswith("unsupported URL scheme")


def test_redirect_without_location_is_an_error(site, fetcher):
    result = fetcher.fetch(site.add("/moved", status=301))
    assert result.status == 301
    assert result.error == "HTTP 301 Moved Permanently"


# -- errors become values ---------------------------------------------------------------------


def test_http_errors_keep_their_status(site, fetcher):
    result = fetcher.fetch(site.add("/boom", "oops", status=500))
    assert result.status == 500 and result.body is None
    assert result.error == "HTTP 500 Internal Server Error"
    assert result.retry_after is None
    missing = fetcher.fetch(site.url("/nothing-here"))
    assert missing.status == 404 and missing.error == "HTTP 404 Not Found"


def test_too_many_requests_gives_retry_after_in_seconds(site, fetcher):
    result = fetcher.fetch(site.add("/busy", status=429, Retry_After="120"))
    assert result.status == 429
    assert result.error == "HTTP 429 Too Many Requests"
    assert result.retry_after == 120.0


def test_unavailable_gives_retry_after_from_a_date(site, fetcher):
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    result = fetcher.fetch(site.add("/down", status=503, Retry_After=when))
    assert result.error == "HTTP 503 Service Unavailable"
    assert 3500 < result.retry_after <= 3600


def test_retry_after_is_kept_when_the_error_page_is_too_big_to_read(site, fetcher):
    # The body of an error is read only up to 64 KB (to reuse the connection), then dropped.
    url = site.add("/busy-page", "<p>busy</p>" * 20_000, status=503, Retry_After="90")
    result = fetcher.fetch(url)
    assert result.error == "HTTP 503 Service Unavailable"
    assert result.retry_after == 90.0 and result.body is None


def test_retry_after_parsing():
    now = datetime(2025, 5, 5, 10, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after(" 30 ", now) == 30.0
    assert parse_retry_after("99999999", now) == MAX_RETRY_AFTER
    assert parse_retry_after("Mon, 05 May 2025 10:02:00 GMT", now) == 120.0
    assert parse_retry_after("Mon, 05 May 2025 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("Fri, 05 May 2045 09:00:00 GMT", now) == MAX_RETRY_AFTER
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None


def test_connection_refused_is_an_error(fetcher):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = fetcher.fetch(f"http://127.0.0.1:{port}/feed")
    assert result.status is None
    assert result.error.startswith("cannot connect:")
    assert "refused" in result.error.lower()


def test_connection_reset_is_an_error(raw_server, fetcher):
    def reset(conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    result = fetcher.fetch(raw_server(reset).url)
    assert result.status is None
    assert result.error.startswith("network error:")


def test_garbage_instead_of_http_is_an_error(raw_server, fetcher):
    server = raw_server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.0\r\n\r\n"))
    result = fetcher.fetch(server.url)
    assert result.status is None
    assert result.error.startswith("bad response:")


@pytest.mark.parametrize("url", ["http://", "http://[::1", "http://exa mple.com/"])
def test_malformed_urls_are_errors(fetcher, url):
    result = fetcher.fetch(url)
    assert not result.ok and result.error


def test_unsendable_validator_is_an_error_not_an_exception(site, fetcher):
    url = site.add("/feed.xml", "<rss/>")
    result = fetcher.fetch(url, etag='"a"\r\nX-Injected: 1')
    assert result.error.startswith("bad request: Illegal header value")
    assert site.hits("/feed.xml") == []


# -- connection reuse -------------------------------------------------------------------------


def test_one_connection_is_reused_across_200_304_and_404(site, fetcher):
    ports: list[int] = []

    def handler(status: int) -> Callable[[BaseHTTPRequestHandler], None]:
        def handle(request: BaseHTTPRequestHandler) -> None:
            ports.append(request.client_address[1])
            if request.headers.get("If-None-Match") == '"v"':
                status_now = 304
            else:
                status_now = status
            request.send_response(status_now)
            request.send_header("ETag", '"v"')
            if status_now != 304:
                request.send_header("Content-Length", "6")
            request.end_headers()
            if status_now != 304:
                request.wfile.write(b"<rss/>")

        return handle

    feed = site.add_handler("/feed.xml", handler(200))
    gone = site.add_handler("/gone.xml", handler(404))
    assert fetcher.fetch(feed).ok
    assert fetcher.fetch(feed, etag='"v"').not_modified
    assert fetcher.fetch(gone).status == 404
    assert fetcher.fetch(feed).ok
    assert len(ports) == 4 and len(set(ports)) == 1


def test_many_threads_share_one_fetcher(site):
    urls = [site.add(f"/f{i}.xml", f"<rss>{i}</rss>") for i in range(40)]
    urls += [u.replace("127.0.0.1", "localhost") for u in urls[:10]]
    with Fetcher(FetchSettings(timeout=5, per_host=3, host_delay=0.0)) as fetcher:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(fetcher.fetch, urls))
    assert all(r.ok for r in results)
    assert [r.body for r in results[:40]] == [f"<rss>{i}</rss>".encode() for i in range(40)]


# -- politeness -------------------------------------------------------------------------------


def _tracking_handler(
    hold: float, barrier: threading.Barrier | None = None
) -> tuple[Callable[[BaseHTTPRequestHandler], None], dict[str, float]]:
    """A handler that records the most requests it had in flight at once."""
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    def handle(request: BaseHTTPRequestHandler) -> None:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            if barrier is not None:
                barrier.wait(timeout=5)
            time.sleep(hold)
        finally:
            with lock:
                state["now"] -= 1
        request.send_response(200)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")

    return handle, state


def test_per_host_limits_requests_in_flight(site):
    handle, state = _tracking_handler(hold=0.1)
    url = site.add_handler("/slow", handle)
    with Fetcher(FetchSettings(timeout=5, per_host=1, host_delay=0.0)) as fetcher:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: fetcher.fetch(url), range(4)))
    assert all(r.ok for r in results)
    assert state["max"] == 1


def test_per_host_allows_that_many_at_once(site):
    # The barrier only opens when two requests are in the server together.
    handle, state = _tracking_handler(hold=0.05, barrier=threading.Barrier(2))
    url = site.add_handler("/pair", handle)
    with Fetcher(FetchSettings(timeout=5, per_host=2, host_delay=0.0)) as fetcher:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: fetcher.fetch(url), range(4)))
    assert all(r.ok for r in results), [r.error for r in results]
    assert state["max"] == 2


def test_different_hosts_do_not_wait_for_each_other(site):
    # per_host=1, yet both requests must be in the server together to pass the barrier.
    handle, _ = _tracking_handler(hold=0.0, barrier=threading.Barrier(2))
    url = site.add_handler("/both", handle)
    other_host = url.replace("127.0.0.1", "localhost")
    with Fetcher(FetchSettings(timeout=5, per_host=1, host_delay=5.0)) as fetcher:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(fetcher.fetch, [url, other_host]))
    assert all(r.ok for r in results), [r.error for r in results]


def _arrivals_handler() -> tuple[Callable[[BaseHTTPRequestHandler], None], list[float]]:
    """A handler that answers "ok" and records when each request arrived."""
    arrivals: list[float] = []

    def handle(request: BaseHTTPRequestHandler) -> None:
        arrivals.append(time.monotonic())
        request.send_response(200)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")

    return handle, arrivals


def test_host_delay_spaces_request_starts(site):
    handle, arrivals = _arrivals_handler()
    url = site.add_handler("/spaced", handle)
    with Fetcher(FetchSettings(timeout=5, per_host=4, host_delay=0.3)) as fetcher:
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: fetcher.fetch(url), range(3)))
    assert all(r.ok for r in results)
    arrivals.sort()
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    # Starts are 0.3 s apart on our side; arrival can shift by connection setup.
    assert len(gaps) == 2 and min(gaps) > 0.2


# -- robots.txt -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ROBOTS = """\
User-agent: *
Disallow: /private/

User-agent: ereputation
Disallow: /no-bots/
Disallow: /private/
"""


def test_robots_disallowed_url_is_never_contacted(site, fetcher):
    site.add("/robots.txt", ROBOTS)
    blocked = site.add("/no-bots/page.html", "<html/>")
    allowed = site.add("/news/page.html", "<html/>")
    result = fetcher.fetch(blocked, obey_robots=True)
    assert result.error == "disallowed by robots.txt"
    assert result.status is None and not result.ok
    assert site.hits("/no-bots/page.html") == []
    assert fetcher.fetch(allowed, obey_robots=True).body == b"<html/>"


def test_robots_ignored_unless_asked(site, fetcher):
    site.add("/robots.txt", "User-agent: *\nDisallow: /\n")
    feed = site.add("/feed.xml", "<rss/>")
    assert fetcher.fetch(feed).body == b"<rss/>"
    assert site.hits("/robots.txt") == []


def test_robots_group_for_another_agent_does_not_apply(site, fetcher):
    site.add("/robots.txt", "User-agent: GPTBot\nDisallow: /\n")
    page = site.add("/article.html", "<html/>")
    assert fetcher.fetch(page, obey_robots=True).ok


def test_robots_fetched_once_per_host_then_cached_for_a_while(site):
    site.add("/robots.txt", ROBOTS)
    page = site.add("/a.html", "<html/>")
    clock = FakeClock()
    with Fetcher(FAST, clock=clock) as fetcher:
        for _ in range(3):
            assert fetcher.fetch(page, obey_robots=True).ok
        assert len(site.hits("/robots.txt")) == 1
        assert site.hits("/robots.txt")[0].headers["User-Agent"].startswith("ereputation/")
        clock.now += ROBOTS_TTL + 1
        assert fetcher.fetch(page, obey_robots=True).ok
        assert len(site.hits("/robots.txt")) == 2


def test_robots_fetched_once_when_many_threads_ask_together(site):
    site.add("/robots.txt", ROBOTS)
    pages = [site.add(f"/p{i}.html", "<html/>") for i in range(8)]
    with Fetcher(FetchSettings(timeout=5, per_host=8, host_delay=0.0)) as fetcher:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda u: fetcher.fetch(u, obey_robots=True), pages))
    assert all(r.ok for r in results)
    assert len(site.hits("/robots.txt")) == 1


def test_missing_robots_allows_everything(site, fetcher):
    page = site.add("/private/page.html", "<html/>")  # no /robots.txt route: 404
    assert fetcher.fetch(page, obey_robots=True).ok


def test_robots_server_error_blocks_the_host_for_a_while(site):
    site.add("/robots.txt", "oops", status=503)
    page = site.add("/page.html", "<html/>")
    clock = FakeClock()
    with Fetcher(FAST, clock=clock) as fetcher:
        result = fetcher.fetch(page, obey_robots=True)
        assert result.error == (
            "disallowed by robots.txt (robots.txt unreachable: HTTP 503 Service Unavailable)"
        )
        assert site.hits("/page.html") == []
        site.add("/robots.txt", "User-agent: *\nAllow: /\n")
        assert not fetcher.fetch(page, obey_robots=True).ok  # still within the error period
        clock.now += ROBOTS_ERROR_TTL + 1
        assert fetcher.fetch(page, obey_robots=True).ok


def test_unreachable_robots_blocks_the_host(raw_server, fetcher):
    server = raw_server(
        lambda conn: conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    )
    result = fetcher.fetch(server.url + "page.html", obey_robots=True)
    assert result.error.startswith("disallowed by robots.txt (robots.txt unreachable: network")


def test_robots_checked_on_redirect_targets(site, fetcher):
    site.add("/robots.txt", ROBOTS)
    site.add("/go", status=302, Location="/private/secret.html")
    site.add("/private/secret.html", "<html/>")
    result = fetcher.fetch(site.url("/go"), obey_robots=True)
    assert result.error == "disallowed by robots.txt"
    assert result.final_url == site.url("/private/secret.html")
    assert site.hits("/private/secret.html") == []


# -- backoff ----------------------------------------------------------------------------------


def test_backoff_doubles_then_caps_at_a_day():
    assert next_poll_delay(900, 0) == 900
    assert next_poll_delay(900, 1) == 1800
    assert next_poll_delay(900, 3) == 7200
    assert next_poll_delay(900, 10) == MAX_BACKOFF
    assert next_poll_delay(900, 10_000) == MAX_BACKOFF
    assert next_poll_delay(3 * 86400, 5) == 3 * 86400  # a weekly-ish source stays as slow


def test_backoff_never_sooner_than_retry_after():
    assert next_poll_delay(900, 0, retry_after=3600) == 3600
    assert next_poll_delay(900, 1, retry_after=60) == 1800


def test_backoff_jitter_comes_from_the_given_random():
    first = next_poll_delay(900, 4, rng=random.Random(7))
    assert first == next_poll_delay(900, 4, rng=random.Random(7))
    assert 0.8 * 900 * 16 <= first <= 900 * 16
    spread = {next_poll_delay(900, 4, rng=random.Random(seed)) for seed in range(20)}
    assert len(spread) > 1


@given(
    every=st.integers(1, 7 * 86400),
    failures=st.integers(0, 1000),
    retry_after=st.none() | st.floats(0, MAX_RETRY_AFTER),
    seed=st.none() | st.integers(0, 2**32),
)
def test_backoff_bounds(every, failures, retry_after, seed):
    rng = None if seed is None else random.Random(seed)
    delay = next_poll_delay(every, failures, retry_after, rng=rng)
    assert delay >= every
    assert retry_after is None or delay >= retry_after
    assert delay <= max(MAX_BACKOFF, every, retry_after or 0)
    if seed is None:
        assert next_poll_delay(every, failures + 1, retry_after) >= delay


def test_redirect_to_a_malformed_url_is_an_error(site, fetcher):
    result = fetcher.fetch(site.add("/bad-redirect", status=302, Location="http://[::1/feed"))
    assert result.error.startswith("bad response: Invalid URL in location header")


# -- https ------------------------------------------------------------------------------------


@pytest.fixture
def tls_files(tmp_path, monkeypatch) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 that the fetcher trusts (via SSL_CERT_FILE)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return str(cert), str(key)


def _tls_server(cert: str, key: str, serve: Callable[[socket.socket], None]) -> RawServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return RawServer(serve, tls=context)


def test_https_fetch_and_deadline(tls_files):
    cert, key = tls_files

    def good(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<rss/>")

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        _drip(conn, b"d" * 100)

    servers = [_tls_server(cert, key, good), _tls_server(cert, key, drip)]
    try:
        with Fetcher(FetchSettings(timeout=1)) as fetcher:
            assert fetcher.fetch(servers[0].url).body == b"<rss/>"
            result = fetcher.fetch(servers[1].url)
            assert result.error == "timed out: no complete answer within 1 s"
    finally:
        for server in servers:
            server.close()
