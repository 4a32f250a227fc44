"""One item in, what to store out: brand matches, language, sentiment.

The pure part of the pipeline, with no network and no database, so that it runs in the
daemon's threads or in a feed reader process alike (feed_reading.py).  The story fingerprint
is story grouping's, added by the daemon (``with_fingerprint``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .canonical import canonical_url, clean_link, outlet_of
from .config import Brand
from .owned import is_owned
from .records import ArticleRecord, MentionRecord

if TYPE_CHECKING:
    from .article import Article
    from .extract import FeedItem
    from .match import BrandMatcher, Hit

_WORDS = re.compile(r"\w+")
_MODEL_LANGUAGES = frozenset({"fr", "en", "ar"})  # the others are scored by their lexicon


class Analyzer:
    """Language, brand matches and sentiment for one text: the pure heart of the pipeline."""

    def __init__(self, brands: Sequence[Brand]) -> None:
        self.brands = {brand.name: brand for brand in brands}
        self._matcher: BrandMatcher | None = None
        self._models_lock = threading.Lock()
        self._models_loaded: frozenset[str] = frozenset()  # languages whose model is loaded

    @property
    def matcher(self) -> BrandMatcher:
        """Built on first use (~70 ms for the first one in a process): a poll where every
        feed is unchanged never needs it."""
        if self._matcher is None:
            from .match import BrandMatcher  # with language and sentiment: ~25 ms of imports

            with self._models_lock:
                if self._matcher is None:
                    self._matcher = BrandMatcher(list(self.brands.values()))
        return self._matcher

    def _load_model(self, language: str | None) -> None:
        """Load ``language``'s sentiment model once, before any worker uses it.

        The models are cached lazily without a lock: 32 workers finding their first mention at
        once each built their own copy (1.4 GB peak instead of 180 MB, bench/scale.py).  One
        language at a time: a deployment whose feeds are all French never loads the English
        model and VADER, nor the Arabic model (~10 MB each).  The language identifier
        (py3langid, ~28 MB) likewise waits for the first text whose language the stop-word
        vote leaves open: see ``language.detect_language``.
        """
        if language in self._models_loaded or language not in _MODEL_LANGUAGES:
            return
        from .sentiment import score_sentiment

        with self._models_lock:
            if language not in self._models_loaded:
                score_sentiment("ok", language)
                # A new set, swapped in whole: readers without the lock see the old or the new.
                self._models_loaded = self._models_loaded | {language}

    def find(self, title: str, summary: str, content: str) -> tuple[str, list[Hit]]:
        """The text the article is matched on, and its brand hits (cheap when there are none)."""
        body = content if len(content) >= len(summary) else summary
        if title and body.startswith(title):
            body = body[len(title) :].lstrip()  # extracted pages often open with their title
        text = f"{title}\n{body}".strip() if title else body
        return text, self.matcher.find(text)

    def mentions(
        self, url: str, text: str, hits: Sequence[Hit], declared_language: str | None
    ) -> tuple[str | None, tuple[MentionRecord, ...]]:
        """From the hits of :meth:`find`: the article's language, and one mention per brand
        it names (none when there are no hits)."""
        if not hits:
            return None, ()
        from .language import detect_language
        from .match import make_snippet, sentiment_context
        from .sentiment import score_sentiment

        language = detect_language(text) or _short_language(declared_language)
        first: dict[str, Hit] = {}
        terms: dict[str, list[str]] = {}
        for hit in hits:
            first.setdefault(hit.brand, hit)
            if hit.matched not in terms.setdefault(hit.brand, []):
                terms[hit.brand].append(hit.matched)
        mentions = []
        for name, hit in first.items():
            context = sentiment_context(text, hit, hits)
            scored_as = language or detect_language(context)  # as score_sentiment would
            self._load_model(scored_as)
            # Unknown: score_sentiment would only detect it again, and give None.
            sentiment = score_sentiment(context, scored_as) if scored_as else None
            mentions.append(
                MentionRecord(
                    brand=name,
                    matched=", ".join(terms[name][:5]),
                    snippet=make_snippet(text, hit),
                    sentiment=None if sentiment is None else round(sentiment.score, 4),
                    label=None if sentiment is None else sentiment.label,
                    owned=is_owned(url, self.brands[name].owned),
                )
            )
        return language, tuple(mentions)


def _short_language(declared: str | None) -> str | None:
    if not declared:
        return None
    code = declared.strip().lower()[:2]
    return code if code in ("en", "fr", "ar") else None


def content_hash(title: str, text: str) -> str:
    words = _WORDS.findall(f"{title} {text}".casefold())
    return hashlib.sha1(" ".join(words).encode("utf-8", "surrogatepass")).hexdigest()


def record_from_item(
    analyzer: Analyzer,
    item: FeedItem,
    article: Article | None,
    feed_url: str,
) -> ArticleRecord | None:
    """The article to store for a feed item (and its page, if read), or None when it names
    no brand; its fingerprint is left to ``with_fingerprint``.  Pure: a feed reader process
    calls it too (feed_reading.py)."""
    title = item.title or (article.title if article and article.title else "")
    summary = item.summary
    content = item.content
    if article is not None and len(article.text) > len(content):
        content = article.text
    text, hits = analyzer.find(title, summary, content)
    if not hits:
        return None  # most items: no URL work, no hashing
    link = clean_link(item.link) if item.link else None
    if article is not None and article.url:
        link = clean_link(article.url) or link  # the page's rel=canonical wins
    url = canonical_url(link) if link else None
    if not url or not url.startswith(("http://", "https://")):
        url = (
            canonical_url(feed_url)
            + "#"
            + hashlib.sha1(item.guid.encode("utf-8", "replace")).hexdigest()[:16]
        )
    published = item.published_at or (article.published_at if article else None)
    declared = item.language or (article.language if article else None)
    language, mentions = analyzer.mentions(url, text, hits, declared)
    if not mentions:
        return None
    return ArticleRecord(
        url=url,
        link=link,
        outlet=urlsplit(url).netloc or outlet_of(feed_url),  # url is canonical already
        guid=item.guid,
        title=title,
        summary=summary,
        content=content,
        author=item.author or (article.author if article else None),
        published_at=published,
        language=language,
        content_hash=content_hash(title, content or summary),
        fingerprint=None,
        mentions=mentions,
    )


def with_fingerprint(record: ArticleRecord) -> ArticleRecord:
    """``record`` with the story fingerprint of its title and ``story_text``.  In the daemon's
    threads, not the feed reader: with it there, the reader was the bottleneck of a first
    pass (docs/benchmarks.md, sixth round)."""
    from .stories import story_fingerprint  # numpy: only once something is recorded

    return replace(record, fingerprint=story_fingerprint(record.title, record.story_text))
