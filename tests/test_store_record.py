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


# Made-up texts whose overlap is known: two pairs that share the brand and some words.
# NOT_ONE: a Jaccard similarity of 7/27 = 0.26 counted, estimated at 0.34 by the fingerprints.
# REWRITE: 8/26 = 0.31 counted, estimated at 0.36: one story.
NOT_ONE = (
    ("Atlas Télécom retard données salariés contrat résultats dividende",
     "application chiffre piratage quartier avocat tarifs forfait dimanche audience"),
    ("Atlas Télécom retard données salariés ingénieurs couverture remboursement",
     "application chiffre tribunal agence prépayé offre syndicat paiement affaires"),
)  # fmt: skip
REWRITE = (
    ("Atlas Télécom direction avocat agence tribunal budget gouvernement",
     "sécurité historique panne parcours mobile action fuite banque remboursement"),
    ("Atlas Télécom direction avocat agence dividende appel prépayé",
     "sécurité historique panne application réseau actionnaires clients paiement audience"),
)  # fmt: skip


def _told(slug: str, title: str, text: str) -> ArticleRecord:
    from ereputation.judge import with_fingerprint

    return with_fingerprint(
        ArticleRecord(
            url=f"https://{slug}.example.ma/article", link=None, outlet=f"{slug}.example.ma",
            guid=slug, title=title, summary=text, content="", author=None,
            published_at=FIRST_POLL, language="fr", content_hash=slug, fingerprint=None,
            mentions=(MentionRecord("Atlas Télécom", "Atlas Télécom", "…", 0.0, "neutral", False),),
        )
    )  # fmt: skip


def test_a_story_is_joined_on_its_words_not_on_an_estimate_alone(tmp_path) -> None:
    """An article whose fingerprint passes the threshold with a story's, but whose words do
    not (boilerplate, the brand and a few topic words), starts its own story, which its copy
    then finds; a rewrite whose words pass joins.  Before, the article and its copy joined
    the first story."""
    from ereputation.stories import THRESHOLD, jaccard, story_features, story_similarity

    for (first, second), one in ((NOT_ONE, False), (REWRITE, True)):
        a, b = _told("a", *first), _told("b", *second)
        assert a.fingerprint and b.fingerprint
        assert THRESHOLD <= story_similarity(a.fingerprint, b.fingerprint) < 0.4
        assert (jaccard(story_features(*first), story_features(*second)) >= THRESHOLD) is one

    db = open_database(tmp_path / "x.db")
    sources = [Source(s, f"https://{s}.example/rss") for s in "abcde"]
    states = sync_sources(db, sources)
    stories = StoryIndex(db, FIRST_POLL)
    # e: another outlet's copy of b, which finds b's story.
    told = zip(sources, "abcde", (*NOT_ONE, *REWRITE, NOT_ONE[1]), strict=True)
    for source, slug, (title, text) in told:
        outcome = SourceOutcome(
            source, FIRST_POLL, status=200, articles=(_told(slug, title, text),)
        )
        record_outcomes(db, [PendingOutcome(states[source.url], outcome, LATER_POLL)], stories)
    story_of = dict(db.execute("SELECT outlet, story_id FROM articles").fetchall())
    assert story_of["a.example.ma"] != story_of["b.example.ma"] == story_of["e.example.ma"]
    assert story_of["c.example.ma"] == story_of["d.example.ma"]
    assert len(set(story_of.values())) == 3
    db.conn.close()


def test_a_story_rolled_back_is_confirmed_against_the_story_that_takes_its_id(tmp_path) -> None:
    """A write that fails after an article started a story, and a copy was confirmed against
    it, leaves nothing: the next story gets the same id, and its copies are counted against
    its own first article, not the one rolled back."""
    import sqlite3
    from dataclasses import replace

    db = open_database(tmp_path / "x.db")
    sources = [Source(s, f"https://{s}.example/rss") for s in "ab"]
    states = sync_sources(db, sources)
    stories = StoryIndex(db, FIRST_POLL)

    def record(source: Source, *articles: ArticleRecord) -> None:
        outcome = SourceOutcome(source, FIRST_POLL, status=200, articles=articles)
        record_outcomes(db, [PendingOutcome(states[source.url], outcome, LATER_POLL)], stories)

    gone, kept = REWRITE[0], NOT_ONE[1]
    unstorable = replace(_told("x", *kept), url=None)  # the article insert fails: NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        record(sources[0], _told("a", *gone), _told("b", *gone), unstorable)
    assert db.execute("SELECT count(*) FROM stories").fetchone() == (0,)
    record(sources[0], _told("a", *kept))
    record(sources[1], _told("b", *kept))  # the copy: its story is the one stored now
    assert db.execute("SELECT count(DISTINCT story_id), count(*) FROM articles").fetchone() == (
        1,
        2,
    )
    db.conn.close()
