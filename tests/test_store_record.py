"""Recording polls: an article two sources carry is stored once, and every mention of it is
dated as the article is (its publication, else its first fetch), not by the later poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ereputation.config import Source
from ereputation.records import ArticleRecord, MentionRecord, SourceOutcome
from ereputation.store import open_database
from ereputation.store.record import (
    PendingOutcome,
    StoryIndex,
    iso,
    record_outcomes,
    sync_sources,
)

FIRST_POLL = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER_POLL = FIRST_POLL + timedelta(days=2)


def _article(published: datetime | None, brand: str) -> ArticleRecord:
    return ArticleRecord(
        url="https://news.example.ma/atlas-zellige",
        link="https://news.example.ma/atlas-zellige",
        outlet="news.example.ma",
        guid="g-1",
        title="Atlas Télécom et Banque Zellige signent un accord",
        summary="Atlas Télécom et Banque Zellige signent un accord de paiement mobile.",
        content="",
        author=None,
        published_at=published,
        language="fr",
        content_hash="h",
        fingerprint=None,
        mentions=(MentionRecord(brand, brand, "…", 0.4, "positive", False),),
    )


@pytest.mark.parametrize(
    ("published", "dated_as"),
    [(FIRST_POLL - timedelta(hours=3), FIRST_POLL - timedelta(hours=3)), (None, FIRST_POLL)],
)
def test_a_second_source_adds_its_mention_to_the_stored_article_dated_as_it(
    tmp_path, published: datetime | None, dated_as: datetime
) -> None:
    db = open_database(tmp_path / "x.db")
    sources = [Source("a", "https://a.example/rss"), Source("b", "https://b.example/rss")]
    states = sync_sources(db, sources)
    stories = StoryIndex(db, FIRST_POLL)
    recorded = []
    for source, polled, brand in (
        (sources[0], FIRST_POLL, "Atlas Télécom"),
        (sources[1], LATER_POLL, "Banque Zellige"),
    ):
        outcome = SourceOutcome(source, polled, status=200, articles=(_article(published, brand),))
        pending = PendingOutcome(states[source.url], outcome, polled + timedelta(hours=1))
        recorded += record_outcomes(db, [pending], stories)

    assert [(r.new_articles, r.new_mentions) for r in recorded] == [(1, 1), (0, 1)]
    rows = db.execute("SELECT brand, mentioned_at FROM mentions ORDER BY id").fetchall()
    assert rows == [("Atlas Télécom", iso(dated_as)), ("Banque Zellige", iso(dated_as))]
    db.conn.close()
