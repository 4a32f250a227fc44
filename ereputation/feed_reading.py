"""A feed body in, its items judged out: parsing and analysis, off the daemon's GIL.

Parsing (fastfeedparser, lxml, flattening HTML), brand matching, language and sentiment are
pure CPU work and most of a first pass's, and the daemon's threads share one core through
the GIL.  A helper process (``fetch.parse_processes``: one by default on a machine with two
cores or more) does them on the second core; the daemon's own process keeps the network,
article pages, story fingerprints and the database (bench/scale.py, docs/benchmarks.md).

Only what the daemon needs comes back: every item's key, the article to store for an item
that names a brand, and the item itself when its article page is to be read (the daemon
reads pages: politeness per host lives there).  Most items are a key alone, so the traffic
between the processes stays small; so are the items the source gave on earlier polls, left
unjudged: the reader asks the database (read-only) which they are, as the daemon does after
it.  Which process read a feed never shows in what is stored: ``read_feed`` is the one
function both run.

A parser that crashes the helper (a fault in a C library on a hostile feed) costs that feed,
not the daemon: the feed is tried once more in a new helper, then reported as failed.  One
that never finishes is killed after ``READ_TIMEOUT`` and its feed fails at once.

The helper is a plain Python process (this interpreter, this ``sys.path``, then ``main``
below) talking pickle over its stdin and stdout, not ``multiprocessing``: no semaphore in
/dev/shm, no resource-tracker process (~14 MB more), no re-import of the daemon's
``__main__``; the pipes are all it needs, which the systemd sandbox allows.  The pickles
only ever come from the daemon or its own helper.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING

from .judge import Analyzer, record_from_item

if TYPE_CHECKING:
    from .config import Brand
    from .extract import FeedItem
    from .records import ArticleRecord
    from .store.record import SeenItems

# Which of a feed's item keys are new (not yet in seen_items for its source).
Unseen = Callable[[Sequence[str]], set[str]]

log = logging.getLogger(__name__)

# An item whose feed text is shorter than this is probably a teaser: read the article page.
SHORT_TEXT = 400
CRASHED = "the feed parser crashed on this feed (tried twice)"
# Requests sent to a helper before its answers come back: the next feed is in its pipe
# when it finishes one (see _Helper).
IN_FLIGHT = 2
# A helper still reading one feed after this long is stuck (a parser looping on a hostile
# feed): it is killed and the feed fails.  A 10 MB feed (fetch.max_size's default) takes a
# few seconds.  Without it one such feed would stall every cycle for good, as every other
# feed waits for the helper.
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class ReadFeed:
    """A feed's items as the reader saw them, by their position in the feed.

    Most items name no brand and are a key alone: plain strings cross the pipe ten times
    cheaper than an object per item (pickled and unpickled, ~0.1 s of CPU per 1,000 feeds
    on each side).
    """

    problem: str | None  # the feed could not be read; there are then no keys
    keys: tuple[str, ...]  # every item's identity in seen_items (``item_key``)
    pages: dict[int, FeedItem]  # items whose article page is to be read before judging
    records: dict[int, ArticleRecord]  # else what to store, for the items that name a brand


def item_key(item: FeedItem) -> str:
    # The title is part of the key: an item corrected to name a brand is read again.
    return hashlib.sha1(f"{item.guid}\n{item.title}".encode("utf-8", "surrogatepass")).hexdigest()


def wants_page(item: FeedItem, full_text: str) -> bool:
    """Whether the item's article page is to be read (``full_text``: auto, always, never)."""
    return item.link is not None and (
        full_text == "always"
        or (full_text == "auto" and len(item.summary) + len(item.content) < SHORT_TEXT)
    )


def read_feed(
    body: bytes,
    url: str,
    now: datetime,
    analyzer: Analyzer,
    full_text: str,
    unseen: Unseen | None = None,
) -> ReadFeed:
    """Parse ``body`` and judge its items (the same in the daemon or a helper).

    ``unseen``: which keys are new; the others are left unjudged, a key alone, since the
    daemon keeps only new items.  A changed feed is mostly items read before (a window of the
    latest 20–100 that slides by a few), and matching and judging them again cost twice
    their parsing (docs/benchmarks.md, seventeenth session).  None: judge every item.
    """
    from .extract import parse_feed

    parsed = parse_feed(body, url, now)
    if parsed.problem:
        return ReadFeed(parsed.problem, (), {}, {})
    keys = tuple(map(item_key, parsed.items))
    new = None if unseen is None else unseen(keys)
    pages: dict[int, FeedItem] = {}
    records: dict[int, ArticleRecord] = {}
    for position, item in enumerate(parsed.items):
        if new is not None and keys[position] not in new:
            continue
        if wants_page(item, full_text):
            pages[position] = item
        else:
            record = record_from_item(analyzer, item, None, url)
            if record is not None:
                records[position] = record
    return ReadFeed(None, keys, pages, records)


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
    ``close`` ends them: they live for one cycle, rather than hold their memory between polls.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        processes: int,
        task: str | None = None,
        seen: SeenItems | None = None,
    ) -> None:
        """``analyzer``: the daemon's own, for feeds read in this process.  ``task``: what a
        helper runs, as ``module:function`` (``read_in_helper``, or a test's wrapper).
        ``seen``: the items already read (None: every item is judged)."""
        self._analyzer = analyzer
        self._seen = seen
        self._brands = tuple(analyzer.brands.values())
        self._brands_key = hashlib.sha1(pickle.dumps(self._brands)).hexdigest()
        self._processes = processes
        self._task = task
        self._lock = threading.Lock()
        self._idle: queue.SimpleQueue[_Helper | None] = queue.SimpleQueue()
        self._helpers: list[_Helper] = []
        self._started = False
        self._worked = False  # a helper has read a feed: helpers can run here
        self._deaths = 0  # helpers that died before any had read a feed

    @property
    def processes(self) -> int:
        """Helper processes in use: 0 when reading in this process (or after a fallback)."""
        return self._processes

    def read(
        self, body: bytes, url: str, now: datetime, full_text: str, source_id: int | None = None
    ) -> ReadFeed:
        """``source_id``: the source whose items already read are not judged again (None: a
        source never read, or no database: judge them all)."""
        seen = self._seen if source_id is not None else None
        seen_at = None if seen is None else (seen.path, source_id)
        request = (body, url, now, self._brands_key, self._brands, full_text, seen_at)
        attempts = 0
        while True:
            helper = self._take()
            if helper is None:  # no helper (configured so, or one cannot run here)
                unseen = None if seen is None or source_id is None else _unseen(seen, source_id)
                return read_feed(body, url, now, self._analyzer, full_text, unseen)
            try:
                read = helper.ask(request)
            except _NotRead:  # the helper died on another feed before it read this one
                self._replace(helper)
                continue
            except _HelperDied as died:
                attempts += 1
                log.warning("feed reader process died while reading %s (attempt %d): %s",
                            url, attempts, died)  # fmt: skip
                self._replace(helper, counts=not died.stuck)
                if died.stuck:  # it would only be stuck again
                    return ReadFeed(f"the feed parser was still reading this feed after "
                                    f"{READ_TIMEOUT:g} s: given up", (), {}, {})  # fmt: skip
                if attempts >= 2:
                    return ReadFeed(CRASHED, (), {}, {})
                continue
            self._worked = True
            self._idle.put(helper)
            return read

    def close(self) -> None:
        with self._lock:
            helpers, self._helpers = self._helpers, []
            self._processes = 0
        for _ in helpers:
            self._idle.put(None)  # a thread waiting for a helper reads in-process instead
        for helper in helpers:
            helper.stop()

    def _take(self) -> _Helper | None:
        with self._lock:
            if not self._started and self._processes > 0:
                self._started = True
                for _ in range(self._processes):
                    self._start_one()
            if self._processes <= 0:
                return None
        return self._idle.get()

    def _start_one(self) -> None:
        """A new helper in the idle queue (under the lock), or the fallback if none starts."""
        try:
            helper = _Helper(self._task)
        except OSError as err:
            self._fall_back(f"{type(err).__name__}: {err}")
            return
        self._helpers.append(helper)
        for _ in range(IN_FLIGHT):
            self._idle.put(helper)

    def _replace(self, dead: _Helper, counts: bool = True) -> None:
        """A new helper for a dead one; the threads that held its other places in the idle
        queue come here too, and find it replaced already.  ``counts``: the death may mean
        that helpers cannot run here (not so for one killed for being stuck on a feed: in
        this process, that feed would stall the daemon itself)."""
        dead.stop()
        with self._lock:
            if dead not in self._helpers:
                return
            self._helpers.remove(dead)
            if counts and not self._worked:
                self._deaths += 1
                if self._deaths >= 3:
                    # Never one feed read: the helper cannot run here (a sandbox, a broken
                    # install), not a hostile feed.  Better slower than blind.
                    self._fall_back("it died 3 times before reading any feed")
                    return
            if self._processes > 0:
                self._start_one()

    def _fall_back(self, why: str) -> None:
        """Read in this process from now on (under the lock)."""
        log.warning("no feed reader process (%s): feeds are read in the daemon's process", why)
        self._processes = 0
        for _ in range(len(self._helpers) + 64):
            self._idle.put(None)  # wakes every thread waiting for a helper


_SYS_PATH = "EREPUTATION_READER_SYS_PATH"
_BOOTSTRAP = (
    "import json, os, sys\n"
    f"sys.path[:] = json.loads(os.environ.pop({_SYS_PATH!r}))\n"
    "from ereputation.feed_reading import main\n"
    "main()\n"
)


class _HelperDied(Exception):
    """The helper died while reading this request (``stuck``: killed for taking too long)."""

    def __init__(self, why: str, stuck: bool = False) -> None:
        super().__init__(why)
        self.stuck = stuck


class _NotRead(Exception):
    """The helper died before it began this request (on the one before it)."""


class _Answer:
    """Where a request's answer (or the helper's death) is handed to the thread that asked."""

    __slots__ = ("ready", "value", "error")

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value: ReadFeed | None = None
        self.error: Exception | None = None


class _Helper:
    """One helper process and its pipes, with up to ``IN_FLIGHT`` requests in it.

    The helper answers in order; a thread of ours (``_collect``) reads the answers and hands
    each to the thread that asked.  With one request at a time, the helper waited, between
    two feeds, for the asking thread to get the GIL back, take the answer and send the next
    body: ~20 % of its time on a first pass.
    """

    def __init__(self, task: str | None) -> None:
        # The daemon's own sys.path, as it is (not through PYTHONPATH, which would put its
        # entries before the standard library's): the helper imports what the daemon does.
        env = {**os.environ, _SYS_PATH: json.dumps(sys.path)}
        command = [sys.executable, "-c", _BOOTSTRAP, *([task] if task else [])]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True
        )
        self._lock = threading.Lock()  # the request pipe, and the order of the answers
        self._waiting: deque[_Answer] = deque()
        self._head_since = 0.0  # when the helper began the first waiting request
        self._stuck: str | None = None  # why it was killed, when it was
        self._death: str | None = None
        self._collector = threading.Thread(
            target=self._collect, name="feed-reader-answers", daemon=True
        )
        self._collector.start()

    def ask(self, request: tuple[object, ...]) -> ReadFeed:
        assert self.process.stdin is not None
        answer = _Answer()
        with self._lock:
            if self._death is not None:
                raise _NotRead(self._death)
            if not self._waiting:
                self._head_since = time.monotonic()
            self._waiting.append(answer)
            try:
                pickle.dump(request, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.flush()
            except OSError:
                pass  # the helper is gone: _collect sees its pipe close and says why
        while not answer.ready.wait(1.0):
            self._kill_if_stuck()
        if answer.error is not None:
            raise answer.error
        assert answer.value is not None
        return answer.value

    def _kill_if_stuck(self) -> None:
        """Kill the helper when the feed it is reading has taken ``READ_TIMEOUT``: that feed
        (the first waiting) then fails, and the ones behind it go to another helper."""
        with self._lock:
            if not self._waiting or self._stuck is not None:
                return
            if time.monotonic() - self._head_since < READ_TIMEOUT:
                return
            self._stuck = f"still reading one feed after {READ_TIMEOUT:g} s: killed"
        self.process.kill()

    def _collect(self) -> None:
        """Hand out the answers in order; when the helper dies, the request it was reading
        gets ``_HelperDied``, the ones queued behind it ``_NotRead``."""
        assert self.process.stdout is not None
        while True:
            try:
                status, value = pickle.load(self.process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError, ValueError) as err:
                self._died(err)
                return
            with self._lock:
                answer = self._waiting.popleft()
                self._head_since = time.monotonic()  # the helper goes on with the next one
            if status == "ok":
                answer.value = value
            else:
                answer.error = RuntimeError(f"in the feed reader process: {value}")
            answer.ready.set()

    def _died(self, err: BaseException) -> None:
        try:
            code: int | None = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()  # a garbled answer: the helper is not to be trusted further
            code = None
        with self._lock:
            stuck = self._stuck
            why = stuck or (f"exit status {code}" if code is not None else repr(err))
            self._death = why
            waiting = list(self._waiting)
            self._waiting.clear()
        for position, answer in enumerate(waiting):
            answer.error = _HelperDied(why, stuck is not None) if position == 0 else _NotRead(why)
            answer.ready.set()

    def stop(self) -> None:
        """End the helper: EOF on its stdin ends its loop; killed if it does not stop."""
        with self._lock:
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._collector.join()
        if self.process.stdout is not None:
            self.process.stdout.close()


_HELPER_ANALYZERS: dict[str, Analyzer] = {}
_HELPER_SEEN: dict[str, SeenItems] = {}


def read_in_helper(
    body: bytes, url: str, now: datetime, brands_key: str, brands: tuple[Brand, ...],
    full_text: str, seen_at: tuple[str, int] | None = None,
) -> ReadFeed:  # fmt: skip
    """``read_feed`` in a helper process, with the analyzer of these brands built once.
    ``seen_at``: (database, source id) whose seen items are not judged again."""
    analyzer = _HELPER_ANALYZERS.get(brands_key)
    if analyzer is None:
        _HELPER_ANALYZERS.clear()  # another config (tests): the old one is of no use
        analyzer = _HELPER_ANALYZERS[brands_key] = Analyzer(brands)
    unseen = None if seen_at is None else _helper_unseen(*seen_at)
    return read_feed(body, url, now, analyzer, full_text, unseen)


def _helper_unseen(database: str, source_id: int) -> Unseen:
    """``_unseen`` through the helper's own read-only connection (one per database)."""
    from .store.record import SeenItems

    seen = _HELPER_SEEN.get(database)
    if seen is None:
        for old in _HELPER_SEEN.values():
            old.close()
        _HELPER_SEEN.clear()
        seen = _HELPER_SEEN[database] = SeenItems(database)
    return _unseen(seen, source_id)


def _unseen(seen: SeenItems, source_id: int) -> Unseen:
    """Which keys ``source_id`` has not given yet.  If the database cannot say, every item is
    judged: the daemon keeps only the new ones all the same."""
    import sqlite3

    def unseen(keys: Sequence[str]) -> set[str]:
        try:
            return seen.new_hashes(source_id, keys)
        except sqlite3.Error as err:
            log.warning("seen items of source %d not read (%s): its items are all judged",
                        source_id, err)  # fmt: skip
            return set(keys)

    return unseen


def _serve(task: Callable[..., ReadFeed], requests: IO[bytes], answers: IO[bytes]) -> None:
    """The helper's loop: a request in, an answer out, until the daemon closes the pipe."""
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            answer: tuple[str, object] = ("ok", task(*request))
        except Exception as err:  # noqa: BLE001 - reported to the daemon, which logs it
            answer = ("error", f"{type(err).__name__}: {err}")
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def main() -> None:
    """A helper's life (``_BOOTSTRAP``); ``sys.argv[1]``, if any: the task as
    ``module:function``, else ``read_in_helper``."""
    # The daemon ends its helpers itself (``close``, once the feeds in flight are read).
    # systemd's SIGTERM to the whole unit, or a Ctrl-C in a terminal, must not kill them
    # first: the feeds they were reading would be recorded as failed.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .malloc_tuning import tune_malloc

    tune_malloc()
    task: Callable[..., ReadFeed] = read_in_helper
    if len(sys.argv) > 1:
        import importlib

        module, _, name = sys.argv[1].partition(":")
        task = getattr(importlib.import_module(module), name)
    # The answers get the real stdout; anything a library prints goes to stderr instead.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(task, sys.stdin.buffer, answers)
    # The daemon waits for this process to end, at the end of every cycle.  The interpreter's
    # own exit would free the models, memos and parsed feeds object by object (0.1-0.15 s of
    # CPU after a 1,000-feed first pass, docs/benchmarks.md, eighteenth session); nothing here
    # is left to save, so the process ends at once, its read-only connections closed first.
    for seen in _HELPER_SEEN.values():
        seen.close()
    with contextlib.suppress(OSError):  # every answer was flushed already
        answers.close()
        sys.stderr.flush()
    os._exit(0)
