"""One poll cycle: every due source fetched, read, matched, scored and stored.

Workers (threads) do the per-source work: fetch, extract, match, score; a changed feed's
parsing and per-item analysis go to a feed reader process when there is one
(feed_reading.py), so that they run on another core.  The workers only *read* the database
(which items are new).  The calling thread is the single writer: it stores each source's
outcome in one transaction as soon as that source is done, so a cycle interrupted by
SIGTERM or ``kill -9`` keeps every source it finished and nothing half-done.

One broken source never stops the others: its error becomes its outcome.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from queue import SimpleQueue
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from .canonical import canonical_url
from .config import Config, Source
from .feed_reading import FeedReaders, default_processes
from .fetch import Conditional, Fetcher, FetchResult, Redirected, next_poll_delay
from .judge import Analyzer, record_from_item, with_fingerprint
from .records import ArticleRecord, SourceOutcome
from .spool import BodySpool
from .store.record import (
    PendingOutcome,
    SeenItems,
    SourceState,
    StoryIndex,
    record_outcomes,
    sync_sources,
)

if TYPE_CHECKING:
    from .article import Article
    from .store import Database

log = logging.getLogger(__name__)

# Feeds parsed and judged at once.  With the GIL one runs at a time; the others only hold
# their parsed items in memory meanwhile (32 workers: +15 MB at the peak, and slower).
# Fetching, the wait for the network, stays as wide as ``fetch.concurrency``.
JUDGING = 4
# Spreads polls (and retries of sources that failed together) so they do not come in waves.
# Outcomes written in one commit when several are ready (FTS5 pays per commit).
WRITE_BATCH = 16
_JITTER = random.Random()


@dataclass
class CycleReport:
    """What one cycle did, for logs and the CLI."""

    polled: int = 0
    failed: int = 0
    not_modified: int = 0
    new_articles: int = 0
    new_mentions: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (source name, error)
    interrupted: bool = False

    def summary(self) -> str:
        text = (
            f"{self.polled} sources polled ({self.not_modified} unchanged, {self.failed} failed), "
            f"{self.new_articles} new articles, {self.new_mentions} new mentions"
        )
        return text + (" — interrupted" if self.interrupted else "")


class SourcePoller:
    """Polls one source: everything a worker thread does, reading but never writing the DB."""

    def __init__(
        self,
        fetcher: Fetcher,
        analyzer: Analyzer,
        seen: SeenItems,
        stop: threading.Event,
        readers: FeedReaders | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.analyzer = analyzer
        self.readers = readers or FeedReaders(analyzer, 0)
        self.seen = seen
        self.stop = stop
        self.judging = threading.BoundedSemaphore(JUDGING)

    def poll(self, source: Source, state: SourceState, now: datetime) -> SourceOutcome:
        try:
            if source.kind == "page" and not state.feed_url:
                return self._poll_page(source, state, now)
            outcome = self._poll_feed(source, state, now, state.feed_url or source.url)
            if source.kind == "page" and _feed_gone(outcome):
                # The feed the page advertised broke or went away: read the page itself now
                # (which also finds a feed it advertises instead), rather than fail forever.
                log.info("feed %s of %s unusable (%s): reading the page", state.feed_url,
                         source.url, outcome.error)  # fmt: skip
                outcome = self._poll_page(source, _fresh(state), now)
                return outcome if outcome.feed_url else replace(outcome, forget_feed=True)
            return outcome
        except Exception as err:  # a bug on one source's data must not end the cycle
            return _internal_error(source, now, err)

    def poll_fetched(
        self, source: Source, state: SourceState, now: datetime, result: FetchResult | Redirected
    ) -> SourceOutcome:
        """``poll`` of a feed whose conditional GET ``Fetcher.fetch_many`` already made."""
        try:
            if isinstance(result, Redirected):
                result = self.fetcher.follow(result)
            return self._read_fetched(source, state, now, result)
        except Exception as err:  # a bug on one source's data must not end the cycle
            return _internal_error(source, now, err)

    def _poll_feed(
        self, source: Source, state: SourceState, now: datetime, url: str
    ) -> SourceOutcome:
        result = self.fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified)
        return self._read_fetched(source, state, now, result)

    def _read_fetched(
        self, source: Source, state: SourceState, now: datetime, result: FetchResult
    ) -> SourceOutcome:
        if not result.ok or result.not_modified:
            return _unread(source, now, result)
        body = result.body or b""
        body_hash = hashlib.sha1(body).hexdigest()
        if body_hash == state.body_hash:
            # The very bytes judged last time (a server that ignores conditional GET, or a
            # broken feed sent again): the same verdict, without parsing.
            if state.last_error is None:
                return SourceOutcome(
                    source, now, status=result.status, not_modified=True,
                    etag=result.etag, last_modified=result.last_modified,
                )  # fmt: skip
            return SourceOutcome(
                source, now, status=result.status, error=state.last_error, body_hash=body_hash
            )
        with self.judging:
            return self._judge_feed(source, state, now, result, body, body_hash)

    def _judge_feed(
        self,
        source: Source,
        state: SourceState,
        now: datetime,
        result: FetchResult,
        body: bytes,
        body_hash: str,
    ) -> SourceOutcome:
        """Judge a feed body's new items (under ``judging``: see ``JUDGING``).  Parsing and
        judging the items from the feed's text are ``readers``' (a helper process, or this
        thread); the items whose article page is to be read first are judged here."""
        # A source never read has no seen items: its reader need not ask.
        known = state.id if state.last_ok_at is not None else None
        read = self.readers.read(body, result.final_url, now, source.full_text, known)
        if read.problem:
            return SourceOutcome(
                source, now, status=result.status, error=read.problem, body_hash=body_hash
            )
        new = self.seen.new_hashes(state.id, read.keys)
        seen: list[str] = []
        articles: list[ArticleRecord] = []
        budget = source.max_articles
        whole = True  # every new item judged: nothing is left for the next poll to read
        for position, key in enumerate(read.keys):
            if key not in new:
                continue
            if self.stop.is_set():
                whole = False
                continue
            new.discard(key)
            item = read.pages.get(position)
            if item is None:  # judged by the reader from the feed's text alone
                if position in read.records:
                    articles.append(read.records[position])
                seen.append(key)
                continue
            link = canonical_url(item.link) if item.link else None
            article = None
            if link and not self.seen.article_known(link):
                if budget <= 0:
                    whole = False  # left unseen: read on a later poll, within its budget
                    continue
                budget -= 1
                article, retry = self._read_article(item.link or link)
                if retry:
                    # The page is down for now. What the feed says is kept at once; an item
                    # whose feed text names no brand stays new, and its page is tried again.
                    record = record_from_item(self.analyzer, item, None, result.final_url)
                    if record is not None:
                        articles.append(record)
                        seen.append(key)
                    else:
                        whole = False
                    continue
            record = record_from_item(self.analyzer, item, article, result.final_url)
            if record is not None and record.mentions:
                articles.append(record)
            seen.append(key)
        return _read(source, now, result, len(read.keys), seen, articles, whole, body_hash)

    def _read_article(self, url: str) -> tuple[Article | None, bool]:
        """The article page's content, and whether a failure is worth retrying next poll.

        A page that is gone or forbidden is not retried: the item is read from the feed alone.
        """
        from .article import extract_article  # trafilatura and bs4: only when a page is read

        self.judging.release()  # waiting for a page is not judging: let another feed in
        try:
            page = self.fetcher.fetch(url, obey_robots=True)
        finally:
            self.judging.acquire()
        if page.ok and page.body:
            return extract_article(page.body, page.final_url), False
        log.info("article page %s not read: %s", url, page.error or "empty")
        final = page.status is not None and 400 <= page.status < 500 and page.status != 429
        robots = "robots.txt" in (page.error or "")
        return None, not (final or robots or page.ok)

    def _poll_page(self, source: Source, state: SourceState, now: datetime) -> SourceOutcome:
        from .article import extract_article  # trafilatura and bs4: only for page sources
        from .discover import COMMON_FEED_PATHS, find_article_anchors, find_feed_links
        from .extract import FeedItem

        listing = self.fetcher.fetch(
            source.url, etag=state.etag, last_modified=state.last_modified, obey_robots=True
        )
        if not listing.ok or listing.not_modified:
            return _unread(source, now, listing)
        body = listing.body or b""
        if not source.selector:
            candidates = find_feed_links(body, listing.final_url)
            if not candidates and state.last_ok_at is None:
                # Never read before: look once at the paths where sites keep unadvertised feeds.
                candidates = [urljoin(listing.final_url, path) for path in COMMON_FEED_PATHS]
            for feed_url in candidates:
                outcome = self._poll_feed(source, _fresh(state), now, feed_url)
                if outcome.ok and outcome.items_read:
                    log.info("%s advertises the feed %s: using it", source.url, feed_url)
                    return _with_feed_url(outcome, feed_url)
        # key -> URL as written: the key (what is stored) is not always served (AMP paths)
        anchors = find_article_anchors(body, listing.final_url, source.selector)
        links = list(anchors)
        keys = {link: hashlib.sha1(link.encode()).hexdigest() for link in links}
        new = self.seen.new_hashes(state.id, list(keys.values()))
        seen: list[str] = []
        articles: list[ArticleRecord] = []
        budget = source.max_articles
        whole = True
        for link in links:
            key = keys[link]
            if key not in new:
                continue
            if budget <= 0 or self.stop.is_set():
                whole = False
                continue
            new.discard(key)
            if self.seen.article_known(canonical_url(link)):
                seen.append(key)
                continue
            budget -= 1
            page = self.fetcher.fetch(anchors[link], obey_robots=True)
            if not page.ok or not page.body:
                if page.status is not None and 400 <= page.status < 500 and page.status != 429:
                    seen.append(key)  # gone or forbidden: do not ask again
                else:
                    whole = False
                continue
            article = extract_article(page.body, page.final_url)
            item = FeedItem(
                guid=link, link=link, title=article.title or "", summary="",
                content=article.text, author=article.author,
                published_at=article.published_at, language=article.language,
            )  # fmt: skip
            record = record_from_item(self.analyzer, item, article, listing.final_url)
            if record is not None:
                articles.append(record)
            seen.append(key)
        return _read(source, now, listing, len(links), seen, articles, whole)


def _internal_error(source: Source, now: datetime, err: Exception) -> SourceOutcome:
    """The outcome of a poll that raised: logged with its traceback, and the source's error."""
    log.exception("unexpected error while polling %s", source.url)
    return SourceOutcome(source, now, error=f"internal error: {type(err).__name__}: {err}")


def _read(
    source: Source,
    now: datetime,
    result: FetchResult,
    items_read: int,
    seen: list[str],
    articles: list[ArticleRecord],
    whole: bool,
    body_hash: str | None = None,
) -> SourceOutcome:
    """The outcome of a body read, its articles with their story fingerprints.  When items
    wait for a later poll (``whole`` false), no validators and no hash are kept: that poll
    must read the body again, not get a 304."""
    if not whole:
        etag = last_modified = body_hash = None
    else:
        etag, last_modified = result.etag, result.last_modified
    return SourceOutcome(
        source, now, status=result.status, etag=etag, last_modified=last_modified,
        items_read=items_read, seen_hashes=tuple(seen),
        articles=tuple(map(with_fingerprint, articles)),
        body_hash=body_hash,
    )  # fmt: skip


def _unread(source: Source, now: datetime, result: FetchResult) -> SourceOutcome:
    """The outcome of a fetch that brought nothing to read: unchanged (304) or failed."""
    if result.not_modified:
        return SourceOutcome(
            source, now, status=result.status, not_modified=True,
            etag=result.etag, last_modified=result.last_modified,
        )  # fmt: skip
    return SourceOutcome(
        source, now, status=result.status, error=result.error or f"HTTP {result.status}",
        retry_after=result.retry_after,
    )  # fmt: skip


def _feed_gone(outcome: SourceOutcome) -> bool:
    """The feed answered but is no use (gone, forbidden, not a feed); not "busy, come back"."""
    status = outcome.status
    return (
        not outcome.ok
        and status is not None
        and (200 <= status < 300 or (400 <= status < 500 and status != 429))
    )


def _fresh(state: SourceState) -> SourceState:
    """The state to poll a newly discovered feed with: no validators of the page's."""
    return replace(state, etag=None, last_modified=None, feed_url=None)


def _with_feed_url(outcome: SourceOutcome, feed_url: str) -> SourceOutcome:
    return replace(outcome, feed_url=feed_url)


def next_poll_at(source: Source, state: SourceState, outcome: SourceOutcome) -> datetime:
    """When to poll again: ``every`` with ±10 % jitter, or a backoff after failures."""
    if outcome.ok:
        delay = source.every * _JITTER.uniform(0.9, 1.1)
    else:
        delay = next_poll_delay(source.every, state.failures + 1, outcome.retry_after, rng=_JITTER)
    return outcome.polled_at + timedelta(seconds=delay)


def run_cycle(
    config: Config,
    db: Database,
    *,
    now: datetime | None = None,
    only_due: bool = False,
    stop: threading.Event | None = None,
    fetcher: Fetcher | None = None,
) -> CycleReport:
    """Poll the configured sources (all, or only those due) and store what they say.

    Returns a report; raises only ``StoreError`` (the database is unusable), never for a
    source's problem.  Setting ``stop`` ends the cycle early, keeping what is finished.
    """
    stop = stop or threading.Event()
    now = now or datetime.now(UTC)
    report = CycleReport()
    states = sync_sources(db, config.sources)
    sources = [s for s in config.sources if not only_due or _due(states[s.url], now)]
    if not sources:
        return report
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(config.fetch)
    analyzer = Analyzer(config.brands)
    seen = SeenItems(str(config.database))
    stories = StoryIndex(db, now)
    processes = config.fetch.parse_processes
    readers = FeedReaders(
        analyzer, default_processes() if processes is None else processes, seen=seen
    )
    try:
        with ThreadPoolExecutor(
            max_workers=max(1, min(config.fetch.concurrency, len(sources))),
            thread_name_prefix="poll",
        ) as pool:
            poller = SourcePoller(fetcher, analyzer, seen, stop, readers)
            _Cycle(config, db, states, stories, report, stop, pool, poller, now).run(sources)
            report.interrupted = stop.is_set() and report.polled < len(sources)
    finally:
        readers.close()
        seen.close()
        if own_fetcher:
            fetcher.close()
    return report


class _Cycle:
    """The polls of one cycle in flight, and their outcomes stored as they come.

    Every feed is asked with one (conditional, when it has validators) GET among all the
    others through ``Fetcher.fetch_many``, in this thread: a 304 or a failure is stored
    without any worker; only a body (or a redirect) goes to a worker, to be read.  A page
    source, whose poll may fetch its advertised feed and articles, is polled whole by a
    worker.  Why: through one thread per source, the threads handed the GIL to each other
    at every header line; an unchanged pass cost 0.46–0.57 s of CPU, now 0.27–0.42 s, and a
    first pass ~5 % less (docs/benchmarks.md, eleventh round).
    """

    def __init__(
        self,
        config: Config,
        db: Database,
        states: dict[str, SourceState],
        stories: StoryIndex,
        report: CycleReport,
        stop: threading.Event,
        pool: ThreadPoolExecutor,
        poller: SourcePoller,
        now: datetime,
    ) -> None:
        self.db, self.states, self.stories, self.report = db, states, stories, report
        self.now = now  # the cycle's time: every outcome is stamped with it
        self.stop, self.pool, self.poller = stop, pool, poller
        self.width = max(1, config.fetch.concurrency)
        self.finished: SimpleQueue[tuple[Source, Future[SourceOutcome] | SourceOutcome]] = (
            SimpleQueue()
        )
        self.expected = 0  # outcomes not yet taken from ``finished``
        self.whole = 0  # pages polled whole by workers, not yet stored
        self.reading = 0  # bodies from fetch_many with a worker, not yet stored
        # Bodies fetched while ``width`` wait for a worker already: fetching runs ahead.
        self.spool: BodySpool[Source] = BodySpool(config.database.parent)

    def run(self, sources: list[Source]) -> None:
        asked = [s for s in sources if self._fetched_at_once(s)]
        polled: Iterable[Source] = iter([s for s in sources if not self._fetched_at_once(s)])
        self._submit_whole(polled)
        requests = (
            Conditional(self._url(s), self.states[s.url].etag, self.states[s.url].last_modified, s)
            for s in asked
        )
        try:
            if asked:
                many = self.poller.fetcher.fetch_many(
                    requests,
                    may_start=lambda: self.reading < self.width or self.spool.has_room(),
                    stop=self.stop.is_set,
                )
                for batch in many:
                    for request, result in batch:
                        self._answered(request.tag, result)
                    self._store_ready(block=False)
                    self._submit_whole(polled)
            while self.expected:
                self._store_ready(block=True)
                self._submit_whole(polled)
        finally:
            self.spool.close()  # what a stop left unread is asked again next cycle

    def _fetched_at_once(self, source: Source) -> bool:
        return source.kind != "page"

    def _url(self, source: Source) -> str:
        return self.states[source.url].feed_url or source.url

    def _answered(self, source: Source, result: FetchResult | Redirected) -> None:
        """A conditional GET's answer: stored as it is, or a body handed to a worker."""
        if isinstance(result, FetchResult) and (not result.ok or result.not_modified):
            self.expected += 1
            self.finished.put((source, _unread(source, self.now, result)))
            return
        if self.reading < self.width and not self.spool:
            self._hand_to_worker(source, result)
        else:
            self.spool.put(source, result)

    def _hand_to_worker(self, source: Source, result: FetchResult | Redirected) -> None:
        """A body (or a redirect to follow) handed to a worker."""
        self.reading += 1
        state = self.states[source.url]
        self._submit(source, self.poller.poll_fetched, source, state, self.now, result)

    def _unspool(self) -> None:
        """Hand spooled bodies to the workers while fewer than ``width`` are being read."""
        while self.spool and self.reading < self.width and not self.stop.is_set():
            source, result = self.spool.take()
            self._hand_to_worker(source, result)

    def _submit_whole(self, polled: Iterable[Source]) -> None:
        """Keep the workers' queue of whole polls ``2 × concurrency`` long, lazily: a stop
        request leaves the sources not yet started untouched."""
        if self.stop.is_set():
            return
        for source in _take(polled, max(0, 2 * self.width - self.whole)):
            self.whole += 1
            self._submit(source, self.poller.poll, source, self.states[source.url], self.now)

    def _submit(self, source: Source, task: Callable[..., SourceOutcome], *args: object) -> None:
        self.expected += 1
        future = self.pool.submit(task, *args)
        future.add_done_callback(lambda done: self.finished.put((source, done)))

    def _store_ready(self, block: bool) -> None:
        """Store what is ready (waiting for one outcome first when ``block``), in commits of
        up to ``WRITE_BATCH`` (FTS5 pays per commit)."""
        if block and self.expected:
            self._store_batch([self.finished.get()])
        while self.expected and not self.finished.empty():
            self._store_batch([])

    def _store_batch(
        self, done: list[tuple[Source, Future[SourceOutcome] | SourceOutcome]]
    ) -> None:
        """``done`` and what else is ready, up to ``WRITE_BATCH``, in one commit."""
        while len(done) < WRITE_BATCH and not self.finished.empty():
            done.append(self.finished.get())  # in completion order; one writer: this thread
        self.expected -= len(done)
        outcomes = []
        for source, item in done:
            if isinstance(item, Future):
                outcome = item.result()
                if self._fetched_at_once(source):
                    self.reading -= 1
                else:
                    self.whole -= 1
            else:
                outcome = item
            outcomes.append((self.states[source.url], outcome))
        _store(self.db, outcomes, self.stories, self.report)
        self._unspool()


def _due(state: SourceState, now: datetime) -> bool:
    return state.next_poll_at is None or state.next_poll_at <= now


def _take(iterator: Iterable[Source], count: int) -> list[Source]:
    taken = []
    for source in iterator:
        taken.append(source)
        if len(taken) >= count:
            break
    return taken


def _store(
    db: Database,
    outcomes: Sequence[tuple[SourceState, SourceOutcome]],
    stories: StoryIndex,
    report: CycleReport,
) -> None:
    batch = [
        PendingOutcome(state, outcome, next_poll_at(outcome.source, state, outcome))
        for state, outcome in outcomes
    ]
    for (_, outcome), recorded in zip(outcomes, record_outcomes(db, batch, stories), strict=True):
        report.polled += 1
        report.new_articles += recorded.new_articles
        report.new_mentions += recorded.new_mentions
        if outcome.not_modified:
            report.not_modified += 1
        if not outcome.ok:
            report.failed += 1
            report.errors.append((outcome.source.name, outcome.error or "error"))
            log.warning("source %s (%s) failed: %s", outcome.source.name, outcome.source.url,
                        outcome.error)  # fmt: skip
        elif outcome.articles:
            log.info("source %s: %d new articles with mentions", outcome.source.name,
                     len(outcome.articles))  # fmt: skip
