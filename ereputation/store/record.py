"""The write side: source state, articles, mentions, seen items and stories, per poll.

One source's outcome is written in one transaction, so a crash (even ``kill -9``) leaves
either everything a poll found or nothing of it, never a half-written article.  Re-polling
the same items writes nothing: articles are unique by canonical URL, mentions by
(article, brand), seen items by (source, item hash).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from ..config import Source
from ..errors import StoreError
from ..records import STORY_TEXT_SQL, ArticleRecord, SourceOutcome

if TYPE_CHECKING:
    from ..stories import SignatureIndex
    from . import Database

log = logging.getLogger(__name__)

T = TypeVar("T")

# Stories older than this are closed: a new article on the topic starts a new story.
STORY_WINDOW = timedelta(days=3)
# Stories whose first article's features are kept to confirm joins (~1 KB each).
_FOUNDERS_KEPT = 2048
LOCK_RETRIES = 6


def iso(moment: datetime | None) -> str | None:
    """The one timestamp format of the database: UTC ISO-8601, seconds precision."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def retry_locked(action: Callable[[], T], what: str) -> T:
    """Run ``action``, waiting out a database held locked by someone else (an ad-hoc writer).

    The connection's busy timeout already waits 30 s per attempt; this adds a few attempts
    with growing pauses before giving up with a ``StoreError``.
    """
    for attempt in range(LOCK_RETRIES):
        try:
            return action()
        except sqlite3.OperationalError as err:
            message = str(err)
            if "locked" not in message and "busy" not in message:
                raise StoreError(f"cannot {what}: {message}", hint=_hint_for(message)) from err
            pause = min(60.0, 2.0**attempt) * (0.5 + random.random())
            log.warning("database busy while trying to %s; retrying in %.0f s", what, pause)
            time.sleep(pause)
    raise StoreError(
        f"cannot {what}: the database stayed locked",
        hint="another program holds a long write transaction on the database; end it",
    )


def _hint_for(message: str) -> str:
    if "full" in message:
        return "free some disk space where the database lives; nothing stored so far is lost"
    if "readonly" in message or "read-only" in message:
        return "make the database file and its folder writable by the daemon's user"
    return "check the database file (sqlite3 FILE 'PRAGMA integrity_check')"


@dataclass(frozen=True)
class SourceState:
    id: int
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None
    failures: int
    feed_url: str | None
    last_ok_at: datetime | None = None
    body_hash: str | None = None  # the last body judged; its verdict is ``last_error``
    last_error: str | None = None


def sync_sources(db: Database, sources: Sequence[Source]) -> dict[str, SourceState]:
    """Make sure every configured source has a row; return each one's state by URL.

    Rows of sources no longer configured are kept: their articles still point at them.
    """

    def write() -> None:
        with db.conn:
            db.conn.executemany(
                "INSERT INTO sources (url, name, kind, brand) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
                "brand = excluded.brand",
                [(s.url, s.name, s.kind, s.brand) for s in sources],
            )

    retry_locked(write, "register the sources")
    wanted = {s.url for s in sources}
    states = {}
    for row in db.execute(
        "SELECT id, url, etag, last_modified, next_poll_at, failures, feed_url, last_ok_at, "
        "body_hash, last_error FROM sources"
    ).fetchall():
        if row[1] in wanted:
            states[row[1]] = SourceState(
                row[0], row[2], row[3], parse_iso(row[4]), row[5], row[6], parse_iso(row[7]),
                row[8], row[9],
            )  # fmt: skip
    return states


@dataclass(frozen=True)
class Recorded:
    new_articles: int
    new_mentions: int


class StoryIndex:
    """The stories of the last ``STORY_WINDOW``, to group copies and rewrites.

    Read once per cycle, when first needed: a cycle that records nothing never reads them.
    The index itself is ``stories.SignatureIndex`` (signatures and LSH band keys in numpy
    arrays).  Why (bench/scale.py, on a corpus where each article tells its own story): with
    2-row bands, unrelated articles sharing common words are candidates often (27 % of pairs
    at a Jaccard of 0.1); confirming them one by one, each read back from the database,
    took 2.2 ms an article, and band keys as a dict of ints ~2.4 KB a story.
    """

    def __init__(self, db: Database, now: datetime) -> None:
        self._db = db
        self._since = iso(now - STORY_WINDOW)
        self._index: SignatureIndex | None = None
        self._founders: dict[int, tuple[str, ...]] = {}  # story -> its first article's features
        self._counted: tuple[str | None, tuple[str, ...]] | None = None  # find's last words

    def _loaded(self) -> SignatureIndex:
        if self._index is None:
            # numpy: only once something is recorded
            from ..stories import SignatureIndex, story_signatures

            index = SignatureIndex()
            rows = self._db.execute(
                "SELECT id, fingerprint FROM stories WHERE first_seen_at >= ? "
                "AND fingerprint IS NOT NULL ORDER BY id",
                [self._since],
            )
            while chunk := rows.fetchmany(4096):  # ~4 MB of fingerprints at a time
                kept, signatures = story_signatures([str(f) for _, f in chunk])
                index.add_many([int(chunk[i][0]) for i in kept], signatures)
            self._index = index
        return self._index

    def find(self, fingerprint: str | None, title: str, text: str) -> int | None:
        """The recent story that the article (its fingerprint, title and text) tells, or None.

        The fingerprints find the candidate, the most similar story (``SignatureIndex.find``);
        its words confirm it.  The similarity is an estimate, off by ~0.05 near the threshold
        (and now and then by far more), so an article that only shares boilerplate, the brand
        and the topic with a story (~0.2 of its words) was put in it: every query grouping by
        ``story_id`` read unrelated articles as one story, and as the index holds a story's
        first fingerprint only, the copies of such an article found no story of their own.
        So the article joins only if its features and those of the story's first article (the
        one whose fingerprint the index holds) have a Jaccard similarity of at least the
        threshold, counted.  One count an article at most: templated text makes many
        stories candidates (docs/benchmarks.md, twentieth session).
        """
        from ..stories import joins, story_features, story_signature

        signature = story_signature(fingerprint) if fingerprint else None
        story_id = None if signature is None else self._loaded().find(signature)
        if story_id is None:
            return None
        founder = self._founder(story_id)
        if founder is None:  # its first article is gone: the estimate is all there is
            return story_id
        words = story_features(title, text)
        if joins(words, founder):
            return story_id
        self._counted = (fingerprint, tuple(words))  # it starts a story: ``add`` keeps them
        return None

    def _founder(self, story_id: int) -> tuple[str, ...] | None:
        """The features of the story's first article, kept for the cycle: a story is often
        asked about again, and an article whose words were counted keeps them for the story
        it starts (``add``).  On the benchmark's first pass over 1,000 feeds, 1,114 counts
        read 268 first articles (600 when only what was read was kept)."""
        from ..stories import story_features

        founder = self._founders.get(story_id)
        if founder is None:
            row = self._db.execute(
                f"SELECT title, {STORY_TEXT_SQL} FROM articles "
                "WHERE story_id = ? ORDER BY id LIMIT 1",
                [story_id],
            ).fetchone()
            if row is None:
                return None
            founder = self._keep(story_id, tuple(story_features(row[0] or "", row[1])))
        return founder

    def _keep(self, story_id: int, founder: tuple[str, ...]) -> tuple[str, ...]:
        if len(self._founders) >= _FOUNDERS_KEPT:
            self._founders.clear()
        self._founders[story_id] = founder
        return founder

    def add(self, story_id: int, fingerprint: str | None) -> None:
        """A new story, started by an article with this fingerprint.  If ``find`` counted
        that article's words, they are the story's first article's: kept, not read again."""
        from ..stories import story_signature

        signature = story_signature(fingerprint) if fingerprint else None
        if signature is not None:
            self._loaded().add(story_id, signature)
        counted, self._counted = self._counted, None
        if counted is not None and counted[0] == fingerprint:
            self._keep(story_id, counted[1])

    def forget(self, story_ids: Iterable[int]) -> None:
        """Drop stories whose creation was rolled back (their ids will be given again)."""
        for story_id in story_ids:
            self._founders.pop(story_id, None)
            if self._index is not None:
                self._index.forget(story_id)


@dataclass(frozen=True)
class PendingOutcome:
    """One poll's outcome waiting to be written, with when to poll that source next."""

    state: SourceState
    outcome: SourceOutcome
    next_poll_at: datetime


def record_outcomes(
    db: Database, pending: Sequence[PendingOutcome], stories: StoryIndex
) -> list[Recorded]:
    """Write the outcomes of several polls in ONE transaction; safe to call again with them.

    Each outcome is whole or absent, as with one transaction each, but a commit is paid once:
    with FTS5 every commit flushes the new articles' index as a new segment to be merged
    later, and 1,000 small commits cost more than polling (bench/scale.py).  If the write
    fails, none of them is stored; their items stay unseen and are read again next poll.
    """
    what = (
        f"store the poll of {pending[0].outcome.source.url}"
        if len(pending) == 1
        else f"store the polls of {len(pending)} sources"
    )
    return retry_locked(lambda: _record(db, pending, stories), what)


def _record(db: Database, pending: Sequence[PendingOutcome], stories: StoryIndex) -> list[Recorded]:
    added_stories: list[tuple[int, str | None]] = []
    try:
        with db.conn:
            # The write lock first, then the clock: mentions are stamped found_at only once no
            # other writer can hold them back, so the stamp is at most this transaction older
            # than the commit (a digest covers what was found before it was built).
            if not db.conn.in_transaction:
                db.conn.execute("BEGIN IMMEDIATE")
            found_at = iso(datetime.now(UTC))
            return [
                _write_outcome(
                    db, p.state, p.outcome, p.next_poll_at, stories, added_stories, found_at
                )
                for p in pending
            ]
    except BaseException:
        stories.forget(story_id for story_id, _ in added_stories)  # rolled back with the rest
        raise


def _write_outcome(
    db: Database,
    state: SourceState,
    outcome: SourceOutcome,
    next_poll_at: datetime,
    stories: StoryIndex,
    added_stories: list[tuple[int, str | None]],
    found_at: str | None,
) -> Recorded:
    """One outcome's rows, inside the caller's transaction.

    ``found_at`` is the write time, not the poll's start: a digest built meanwhile by another
    process covers up to its own build time and must not miss what commits after it.
    """
    polled = iso(outcome.polled_at)
    new_articles = new_mentions = 0
    conn = db.conn
    if outcome.ok:
        conn.execute(
            "UPDATE sources SET last_polled_at = ?, last_ok_at = ?, failures = 0, "
            "last_error = NULL, last_status = ?, next_poll_at = ?, "
            "etag = CASE WHEN ? THEN coalesce(?, etag) ELSE ? END, "
            "last_modified = CASE WHEN ? THEN coalesce(?, last_modified) ELSE ? END, "
            # Unchanged: the body judged before stays, if it was judged fine (failures are
            # the count before this poll: SET reads the row as it was).
            "body_hash = CASE WHEN ? THEN CASE WHEN failures = 0 THEN body_hash END ELSE ? END, "
            "items_seen = items_seen + ?, "
            "feed_url = CASE WHEN ? THEN NULL ELSE coalesce(?, feed_url) END WHERE id = ?",
            [
                polled, polled, outcome.status, iso(next_poll_at),
                outcome.not_modified, outcome.etag, outcome.etag,
                outcome.not_modified, outcome.last_modified, outcome.last_modified,
                outcome.not_modified, outcome.body_hash,
                len(outcome.seen_hashes), outcome.forget_feed, outcome.feed_url, state.id,
            ],
        )  # fmt: skip
    else:
        conn.execute(
            "UPDATE sources SET last_polled_at = ?, failures = failures + 1, last_error = ?, "
            "last_status = ?, next_poll_at = ?, body_hash = ? WHERE id = ?",
            [polled, outcome.error, outcome.status, iso(next_poll_at), outcome.body_hash,
             state.id],
        )  # fmt: skip
    for article in outcome.articles:
        article_id, created, mentioned_at = _insert_article(
            conn, state.id, article, polled, stories, added_stories
        )
        if created:
            new_articles += 1
        for mention in article.mentions:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO mentions (article_id, brand, matched, snippet, "
                "sentiment, label, owned, mentioned_at, found_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    article_id, mention.brand, mention.matched, mention.snippet,
                    mention.sentiment, mention.label, int(mention.owned), mentioned_at,
                    found_at,
                ],
            )  # fmt: skip
            new_mentions += cursor.rowcount
    if outcome.seen_hashes:
        conn.executemany(
            "INSERT OR IGNORE INTO seen_items (source_id, item_hash, seen_at) VALUES (?, ?, ?)",
            [(state.id, h, polled) for h in outcome.seen_hashes],
        )
    return Recorded(new_articles, new_mentions)


def _insert_article(
    conn: sqlite3.Connection,
    source_id: int,
    article: ArticleRecord,
    fetched_at: str | None,
    stories: StoryIndex,
    added_stories: list[tuple[int, str | None]],
) -> tuple[int, bool, str]:
    """The article's id, whether it is new, and when it was published (else fetched): its
    mentions' ``mentioned_at``.  A new article joins (or starts) a story."""
    found = conn.execute(
        "SELECT id, coalesce(published_at, fetched_at) FROM articles WHERE url = ?",
        [article.url],
    ).fetchone()
    if found is not None:
        return int(found[0]), False, str(found[1])
    published = iso(article.published_at) or fetched_at
    story_id = stories.find(article.fingerprint, article.title, article.story_text)
    if story_id is None:
        story_id = int(
            conn.execute(
                "INSERT INTO stories (title, fingerprint, first_seen_at, updated_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                [article.title, article.fingerprint, published, fetched_at],
            ).fetchone()[0]
        )
        added_stories.append((story_id, article.fingerprint))
        stories.add(story_id, article.fingerprint)
    row = conn.execute(
        "INSERT INTO articles (url, link, source_id, outlet, guid, title, summary, content, "
        "author, published_at, fetched_at, language, content_hash, story_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            article.url, article.link, source_id, article.outlet, article.guid, article.title,
            article.summary,
            article.content, article.author, iso(article.published_at), fetched_at,
            article.language, article.content_hash, story_id,
        ],
    ).fetchone()  # fmt: skip
    article_id = int(row[0])
    # The story's first article is its earliest published one.
    conn.execute(
        "UPDATE stories SET updated_at = ?, "
        "first_article_id = CASE WHEN first_article_id IS NULL OR ? < first_seen_at "
        "THEN ? ELSE first_article_id END, "
        "title = CASE WHEN first_article_id IS NULL OR ? < first_seen_at "
        "THEN ? ELSE title END, "
        "first_seen_at = min(first_seen_at, ?) WHERE id = ?",
        [fetched_at, published, article_id, published, article.title, published, story_id],
    )
    return article_id, True, str(published)


class SeenItems:
    """Which item hashes a source has already processed; usable from worker threads.

    One read-only connection, shared by the worker threads one query at a time (WAL lets it
    read while the main thread writes).  The queries are index probes; a connection per
    worker thread cost each its own page cache and parsed schema: ~0.5 MB times 32 threads.
    """

    def __init__(self, path: str) -> None:
        import threading

        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        with self._lock:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=30, check_same_thread=False
                )
                self._connection.execute("PRAGMA cache_size = -1024")  # index pages only
            return self._connection.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def new_hashes(self, source_id: int, hashes: Sequence[str]) -> set[str]:
        """The subset of ``hashes`` this source has not processed yet."""
        if not hashes:
            return set()
        known: set[str] = set()
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                str(row[0])
                for row in self._rows(
                    f"SELECT item_hash FROM seen_items WHERE source_id = ? "
                    f"AND item_hash IN ({marks})",
                    [source_id, *chunk],
                )
            )
        return set(unique) - known

    def article_known(self, url: str) -> bool:
        """True when an article with this canonical URL is stored (seen through any source)."""
        return bool(self._rows("SELECT 1 FROM articles WHERE url = ?", [url]))
