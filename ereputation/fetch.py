"""HTTP for the whole daemon: one polite, bounded, thread-safe ``Fetcher``.

This is the only module that talks HTTP.  ``Fetcher.fetch`` turns every network or HTTP
problem into a ``FetchResult`` with a one-line ``error``; it never raises for them, so one
broken source never stops a poll.  What it guarantees, whatever the server does:

* only ``http``/``https`` URLs, also after redirects (at most ``MAX_REDIRECTS``, loops end);
* a worker is held at most about ``FetchSettings.timeout`` seconds per request: connect,
  each read, and an overall deadline that also ends servers dripping a byte at a time;
* at most ``FetchSettings.max_bytes`` of body in memory, counted after decompression and
  checked while streaming, so a gzip bomb stops at the cap;
* at most ``per_host`` requests in flight to one host and ``host_delay`` seconds between the
  starts of two requests to one host; different hosts never wait for each other;
* robots.txt honoured on request (``obey_robots=True``), as RFC 9309 describes.

Threads share one ``Fetcher`` (one ``httpx.Client``, so connections are reused).
``next_poll_delay`` is the pure backoff rule for sources that keep failing.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from ereputation import __version__
from ereputation.config import FetchSettings
from ereputation.errors import FetchError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_BACKOFF = 24 * 3600.0  # a failing source is still tried once a day
MAX_RETRY_AFTER = 24 * 3600.0  # a server asking for more than a day is not taken literally
ROBOTS_TOKEN = "ereputation"
ROBOTS_TTL = 3600.0  # a robots.txt read is trusted this long
ROBOTS_ERROR_TTL = 600.0  # an unreachable robots.txt blocks the host this long (RFC 9309)
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "text/html;q=0.8, */*;q=0.5"
)
# Only what we decode ourselves: brotli would need a dependency and a bounded decoder.
ACCEPT_ENCODING = "gzip, deflate"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DRAIN_LIMIT = 64 * 1024  # small error bodies are read so the connection can be reused


@dataclass(frozen=True)
class FetchResult:
    """What one ``Fetcher.fetch`` gave: a body, "not modified", or an error line."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int | None  # HTTP status, None when no response
    body: bytes | None  # decoded (gzip/deflate); None on 304 or error
    content_type: str | None
    etag: str | None
    last_modified: str | None
    not_modified: bool  # 304: nothing more to do
    error: str | None  # one short line for logs and the sources table, None when ok
    retry_after: float | None  # seconds, from Retry-After on 429/503, capped at a day
    elapsed: float  # seconds spent in fetch(), waiting for the host included

    @property
    def ok(self) -> bool:
        """True for a 2xx body or a 304; the caller may then update etag/last_modified."""
        return self.error is None


class Fetcher:
    """A shared HTTP client for all sources; safe to call from many threads at once.

    ``clock`` (monotonic seconds) only decides when cached robots.txt files expire; tests
    pass their own to move time forward.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        user_agent: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.user_agent = (user_agent or settings.user_agent).replace("{version}", __version__)
        self._clock = clock
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostGate] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        limits = httpx.Limits(
            # Each worker thread holds at most one connection, so the thread pool bounds them.
            max_connections=None,
            max_keepalive_connections=max(20, 2 * settings.concurrency),
            keepalive_expiry=15.0,
        )
        self._client = httpx.Client(
            transport=_deadline_transport(limits),
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,  # followed by hand: scheme check, loop check, politeness
            headers={
                "User-Agent": self.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections; the fetcher must not be used afterwards."""
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        obey_robots: bool = False,
    ) -> FetchResult:
        """GET ``url``, conditionally when ``etag``/``last_modified`` are given.

        Follows redirects.  With ``obey_robots`` each URL (redirect targets included) is
        first checked against its host's robots.txt; a disallowed URL is never contacted.
        Never raises for network or HTTP problems: they become ``FetchResult.error``.
        A 304 gives ``not_modified=True`` with the validators the caller sent unless the
        server sent new ones.
        """
        started = time.monotonic()
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            hop = self._follow(url, headers, obey_robots, self.settings.max_bytes)
        except _HopFailed as failed:
            return _failed(url, failed.hop.url, str(failed), started, failed.hop)
        not_modified = hop.status == 304
        return FetchResult(
            url=url,
            final_url=hop.url,
            status=hop.status,
            body=hop.body,
            content_type=hop.header("content-type"),
            etag=hop.header("etag") or (etag if not_modified else None),
            last_modified=hop.header("last-modified") or (last_modified if not_modified else None),
            not_modified=not_modified,
            error=None,
            retry_after=None,
            elapsed=time.monotonic() - started,
        )

    # -- redirects -------------------------------------------------------------------------

    def _follow(self, url: str, headers: dict[str, str], obey_robots: bool, cap: int) -> _Hop:
        """Request ``url`` and its redirects; return the final 2xx/304 hop.

        Raises ``_HopFailed`` with the hop that ended it (its status and Retry-After kept).
        """
        current = url
        refusal = _scheme_refusal(url, "unsupported URL scheme")
        seen = {url}
        for _ in range(MAX_REDIRECTS + 1):
            if refusal is None and obey_robots:
                refusal = self._robots_refusal(current)
            if refusal is not None:
                raise _HopFailed(_Hop(current, error=refusal))
            hop = self._request(current, headers, cap)
            location = hop.header("location")
            if hop.status in _REDIRECT_STATUSES and location:
                try:
                    target = urljoin(current, location.strip())
                except ValueError:  # urljoin validates the authority ("Invalid IPv6 URL")
                    target = location.strip()
                refusal = _scheme_refusal(target, "redirect to unsupported scheme")
                if refusal is None and target in seen:
                    refusal = f"redirect loop: {current} -> {target}"
                seen.add(target)
                current = target
                continue
            if hop.error is not None:
                raise _HopFailed(hop)
            return hop
        raise _HopFailed(
            _Hop(current, error=f"too many redirects (more than {MAX_REDIRECTS}), last {current}")
        )

    # -- one request -----------------------------------------------------------------------

    def _request(self, url: str, headers: dict[str, str], cap: int) -> _Hop:
        """One GET, no redirects; a 2xx body is read (capped), other bodies are not kept.

        Problems come back as ``_Hop.error`` (with the status when there was a response).
        """
        host = (urlsplit(url).hostname or "").lower()
        timeout = float(self.settings.timeout)
        hop = _Hop(url)
        try:
            with self._host_slot(host), _deadline(time.monotonic() + timeout):
                with self._client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    hop = _Hop(str(response.url), status, response.headers)
                    if 200 <= status < 300:
                        hop.body = _read_body(response, cap)
                    elif status == 304:
                        # Reading the empty body lets the connection go back to the pool.
                        for _ in response.iter_raw():
                            pass
                    else:
                        _drain(response)
                        hop.error = f"HTTP {status} {response.reason_phrase}".rstrip()
                        if status in (429, 503):
                            hop.retry_after = parse_retry_after(response.headers.get("retry-after"))
        except FetchError as err:
            hop.error = str(err)
        except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
            hop.error = _timeout_message(exc, timeout)
        except httpx.UnsupportedProtocol as exc:
            hop.error = f"unsupported URL: {_one_line(exc)}"
        except httpx.ConnectError as exc:
            hop.error = f"cannot connect: {_one_line(exc)}"
        except httpx.LocalProtocolError as exc:  # e.g. a stored validator with a newline
            hop.error = f"bad request: {_one_line(exc)}"
        except httpx.RemoteProtocolError as exc:
            hop.error = f"bad response: {_one_line(exc)}"
        except (httpx.TransportError, httpcore.NetworkError, OSError) as exc:
            hop.error = f"network error: {_one_line(exc)}"
        except (httpx.InvalidURL, httpx.HTTPError, ValueError) as exc:
            # ValueError: header values or URLs httpx cannot encode.
            hop.error = f"bad request: {_one_line(exc)}"
        if hop.error is not None:
            hop.body = None
        return hop

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        """Hold one of ``per_host`` slots of ``host``, starting ``host_delay`` after the last.

        Start times are reserved under the host's lock and slept outside it, so waiters on
        one host queue up in order while other hosts are not touched at all.
        """
        with self._lock:
            gate = self._hosts.get(host)
            if gate is None:
                gate = self._hosts[host] = _HostGate(max(1, self.settings.per_host))
        gate.slots.acquire()
        try:
            delay = self.settings.host_delay
            if delay > 0:
                with gate.lock:
                    now = time.monotonic()
                    start = max(now, gate.next_start)
                    gate.next_start = start + delay
                if start > now:
                    time.sleep(start - now)
            yield
        finally:
            gate.slots.release()

    # -- robots.txt ------------------------------------------------------------------------

    def _robots_refusal(self, url: str) -> str | None:
        """None when robots.txt lets us fetch ``url``, else the error line to report."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        robots = self._robots.get(origin)
        if robots is None or robots.expires_at <= self._clock():
            with self._lock:
                origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
            with origin_lock:  # one download per origin, even when many threads ask at once
                robots = self._robots.get(origin)
                if robots is None or robots.expires_at <= self._clock():
                    robots = self._load_robots(origin)
                    self._robots[origin] = robots
        return robots.refusal(url)

    def _load_robots(self, origin: str) -> _Robots:
        robots_url = origin + "/robots.txt"
        try:
            hop = self._follow(robots_url, {}, False, ROBOTS_MAX_BYTES)
        except _HopFailed as failed:
            status = failed.hop.status
            if status is not None and 400 <= status < 500 and status != 429:
                # RFC 9309 2.3.1.3: "unavailable" means no restrictions.
                return _Robots(None, None, self._clock() + ROBOTS_TTL)
            reason = str(failed)
        else:
            if hop.body is not None:
                parser = RobotFileParser(robots_url)
                parser.parse(hop.body.decode("utf-8", errors="replace").splitlines())
                parser.modified()  # can_fetch() refuses everything until this is set
                return _Robots(parser, None, self._clock() + ROBOTS_TTL)
            reason = f"HTTP {hop.status}"
        # RFC 9309 2.3.1.4: unreachable means complete disallow, for a while.
        logger.info("robots.txt of %s unreachable (%s); not fetching its pages", origin, reason)
        return _Robots(None, f"robots.txt unreachable: {reason}", self._clock() + ROBOTS_ERROR_TTL)


def next_poll_delay(
    every: int, failures: int, retry_after: float | None = None, *, rng: random.Random | None = None
) -> float:
    """Seconds until the next poll of a source that failed ``failures`` times in a row.

    ``every`` for a healthy source; doubled per failure up to ``MAX_BACKOFF`` (a day, or
    ``every`` when that is longer); never sooner than ``every`` nor than ``retry_after``.
    With ``rng``, a backoff is scattered over its last fifth so sources that failed together
    (one host down) do not all come back at the same second; without it the result is
    deterministic.
    """
    delay = float(every)
    if failures > 0:
        ceiling = max(MAX_BACKOFF, float(every))
        delay = min(every * 2.0 ** min(failures, 32), ceiling)
        if rng is not None:
            delay *= rng.uniform(0.8, 1.0)
        delay = max(delay, float(every))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date), at most a day.

    None when absent or unreadable; a date in the past gives 0.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


# -- values used inside the fetcher -----------------------------------------------------------


class _Hop:
    """One response without its connection: what ``_follow`` needs to decide the next step."""

    __slots__ = ("url", "status", "headers", "body", "error", "retry_after")

    def __init__(
        self,
        url: str,
        status: int | None = None,
        headers: httpx.Headers | None = None,
        *,
        error: str | None = None,
    ) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body: bytes | None = None
        self.error = error
        self.retry_after: float | None = None

    def header(self, name: str) -> str | None:
        return None if self.headers is None else self.headers.get(name)


class _HopFailed(Exception):
    """A response (or a robots.txt refusal) that ends the fetch as an error."""

    def __init__(self, hop: _Hop) -> None:
        super().__init__(hop.error)
        self.hop = hop


class _HostGate:
    def __init__(self, per_host: int) -> None:
        self.slots = threading.BoundedSemaphore(per_host)
        self.lock = threading.Lock()
        self.next_start = 0.0


@dataclass(frozen=True)
class _Robots:
    """A host's robots.txt as we know it: rules, allow-all (``parser=None``), or blocked."""

    parser: RobotFileParser | None
    blocked: str | None  # why everything is refused (robots.txt unreachable), else None
    expires_at: float

    def refusal(self, url: str) -> str | None:
        if self.blocked:
            return f"disallowed by robots.txt ({self.blocked})"
        if self.parser is not None and not self.parser.can_fetch(ROBOTS_TOKEN, url):
            return "disallowed by robots.txt"
        return None


def _failed(
    url: str, final_url: str, error: str, started: float, hop: _Hop | None = None
) -> FetchResult:
    return FetchResult(
        url=url,
        final_url=final_url,
        status=None if hop is None else hop.status,
        body=None,
        content_type=None if hop is None else hop.header("content-type"),
        etag=None,
        last_modified=None,
        not_modified=False,
        error=error,
        retry_after=None if hop is None else hop.retry_after,
        elapsed=time.monotonic() - started,
    )


def _scheme_refusal(url: str, message: str) -> str | None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        return f"invalid URL ({exc}): {url[:200]}"
    if scheme in ("http", "https"):
        return None
    return f"{message} {scheme or '(none)'!r}: {url[:200]}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _timeout_message(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting (after {timeout:g} s)"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection within {timeout:g} s"
    return f"timed out: no complete answer within {timeout:g} s"


def _format_size(size: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


# -- bodies ---------------------------------------------------------------------------------


class _Identity:
    def decompress(self, data: bytes, max_length: int) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Deflate:
    """HTTP "deflate" is zlib-wrapped by the standard and raw by many servers: try both."""

    def __init__(self) -> None:
        self._decoder: Any = zlib.decompressobj()
        self._started = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if not self._started:
            self._started = True
            try:
                return bytes(self._decoder.decompress(data, max_length))
            except zlib.error:
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
        return bytes(self._decoder.decompress(data, max_length))

    def flush(self) -> bytes:
        return bytes(self._decoder.flush())


def _decoder_for(content_encoding: str | None) -> Any:
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return _Identity()
    if codings in (["gzip"], ["x-gzip"]):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if codings == ["deflate"]:
        return _Deflate()
    raise FetchError(f"unsupported Content-Encoding: {content_encoding}")


def _read_body(response: httpx.Response, cap: int) -> bytes:
    """The decoded body, refused once it exceeds ``cap`` bytes, compressed or not.

    Decompression is asked for at most the room left plus one byte per chunk, so a small
    compressed chunk never expands past the cap in memory.
    """
    too_large = f"larger than {_format_size(cap)}"
    decoder = _decoder_for(response.headers.get("content-encoding"))
    length = response.headers.get("content-length", "")
    if isinstance(decoder, _Identity) and length.isdigit() and int(length) > cap:
        raise FetchError(too_large)
    parts: list[bytes] = []
    total = raw = 0
    try:
        for chunk in response.iter_raw():
            raw += len(chunk)
            data = decoder.decompress(chunk, cap - total + 1)
            total += len(data)
            if total > cap or raw > cap:
                raise FetchError(too_large)
            parts.append(data)
        tail = decoder.flush()
    except zlib.error as exc:
        coding = response.headers.get("content-encoding")
        raise FetchError(f"cannot decode {coding} body: {exc}") from exc
    if total + len(tail) > cap:
        raise FetchError(too_large)
    parts.append(tail)
    return b"".join(parts)


def _drain(response: httpx.Response) -> None:
    """Read a small unwanted body so its keep-alive connection goes back to the pool."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= _DRAIN_LIMIT:
        for _ in response.iter_raw():
            pass


# -- the overall deadline ---------------------------------------------------------------------
#
# httpx timeouts bound each socket operation, not a request: a server sending a byte every
# few seconds never trips them.  So every socket operation of the calling thread is given at
# most the time left before the thread's deadline.  httpx's sync client runs in the calling
# thread, which makes a thread-local the right place for it.

_current = threading.local()


@contextmanager
def _deadline(at: float) -> Iterator[None]:
    _current.deadline = at
    try:
        yield
    finally:
        _current.deadline = None


def _clip(timeout: float | None, error: type[Exception]) -> float | None:
    at = getattr(_current, "deadline", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("overall deadline reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, _clip(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _clip(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _clip(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport whose sockets obey the calling thread's deadline.

    httpx has no public hook for the network backend; httpcore's pool has one, set here on
    the pool httpx built.  Checked by tests/test_fetch.py (the dripping-server tests).
    """
    transport = httpx.HTTPTransport(limits=limits)
    pool = transport._pool
    pool._network_backend = _DeadlineBackend(pool._network_backend)  # type: ignore[union-attr]
    return transport
