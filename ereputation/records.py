"""The values the pipeline hands to the store: what one poll of one source found.

They sit apart from both so that the pipeline (which computes them) and the store (which
writes them) depend on these plain values, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .config import Source


@dataclass(frozen=True)
class MentionRecord:
    brand: str
    matched: str  # the words that matched, for "why is this a mention?"
    snippet: str
    sentiment: float | None  # None: the text could not be scored
    label: str | None
    owned: bool


@dataclass(frozen=True)
class ArticleRecord:
    url: str  # canonical: the identity key
    link: str | None  # as published (tracking parameters removed): what a reader clicks
    outlet: str
    guid: str | None
    title: str
    summary: str
    content: str
    author: str | None
    published_at: datetime | None
    language: str | None
    content_hash: str
    fingerprint: str | None  # near-duplicate signature, for story grouping
    mentions: tuple[MentionRecord, ...]

    @property
    def story_text(self) -> str:
        """The text its story fingerprint reads besides the title: the content, else the
        summary.  The store counts the same words when it confirms a story join."""
        return self.content or self.summary


# ``ArticleRecord.story_text`` of a stored article, in SQL over ``articles``: the store and the
# digest's and alerts' story checks read a stored article's words as its fingerprint did.
STORY_TEXT_SQL = "coalesce(nullif(content, ''), summary, '')"


@dataclass(frozen=True)
class SourceOutcome:
    """One poll of one source: the fetch result and every new item's fate."""

    source: Source
    polled_at: datetime
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # 304, or the very body read whole last time
    error: str | None = None  # one line; None when the poll succeeded
    body_hash: str | None = None  # the body judged by this poll (its verdict: ``error``)
    retry_after: float | None = None
    items_read: int = 0  # items in the document, new or not
    seen_hashes: tuple[str, ...] = ()  # every new item processed, with or without a mention
    articles: tuple[ArticleRecord, ...] = ()
    feed_url: str | None = None  # kind=page: the feed the page advertises
    forget_feed: bool = False  # kind=page: the feed used so far is gone; read the page again

    @property
    def ok(self) -> bool:
        return self.error is None
