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

Threads share one ``Fetcher``; each thread has its own libcurl handle, whose connections
are reused.  libcurl rather than a pure-Python client: a conditional GET costs ~0.05 ms of
CPU instead of ~0.45 ms (httpx), which is most of an all-unchanged poll (bench/scale.py).
``next_poll_delay`` is the pure backoff rule for sources that keep failing.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from heapq import heappop, heappush
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import pycurl

from ereputation import __version__
from ereputation.config import FetchSettings
from ereputation.errors import FetchError

if TYPE_CHECKING:  # urllib.robotparser pulls in urllib.request and the mail parser: ~20 ms
    from urllib.robotparser import RobotFileParser

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


class Conditional(NamedTuple):
    """One request of ``Fetcher.fetch_many``: a URL, its validators, and the caller's tag."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    tag: Any = None


def _conditional_headers(request: Conditional) -> dict[str, str]:
    headers: dict[str, str] = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    return headers


class Redirected:
    """A request of ``fetch_many`` answered with a redirect: ``Fetcher.follow`` takes it on."""

    __slots__ = ("request", "hop", "started")

    def __init__(self, request: Conditional, hop: _Hop, started: float) -> None:
        self.request = request
        self.hop = hop
        self.started = started


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
        self._local = threading.local()
        self._handles: list[pycurl.Curl] = []
        # fetch_many's multi handle and its idle easy handles, kept from one call to the next
        # so that their connections are reused; one caller at a time.
        self._multi: pycurl.CurlMulti | None = None
        self._spare: list[pycurl.Curl] = []
        self._many = threading.Lock()
        self._headers = [
            f"User-Agent: {self.user_agent}",
            f"Accept: {ACCEPT}",
            # Sent by hand, not through libcurl's decoder: _Reader decodes and counts.
            f"Accept-Encoding: {ACCEPT_ENCODING}",
            "Expect:",
        ]

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
        """Close every thread's handle and its connections; the fetcher is then unusable."""
        with self._lock:
            handles, self._handles = self._handles, []
            multi, self._multi = self._multi, None
            self._spare = []
        if multi is not None:
            multi.close()
        for curl in handles:
            curl.close()

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
        return self._fetch(Conditional(url, etag, last_modified), obey_robots, time.monotonic())

    def follow(self, redirected: Redirected) -> FetchResult:
        """The end of a request of ``fetch_many`` that was redirected: what ``fetch`` gives."""
        return self._fetch(redirected.request, False, redirected.started, redirected.hop)

    def _fetch(
        self, request: Conditional, obey_robots: bool, started: float, first: _Hop | None = None
    ) -> FetchResult:
        """``fetch``; ``first``: the answer to ``request.url``, already received."""
        url = request.url
        try:
            hop = self._follow(
                url, _conditional_headers(request), obey_robots, self.settings.max_bytes, first
            )
        except _HopFailed as failed:
            return _failed(url, failed.hop.url, str(failed), started, failed.hop)
        return _answered(url, hop, request.etag, request.last_modified, started)

    def fetch_many(
        self,
        requests: Iterable[Conditional],
        *,
        tick: float = 0.01,
        may_start: Callable[[], bool] = lambda: True,
        stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[list[tuple[Conditional, FetchResult | Redirected]]]:
        """``fetch`` (without robots.txt) of many URLs at once from this one thread, through
        one libcurl multi handle: a batch of finished requests at least every ``tick``
        seconds, often empty, so the caller can do other work in between.

        Why: threads each waiting in their own transfer hand the GIL to each other at every
        header line; 973 conditional GETs cost 0.19–0.28 s of CPU from 32 threads and
        0.06–0.07 s from one thread driving a multi handle (docs/benchmarks.md).  The same
        limits hold (``concurrency`` in flight, ``per_host`` and ``host_delay`` shared with
        ``fetch``'s callers), and the same answers come back, except that a redirect gives a
        ``Redirected``, which ``follow`` (in any thread) takes to its end.  No request starts
        while ``may_start()`` is false (the caller has enough bodies to read); once ``stop()``
        is true, none starts and the batches end with the requests in flight.
        """
        if not self._many.acquire(blocking=False):
            raise RuntimeError("fetch_many is already running in another thread")
        if self._multi is None:
            self._multi = pycurl.CurlMulti()
        batch = _Batch(self, self._multi, iter(requests), may_start, stop)
        try:
            batch.start_what_may()
            while not batch.finished():
                yield batch.run(tick)
                batch.start_what_may()
            if batch.done:
                yield batch.done
        finally:
            batch.close()
            self._many.release()

    # -- redirects -------------------------------------------------------------------------

    def _follow(
        self,
        url: str,
        headers: dict[str, str],
        obey_robots: bool,
        cap: int,
        first: _Hop | None = None,
    ) -> _Hop:
        """Request ``url`` and its redirects; return the final 2xx/304 hop.

        ``first``: the answer to ``url`` when it was already received (``fetch_many``).
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
            if first is not None:
                hop, first = first, None
            else:
                hop = self._request(current, headers, cap)
            location = hop.header("location")
            if hop.status in _REDIRECT_STATUSES and location:
                target = _redirect_target(current, location)
                if target is None:
                    hop.error = f"bad response: Invalid URL in location header: {location[:200]}"
                    raise _HopFailed(hop)
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
        with self._host_slot(_host_of(url)):
            hop = self._transfer(url, headers, cap)
        if hop.error is not None:
            hop.body = None
        return hop

    def _transfer(self, url: str, headers: dict[str, str], cap: int) -> _Hop:
        """The GET itself, through this thread's libcurl handle (its connections are reused)."""
        hop = _Hop(url)
        curl = self._curl()
        reader = self._prepare(curl, hop, headers, cap)
        if reader is None:
            return hop
        try:
            curl.perform()
        except pycurl.error as exc:
            code = exc.args[0] if exc.args else 0
            message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
            return self._finish(hop, reader, curl, code, message)
        return self._finish(hop, reader, curl, None, "")

    def _prepare(
        self, curl: pycurl.Curl, hop: _Hop, headers: dict[str, str], cap: int
    ) -> _Reader | None:
        """Set ``curl`` up for a GET of ``hop.url``; None (and ``hop.error``) if it cannot go."""
        bad = _header_refusal(headers)
        if bad is not None:
            hop.error = bad
            return None
        try:
            target = _ascii_url(hop.url)
        except ValueError as exc:
            hop.error = f"bad request: invalid URL ({_one_line(exc)})"
            return None
        reader = _Reader(cap)
        timeout_ms = max(1, int(float(self.settings.timeout) * 1000))
        curl.setopt(pycurl.URL, target)
        curl.setopt(pycurl.HTTPHEADER, [*self._headers, *(f"{k}: {v}" for k, v in headers.items())])
        curl.setopt(pycurl.TIMEOUT_MS, timeout_ms)  # the whole request: a drip cannot hold us
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, timeout_ms)
        curl.setopt(pycurl.HEADERFUNCTION, reader.header_line)
        curl.setopt(pycurl.WRITEFUNCTION, reader.write)
        return reader

    def _finish(
        self, hop: _Hop, reader: _Reader, curl: pycurl.Curl, code: int | None, message: str
    ) -> _Hop:
        """``hop`` from what ``reader`` collected and libcurl's error ``code``, if any."""
        error = None
        if code is not None:
            if reader.problem is not None:
                error = reader.problem
            elif not (code == pycurl.E_WRITE_ERROR and reader.unwanted()):
                error = _curl_message(code, message, curl, float(self.settings.timeout))
            # else: we stopped reading an unwanted body; its status says what went wrong
        hop.status = reader.status
        hop.headers = reader.headers if reader.status is not None else None
        if error is not None:
            hop.error = error
            return hop
        if reader.status is None:
            hop.error = "bad response: no HTTP status line"
            return hop
        if 200 <= reader.status < 300:
            try:
                hop.body = reader.body()
            except FetchError as err:
                hop.error = str(err)
        elif reader.status != 304:
            hop.error = reader.status_error()
            if reader.status in (429, 503):
                hop.retry_after = parse_retry_after(reader.headers.get("retry-after"))
        return hop

    def _curl(self) -> pycurl.Curl:
        """This thread's handle: libcurl keeps the connections of a handle open for reuse."""
        curl: pycurl.Curl | None = getattr(self._local, "curl", None)
        if curl is None:
            curl = self._local.curl = self._new_curl()
        return curl

    def _new_curl(self) -> pycurl.Curl:
        """A handle with our fixed options, closed by ``close``."""
        curl = pycurl.Curl()
        curl.setopt(pycurl.NOSIGNAL, 1)  # threads: no SIGALRM for name resolution
        curl.setopt(pycurl.FOLLOWLOCATION, 0)  # followed by hand: scheme, loops, robots
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.MAXCONNECTS, 4)
        cafile = os.environ.get("SSL_CERT_FILE") or _certifi_where()
        if cafile:
            curl.setopt(pycurl.CAINFO, cafile)
        with self._lock:
            self._handles.append(curl)
        return curl

    def _gate(self, host: str) -> _HostGate:
        with self._lock:
            gate = self._hosts.get(host)
            if gate is None:
                gate = self._hosts[host] = _HostGate(max(1, self.settings.per_host))
        return gate

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        """Hold one of ``per_host`` slots of ``host``, starting ``host_delay`` after the last.

        Start times are reserved under the host's lock and slept outside it, so waiters on
        one host queue up in order while other hosts are not touched at all.
        """
        gate = self._gate(host)
        gate.slots.acquire()
        try:
            now = time.monotonic()
            start = gate.start_at(now, self.settings.host_delay)
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
                from urllib.robotparser import RobotFileParser  # only once a page is read

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
    import email.utils  # rare (an HTTP-date Retry-After), and with config's, ~5 ms a start

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
        headers: dict[str, str] | None = None,
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

    def start_at(self, now: float, delay: float) -> float:
        """When a request holding one of the slots may start: ``delay`` after the one before
        (reserved under the lock, so that waiters queue up in order)."""
        if delay <= 0:
            return now
        with self.lock:
            start = max(now, self.next_start)
            self.next_start = start + delay
        return start


def _host_of(url: str) -> str:
    """The key of ``url``'s host gate."""
    return (urlsplit(url).hostname or "").lower()


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


def _answered(
    url: str, hop: _Hop, etag: str | None, last_modified: str | None, started: float
) -> FetchResult:
    """The result of a fetch whose last hop is a 2xx body or a 304."""
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


class _Transfer:
    """One request of a ``_Batch``, from its start to its answer."""

    __slots__ = ("request", "started", "headers", "gate", "hop", "reader", "curl")

    def __init__(self, request: Conditional, started: float) -> None:
        self.request = request
        self.started = started
        self.headers = _conditional_headers(request)
        self.gate: _HostGate | None = None  # holding one of its slots
        self.hop = _Hop(request.url)
        self.reader: _Reader | None = None
        self.curl: pycurl.Curl | None = None


class _Batch:
    """The state of one ``Fetcher.fetch_many``: a multi handle, its transfers, what waits.

    Requests are taken from the caller's iterator only while fewer than ``concurrency`` are
    in hand (in flight, waiting for their host's slot, or for ``host_delay``), as the
    threads of a poll each hold one source: the same limits, the same order.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        multi: pycurl.CurlMulti,
        requests: Iterator[Conditional],
        may_start: Callable[[], bool],
        stop: Callable[[], bool],
    ) -> None:
        self.fetcher = fetcher
        self.requests = requests
        self.may_start = may_start
        self.stop = stop
        self.limit = max(1, fetcher.settings.concurrency)
        self.multi = multi
        self.spare = fetcher._spare  # idle handles, shared with the next batch
        self.active: dict[int, _Transfer] = {}  # id of its handle -> transfer
        self.blocked: dict[str, deque[_Transfer]] = {}  # host -> waiting for one of its slots
        self.later: list[tuple[float, int, _Transfer]] = []  # (start time, order, transfer)
        self.in_hand = 0  # active + blocked + later
        self.taken = 0
        self.exhausted = False
        self.done: list[tuple[Conditional, FetchResult | Redirected]] = []

    def finished(self) -> bool:
        idle = not self.active and not self.later
        if self.stop():
            return idle
        return idle and self.exhausted and not self.blocked

    def start_what_may(self) -> None:
        if self.stop():
            for queue in self.blocked.values():
                self.in_hand -= len(queue)
            self.blocked.clear()
            return
        now = time.monotonic()
        while self.later and self.later[0][0] <= now:
            self._send(heappop(self.later)[2])
        for host in list(self.blocked):
            queue = self.blocked[host]
            gate = self.fetcher._gate(host)
            while queue and gate.slots.acquire(blocking=False):
                self._reserved(queue.popleft(), gate, now)
            if not queue:
                del self.blocked[host]
        while not self.exhausted and self.in_hand < self.limit and self.may_start():
            request = next(self.requests, None)
            if request is None:
                self.exhausted = True
                break
            self._begin(Conditional(*request), now)

    def run(self, tick: float) -> list[tuple[Conditional, FetchResult | Redirected]]:
        """Move the transfers on for up to ``tick`` seconds; the requests that finished."""
        self._perform()
        if not self.done:
            timeout = tick
            if self.later:
                timeout = min(timeout, max(0.0, self.later[0][0] - time.monotonic()))
            if self.active:
                self._wait(timeout)
                self._perform()
            elif timeout > 0 and (self.later or self.blocked or not self.exhausted):
                time.sleep(timeout)
        done, self.done = self.done, []
        return done

    def _wait(self, timeout: float) -> None:
        """Until a transfer's socket is ready, or ``timeout``.

        pycurl's ``select`` returns at once when libcurl has no socket to wait on, as while a
        libcurl built without a socket-pair resolver looks a name up: the loop would then spin.
        libcurl's own timer says when to look again.
        """
        if any(self.multi.fdset()):
            self.multi.select(timeout)
            return
        due = self.multi.timeout()  # milliseconds; -1: no timer set
        time.sleep(timeout if due < 0 else min(timeout, due / 1000))

    def close(self) -> None:
        for transfer in self.active.values():  # given up (the caller stopped early)
            self.multi.remove_handle(transfer.curl)
            self.spare.append(transfer.curl)
            self._release(transfer)
        for _, _, transfer in self.later:
            self._release(transfer)
        self.active.clear()
        self.later.clear()

    # -- one request ------------------------------------------------------------------------

    def _begin(self, request: Conditional, now: float) -> None:
        transfer = _Transfer(request, now)
        refusal = _scheme_refusal(request.url, "unsupported URL scheme")
        if refusal is not None:
            self.done.append((request, _failed(request.url, request.url, refusal, now)))
            return
        self.in_hand += 1
        host = _host_of(request.url)
        gate = self.fetcher._gate(host)
        if host in self.blocked or not gate.slots.acquire(blocking=False):
            self.blocked.setdefault(host, deque()).append(transfer)
            return
        self._reserved(transfer, gate, now)

    def _reserved(self, transfer: _Transfer, gate: _HostGate, now: float) -> None:
        """``transfer`` holds a slot of ``gate``: it starts now, or after ``host_delay``."""
        transfer.gate = gate
        start = gate.start_at(now, self.fetcher.settings.host_delay)
        if start > now:
            self.taken += 1
            heappush(self.later, (start, self.taken, transfer))
        else:
            self._send(transfer)

    def _send(self, transfer: _Transfer) -> None:
        curl = self.spare.pop() if self.spare else self.fetcher._new_curl()
        transfer.curl = curl
        try:
            reader = self.fetcher._prepare(
                curl, transfer.hop, transfer.headers, self.fetcher.settings.max_bytes
            )
            if reader is not None:
                self.multi.add_handle(curl)
        except Exception as err:  # as a worker's poll would turn it into the source's error
            logger.exception("cannot request %s", transfer.request.url)
            transfer.hop.error = f"internal error: {type(err).__name__}: {err}"
            reader = None
        if reader is None:
            self.spare.append(curl)
            self._answer(transfer)
            return
        transfer.reader = reader
        self.active[id(curl)] = transfer

    def _perform(self) -> None:
        while True:
            status, _ = self.multi.perform()
            if status != pycurl.E_CALL_MULTI_PERFORM:
                break
        while True:
            queued, succeeded, failed = self.multi.info_read()
            for curl in succeeded:
                self._ended(curl, None, "")
            for curl, code, message in failed:
                self._ended(curl, code, message)
            if not queued:
                break

    def _ended(self, curl: pycurl.Curl, code: int | None, message: str) -> None:
        transfer = self.active.pop(id(curl))
        self.multi.remove_handle(curl)
        self.spare.append(curl)
        assert transfer.reader is not None
        self.fetcher._finish(transfer.hop, transfer.reader, curl, code, message)
        self._answer(transfer)

    def _answer(self, transfer: _Transfer) -> None:
        """The result of a finished (or refused) request; frees its host's slot."""
        self._release(transfer)
        self.in_hand -= 1
        request, hop = transfer.request, transfer.hop
        result: FetchResult | Redirected
        if hop.status in _REDIRECT_STATUSES and hop.header("location"):
            result = Redirected(request, hop, transfer.started)  # ``follow`` goes on from it
        elif hop.error is not None:
            result = _failed(request.url, hop.url, hop.error, transfer.started, hop)
        else:
            result = _answered(
                request.url, hop, request.etag, request.last_modified, transfer.started
            )
        self.done.append((request, result))

    def _release(self, transfer: _Transfer) -> None:
        if transfer.gate is not None:
            transfer.gate.slots.release()
            transfer.gate = None


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


def _redirect_target(current: str, location: str) -> str | None:
    """The absolute URL a Location header points to; None when it is not a valid URL."""
    try:
        target = urljoin(current, location.strip())
        urlsplit(target).port  # noqa: B018 - raises ValueError on a bad port or IPv6 literal
    except ValueError:
        return None
    return target


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


class _Reader:
    """Collects one response from libcurl's callbacks: status, headers, a capped decoded body.

    The body is decoded here, not by libcurl, so the cap counts decoded bytes while they
    arrive: a gzip bomb stops at the cap.  Decompression is asked for at most the room left
    plus one byte per chunk, so a small compressed chunk never expands past it in memory.
    Bodies of other statuses are read up to ``_DRAIN_LIMIT`` (so the connection can be
    reused) and dropped.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.status: int | None = None
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.problem: str | None = None  # why we stopped reading, when we did
        self._decoder: Any = None
        self._parts: list[bytes] = []
        self._total = self._raw = 0

    def header_line(self, line: bytes) -> None:
        text = line.decode("latin-1").rstrip("\r\n")
        if text.startswith("HTTP/"):  # a new response (after 1xx): start over
            parts = text.split(" ", 2)
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            self.reason = parts[2].strip() if len(parts) > 2 else ""
            self.headers = {}
            return
        name, sep, value = text.partition(":")
        if sep and name.strip():
            key, value = name.strip().lower(), value.strip()
            old = self.headers.get(key)
            self.headers[key] = value if old is None else f"{old}, {value}"

    def write(self, chunk: bytes) -> int | None:
        if self.status is None or self.unwanted():
            self._raw += len(chunk)
            return None if self._raw <= _DRAIN_LIMIT else 0  # 0: stop, drop the connection
        try:
            if self._decoder is None:
                self._decoder = _decoder_for(self.headers.get("content-encoding"))
                length = self.headers.get("content-length", "")
                if isinstance(self._decoder, _Identity) and length.isdigit():
                    if int(length) > self.cap:
                        raise FetchError(self._too_large())
            self._raw += len(chunk)
            data = self._decoder.decompress(chunk, self.cap - self._total + 1)
            self._total += len(data)
            if self._total > self.cap or self._raw > self.cap:
                raise FetchError(self._too_large())
            self._parts.append(data)
        except FetchError as err:
            self.problem = str(err)
            return 0
        except zlib.error as exc:
            self.problem = f"cannot decode {self.headers.get('content-encoding')} body: {exc}"
            return 0
        return None

    def body(self) -> bytes:
        if self._decoder is None:
            self._decoder = _decoder_for(self.headers.get("content-encoding"))
        try:
            tail = self._decoder.flush()
        except zlib.error as exc:
            coding = self.headers.get("content-encoding")
            raise FetchError(f"cannot decode {coding} body: {exc}") from exc
        if self._total + len(tail) > self.cap:
            raise FetchError(self._too_large())
        self._parts.append(tail)
        return b"".join(self._parts)

    def unwanted(self) -> bool:
        """A response whose body is not kept (not 2xx): ``write`` may stop reading it."""
        return self.status is not None and not 200 <= self.status < 300

    def status_error(self) -> str:
        reason = self.reason
        if not reason and self.status is not None:
            try:
                reason = HTTPStatus(self.status).phrase
            except ValueError:
                reason = ""
        return f"HTTP {self.status} {reason}".rstrip()

    def _too_large(self) -> str:
        return f"larger than {_format_size(self.cap)}"


def _curl_message(code: int, message: str, curl: pycurl.Curl, timeout: float) -> str:
    """The one-line error for a libcurl failure, in the words the sources table uses."""
    text = " ".join(message.split())[:200] or f"libcurl error {code}"
    if code == pycurl.E_OPERATION_TIMEDOUT:
        if "connect" in message.lower() and "after" in message.lower() and "bytes" not in message:
            return f"timed out connecting (after {timeout:g} s)"
        return f"timed out: no complete answer within {timeout:g} s"
    if code in (pycurl.E_COULDNT_CONNECT, pycurl.E_COULDNT_RESOLVE_HOST):
        errno = curl.getinfo(pycurl.OS_ERRNO)
        detail = f"{os.strerror(errno)} ({text})" if errno else text
        return f"cannot connect: {detail}"
    if code in (pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_URL_MALFORMAT):
        if "HTTP/0.9" in message:
            return f"bad response: {text}"
        return f"unsupported URL: {text}"
    if code in (pycurl.E_GOT_NOTHING, pycurl.E_PARTIAL_FILE, 8, 92, 95):  # 8: weird reply
        return f"bad response: {text}"
    if code == pycurl.E_RECV_ERROR or code == pycurl.E_SEND_ERROR:
        errno = curl.getinfo(pycurl.OS_ERRNO)
        return f"network error: {os.strerror(errno) if errno else text}"
    return f"network error: {text}"


def _header_refusal(headers: dict[str, str]) -> str | None:
    """An error line for a header value that would split the request (CR, LF, NUL)."""
    for name, value in headers.items():
        if any(c in value for c in "\r\n\0"):
            return f"bad request: Illegal header value {value[:80]!r} for {name}"
    return None


def _ascii_url(url: str) -> str:
    """``url`` as libcurl takes it: IDNA host, percent-encoded non-ASCII path and query."""
    if url.isascii() and " " not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if " " in host:
        raise ValueError(f"space in host name {host!r}")
    netloc = host.encode("idna").decode("ascii") if not host.isascii() else host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.username is not None:
        auth = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{quote(auth, safe=':%')}@{netloc}"
    safe = "/%:@!$&'()*+,;=-._~"
    path, query = quote(parts.path, safe=safe), quote(parts.query, safe=safe + "?")
    return urlunsplit((parts.scheme, netloc, path, query, quote(parts.fragment, safe=safe + "?")))


def _certifi_where() -> str | None:
    try:
        import certifi
    except ImportError:  # libcurl then uses the system's CA bundle
        return None
    return str(certifi.where())
