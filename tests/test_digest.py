"""The digest, built from a real SQLite file filled with mentions spread over past days."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ereputation.config import Brand, Config, DigestSettings
from ereputation.digest import build_digest, isolate, safe_url
from ereputation.store import open_database
from ereputation.store.queries import format_ts, record_alert

DAY = date(2026, 11, 25)  # Casablanca is UTC+1 in November
_ids = itertools.count(1)


class History:
    """Writes sources/articles/mentions/stories rows the way the polling side stores them."""

    def __init__(self, path: Path) -> None:
        self.db = open_database(path)
        self.db["sources"].insert(
            {"id": 1, "url": "http://feeds.test/rss", "name": "T", "kind": "feed"}
        )

    def story(self, title: str, at: datetime) -> int:
        story_id = next(_ids)
        self.db["stories"].insert(
            {
                "id": story_id,
                "title": title,
                "first_seen_at": format_ts(at),
                "updated_at": format_ts(at),
            }
        )
        return story_id

    def mention(
        self,
        at: datetime,
        *,
        brand: str = "Atlas Télécom",
        outlet: str = "le360.ma",
        title: str = "Atlas Télécom annonce",
        label: str | None = "neutral",
        owned: bool = False,
        story: int | None = None,
        language: str = "fr",
        snippet: str = "… Atlas Télécom …",
        url: str | None = None,
        found_at: datetime | None = None,
    ) -> int:
        article_id = next(_ids)
        found = found_at or at + timedelta(minutes=10)
        self.db["articles"].insert(
            {
                "id": article_id,
                "url": url or f"https://{outlet}/article-{article_id}",
                "source_id": 1,
                "outlet": outlet,
                "title": title,
                "published_at": format_ts(at),
                "fetched_at": format_ts(found),
                "language": language,
                "content_hash": f"h{article_id}",
                "story_id": story,
            }
        )
        sentiment = {"negative": -0.6, "positive": 0.6, "neutral": 0.0}.get(label or "", None)
        self.db["mentions"].insert(
            {
                "article_id": article_id,
                "brand": brand,
                "snippet": snippet,
                "sentiment": sentiment,
                "label": label,
                "owned": int(owned),
                "mentioned_at": format_ts(at),
                "found_at": format_ts(found),
            }
        )
        return article_id


def make_config(tmp_path: Path, language: str = "fr", **digest) -> Config:
    return Config(
        path=tmp_path / "feeds.yaml",
        database=tmp_path / "x.db",
        brands=(Brand("Atlas Télécom", owned=("atlastelecom.ma",)),),
        digest=DigestSettings(language=language, **digest),
    )


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def history(tmp_path) -> History:
    return History(tmp_path / "x.db")


def test_owned_and_third_party_are_counted_apart_against_previous_day(tmp_path, history):
    for hour in (8, 9, 10):
        history.mention(at(DAY, hour), label="negative" if hour == 8 else "neutral")
    history.mention(at(DAY, 11), outlet="atlastelecom.ma", owned=True, title="Communiqué")
    history.mention(at(DAY - timedelta(1), 9))
    digest = build_digest(make_config(tmp_path, "en"), history.db, DAY)
    (brand,) = digest.brands
    assert (brand.today.third_party, brand.today.owned) == (3, 1)
    assert brand.previous_day.third_party == 1
    assert brand.today.share("negative") == 33
    assert [item.owned for item in brand.owned] == [True]
    assert "Communiqué" not in [item.title for item in brand.third_party]
    assert digest.mention_count == 4
    assert "Third parties" in digest.text and "Your own voice" in digest.text


def test_negative_third_party_mentions_come_first(tmp_path, history):
    history.mention(at(DAY, 8), title="Bonne nouvelle", label="positive")
    history.mention(at(DAY, 9), title="Sans avis", label="neutral")
    history.mention(at(DAY, 10), title="Panne générale", label="negative")
    digest = build_digest(make_config(tmp_path), history.db, DAY)
    assert [item.title for item in digest.brands[0].third_party] == [
        "Panne générale",
        "Sans avis",
        "Bonne nouvelle",
    ]
    assert digest.text.index("Panne générale") < digest.text.index("Bonne nouvelle")


def test_local_day_boundaries_follow_the_configured_timezone(tmp_path, history):
    # 23:30 UTC on the 24th is 00:30 on the 25th in Casablanca (UTC+1).
    history.mention(at(DAY - timedelta(1), 23, 30), title="Juste après minuit")
    history.mention(at(DAY, 23, 30), title="Déjà le lendemain")
    digest = build_digest(make_config(tmp_path), history.db, DAY)
    assert [item.title for item in digest.brands[0].third_party] == ["Juste après minuit"]


def test_feed_text_is_escaped_and_only_http_links_survive(tmp_path, history):
    history.mention(at(DAY, 9), title="<script>alert('x')</script> Atlas", label="negative")
    history.mention(at(DAY, 10), title="Lien piégé", url="javascript:alert(1)")
    digest = build_digest(make_config(tmp_path), history.db, DAY)
    assert "<script>" not in digest.html
    assert "&lt;script&gt;" in digest.html
    assert "javascript:" not in digest.html
    assert "Lien piégé" in digest.html  # shown, without a link
    assert "<script>alert('x')</script> Atlas" in digest.text  # plain text is not HTML


def test_arabic_snippets_are_marked_right_to_left(tmp_path, history):
    history.mention(
        at(DAY, 9),
        title="عطل في شبكة اتصالات الأطلس",
        snippet="عطل كبير في شبكة اتصالات الأطلس",
        language="ar",
        outlet="hespress.com",
    )
    digest = build_digest(make_config(tmp_path), history.db, DAY)
    assert 'dir="rtl"' in digest.html
    assert "\u2068عطل كبير في شبكة اتصالات الأطلس\u2069" in digest.text


def test_stories_list_their_outlets_and_who_published_first(tmp_path, history):
    story = history.story("Panne du réseau", at(DAY, 7))
    history.mention(at(DAY, 9), outlet="hespress.com", story=story)
    history.mention(at(DAY, 7), outlet="le360.ma", story=story, title="Panne du réseau")
    history.mention(at(DAY, 11), outlet="medias24.com", story=story)
    digest = build_digest(make_config(tmp_path, "en"), history.db, DAY)
    (story_line,) = digest.brands[0].stories
    assert story_line.outlets == ("le360.ma", "hespress.com", "medias24.com")
    assert story_line.first_outlet == "le360.ma"
    assert "first published by le360.ma at 25/11 08:00" in digest.text


def test_new_outlets_are_those_whose_first_mention_is_that_day(tmp_path, history):
    history.mention(at(DAY - timedelta(5), 9), outlet="le360.ma")
    history.mention(at(DAY, 9), outlet="le360.ma")
    history.mention(at(DAY, 10), outlet="goud.ma", title="Première fois")
    history.mention(at(DAY, 10), outlet="atlastelecom.ma", owned=True)
    digest = build_digest(make_config(tmp_path), history.db, DAY)
    assert [o.outlet for o in digest.brands[0].new_outlets] == ["goud.ma"]


def test_chart_covers_fourteen_days_with_bars_mail_clients_render(tmp_path, history):
    for offset in range(14):
        for n in range(offset % 4):
            history.mention(at(DAY - timedelta(offset), 9, n))
    history.mention(at(DAY - timedelta(20), 9))  # outside the chart
    digest = build_digest(make_config(tmp_path), history.db, DAY)
    chart = digest.brands[0].chart
    assert [c.day for c in chart] == [DAY - timedelta(n) for n in range(13, -1, -1)]
    assert [c.total for c in chart] == [(13 - n) % 4 for n in range(14)]
    assert max(c.third_party_width for c in chart) == 240
    assert 'bgcolor="#1f4e79" width="240"' in digest.html
    lowered = digest.html.lower()
    for forbidden in ("<script", "<img", "<style", "javascript:", "display:flex", "<svg"):
        assert forbidden not in lowered


def test_signals_of_the_day_are_on_top_in_both_languages(tmp_path, history):
    history.mention(at(DAY, 9), title="Une mention")
    record_alert(
        history.db,
        brand="Atlas Télécom",
        kind="surge",
        key="",
        details={"count": 14, "median": 2.0},
        fired_at=at(DAY, 10),
    )
    french = build_digest(make_config(tmp_path, "fr"), history.db, DAY)
    english = build_digest(make_config(tmp_path, "en"), history.db, DAY)
    assert "14 mentions par des tiers en 24 h contre une médiane de 2/jour" in french.text
    assert "14 third-party mentions in 24 h against a median of 2/day" in english.text
    assert french.text.index("Pic de mentions") < french.text.index("Une mention")
    assert french.subject.startswith("Veille e-réputation Atlas Télécom — mercredi 25 novembre")
    assert "1 signal, 1 mention" in french.subject
    assert english.subject == (
        "E-reputation digest Atlas Télécom — Wednesday 25 November 2026: 1 signal, 1 mention"
    )


def test_a_quiet_day_still_makes_a_readable_digest(tmp_path, history):
    digest = build_digest(make_config(tmp_path, "fr"), history.db, DAY)
    assert "Aucun signal aujourd'hui." in digest.text
    assert "Aucune mention ce jour." in digest.text
    assert "0 signal, 0 mention" in digest.subject


def test_no_english_left_in_the_french_digest(tmp_path, history):
    history.mention(at(DAY, 9), label="negative")
    history.mention(at(DAY, 10), outlet="atlastelecom.ma", owned=True)
    french = build_digest(make_config(tmp_path, "fr"), history.db, DAY)
    for english in ("Third", "mentions in", "Signals", "own voice", "average", "outlets"):
        assert english not in french.text
        assert english not in french.html


def test_helpers():
    assert safe_url("HTTPS://x.ma/a") == "HTTPS://x.ma/a"
    assert safe_url("data:text/html,hi") is None
    assert safe_url("//x.ma/a") is None
    assert isolate("Atlas") == "Atlas"
    assert isolate("اتصالات") == "\u2068اتصالات\u2069"
