"""A feed body in, its items judged out: parsing and analysis, off the daemon's GIL.

Parsing (fastfeedparser, lxml, flattening HTML), brand matching, language, sentiment and
story fingerprints are pure CPU work and nearly all of a first pass's, and the daemon's
threads share one core through the GIL.  A helper process (``fetch.parse_processes``: one
by default on a machine with two cores or more) does them on the second core; the daemon's
own process keeps the network, article pages and the database (bench/scale.py,
docs/benchmarks.md).

Only what the daemon needs comes back: every item's key, the article to store for an item
that names a brand, and the item itself when its article page is to be read (the daemon
reads pages: politeness per host lives there).  Most items are a key alone, so the traffic
between the processes stays small.  Which process read a feed never shows in what is stored:
``read_feed`` is the one function both run.

A parser that crashes the helper (a fault in a C library on a hostile feed) costs that feed,
not the daemon: the feed is tried once more in a new helper, then reported as failed.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .judge import Analyzer, record_from_item

if TYPE_CHECKING:
    from .config import Brand
    from .extract import FeedItem
    from .records import ArticleRecord

log = logging.getLogger(__name__)

# An item whose feed text is shorter than this is probably a teaser: read the article page.
SHORT_TEXT = 400
CRASHED = "the feed parser crashed on this feed (tried twice)"


@dataclass(frozen=True)
class JudgedItem:
    """One feed item as the reader saw it."""

    key: str  # identity in seen_items: guid and title
    page_wanted: FeedItem | None  # the item, when its article page is to be read first
    record: ArticleRecord | None  # else what to store for it: None when it names no brand


@dataclass(frozen=True)
class ReadFeed:
    problem: str | None  # the feed could not be read; items is then empty
    items: tuple[JudgedItem, ...]


def item_key(item: FeedItem) -> str:
    # The title is part of the key: an item corrected to name a brand is read again.
    return hashlib.sha1(f"{item.guid}\n{item.title}".encode("utf-8", "surrogatepass")).hexdigest()


def wants_page(item: FeedItem, full_text: str) -> bool:
    """Whether the item's article page is to be read (``full_text``: auto, always, never)."""
    return item.link is not None and (
        full_text == "always"
        or (full_text == "auto" and len(item.summary) + len(item.content) < SHORT_TEXT)
    )


def read_feed(body: bytes, url: str, now: datetime, analyzer: Analyzer, full_text: str) -> ReadFeed:
    """Parse ``body`` and judge every item (the same in the daemon or a helper).

    Items already seen are judged too (the helper cannot ask the database): on the other
    core, that costs less than a round trip would.
    """
    from .extract import parse_feed

    parsed = parse_feed(body, url, now)
    if parsed.problem:
        return ReadFeed(parsed.problem, ())
    judged = [
        JudgedItem(key, item, None)
        if wants_page(item, full_text)
        else JudgedItem(key, None, record_from_item(analyzer, item, None, url))
        for key, item in ((item_key(item), item) for item in parsed.items)
    ]
    return ReadFeed(None, tuple(judged))


def default_processes() -> int:
    """One helper when the daemon may use two cores or more; none on a single core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return 1 if cores >= 2 else 0


class FeedReaders:
    """Reads feeds in ``processes`` helper processes (0: in the calling thread).

    Started on the first feed to read, so a poll where every feed is unchanged starts none;
    ``close`` ends them (one cycle's life: a resident helper would hold ~40 MB between polls).
    """

    def __init__(
        self, analyzer: Analyzer, processes: int, task: Callable[..., ReadFeed] | None = None
    ) -> None:
        """``analyzer``: the daemon's own, for feeds read in this process.  ``task``: what a
        helper runs (``read_in_helper``, or a test's wrapper of it)."""
        self._analyzer = analyzer
        self._brands = tuple(analyzer.brands.values())
        self._brands_key = hashlib.sha1(pickle.dumps(self._brands)).hexdigest()
        self._processes = processes
        self._task = task or read_in_helper
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._worked = False  # a helper has read a feed: it can run here
        self._broken = 0  # helpers that died before any had read a feed

    @property
    def processes(self) -> int:
        """Helper processes in use: 0 when reading in this process (or after a fallback)."""
        return self._processes

    def read(self, body: bytes, url: str, now: datetime, full_text: str) -> ReadFeed:
        for attempt in (1, 2):
            pool = self._started()
            if pool is None:  # no helper (configured so, or one cannot run here)
                return read_feed(body, url, now, self._analyzer, full_text)
            try:
                read = pool.submit(
                    self._task, body, url, now, self._brands_key, self._brands, full_text
                ).result()
            except BrokenProcessPool:
                log.warning("feed reader process died while reading %s (attempt %d)", url,
                            attempt)  # fmt: skip
                self._restart(pool)
                continue
            self._worked = True
            return read
        return ReadFeed(CRASHED, ())

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _started(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._pool is None and self._processes > 0:
                try:
                    # spawn, not fork: the daemon has threads (a forked child could inherit a
                    # lock held by one of them) and a database connection.
                    self._pool = ProcessPoolExecutor(
                        self._processes,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_helper_started,
                    )
                except (OSError, NotImplementedError) as err:  # no sem_open, no /dev/shm…
                    self._fall_back(f"{type(err).__name__}: {err}")
            return self._pool

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:  # another thread may have restarted it already
                self._pool = None
                if not self._worked:
                    self._broken += 1
                    if self._broken >= 3:
                        # Never one feed read: the helper cannot run here (a sandbox, a
                        # broken install), not a hostile feed.  Better slower than blind.
                        self._fall_back("it died 3 times before reading any feed")
        broken.shutdown(wait=False, cancel_futures=True)

    def _fall_back(self, why: str) -> None:
        log.warning("no feed reader process (%s): feeds are read in the daemon's process", why)
        self._processes = 0


_HELPER_ANALYZERS: dict[str, Analyzer] = {}


def _helper_started() -> None:
    """The daemon ends its helpers itself (``close``, once the feeds in flight are read).
    systemd's SIGTERM to the whole unit, or a Ctrl-C in a terminal, must not kill them first:
    the feeds they were reading would be recorded as failed."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def read_in_helper(
    body: bytes, url: str, now: datetime, brands_key: str, brands: tuple[Brand, ...],
    full_text: str,
) -> ReadFeed:  # fmt: skip
    """``read_feed`` in a helper process, with the analyzer of these brands built once."""
    analyzer = _HELPER_ANALYZERS.get(brands_key)
    if analyzer is None:
        _HELPER_ANALYZERS.clear()  # another config (tests): the old one is of no use
        analyzer = _HELPER_ANALYZERS[brands_key] = Analyzer(brands)
    return read_feed(body, url, now, analyzer, full_text)
