"""The digest, built from a real SQLite file filled with mentions spread over past days.

A digest covers the mentions *found* in its window; most tests here use the window of one local
day and store each mention 10 minutes after its publication, unless they say otherwise.
"""

from __future__ import annotations

import html
import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from ereputation.config import Brand, Config, DigestSettings
from ereputation.digest import Digest, Window, build_digest, day_bounds, isolate, safe_url
from ereputation.store import open_database
from ereputation.store.queries import format_ts, record_alert

DAY = date(2026, 11, 25)  # Casablanca is UTC+1 in November
CASABLANCA = ZoneInfo("Africa/Casablanca")
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
        dated: bool = True,
    ) -> int:
        """A mention published ``at`` (unknown date unless ``dated``), stored at ``found_at``."""
        article_id = next(_ids)
        found = found_at or at + timedelta(minutes=10)
        self.db["articles"].insert(
            {
                "id": article_id,
                "url": url or f"https://{outlet}/article-{article_id}",
                "source_id": 1,
                "outlet": outlet,
                "title": title,
                "published_at": format_ts(at) if dated else None,
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
                "mentioned_at": format_ts(at if dated else found),
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


def digest_of(config: Config, db, day: date = DAY, window: Window | None = None) -> Digest:
    """The digest dated ``day``; by default covering what was found on that local day."""
    return build_digest(config, db, day, window or Window(*day_bounds(day, CASABLANCA)))


@pytest.fixture
def history(tmp_path) -> History:
    return History(tmp_path / "x.db")


def test_owned_and_third_party_are_counted_apart_against_previous_day(tmp_path, history):
    for hour in (8, 9, 10):
        history.mention(at(DAY, hour), label="negative" if hour == 8 else "neutral")
    history.mention(at(DAY, 11), outlet="atlastelecom.ma", owned=True, title="Communiqué")
    history.mention(at(DAY - timedelta(1), 9))
    digest = digest_of(make_config(tmp_path, "en"), history.db)
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
    digest = digest_of(make_config(tmp_path), history.db)
    assert [item.title for item in digest.brands[0].third_party] == [
        "Panne générale",
        "Sans avis",
        "Bonne nouvelle",
    ]
    assert digest.text.index("Panne générale") < digest.text.index("Bonne nouvelle")


def test_the_window_is_half_open_on_found_time_whatever_the_publication(tmp_path, history):
    start, end = at(DAY, 7), at(DAY + timedelta(1), 7)
    history.mention(at(DAY, 6), found_at=start, title="Trouvée au début")
    history.mention(at(DAY, 9), found_at=end, title="Trouvée à la fin")  # next digest's
    history.mention(at(DAY, 6, 30), found_at=at(DAY, 6, 59), title="Trouvée juste avant")
    history.mention(at(DAY - timedelta(12), 9), found_at=at(DAY, 12), title="Vieille trouvée")
    digest = digest_of(make_config(tmp_path), history.db, window=Window(start, end))
    assert sorted(item.title for item in digest.brands[0].third_party) == [
        "Trouvée au début",
        "Vieille trouvée",
    ]
    assert digest.mention_count == 2
    assert "Mentions trouvées du 25 nov. à 08:00 au 26 nov. à 08:00" in digest.text


def test_each_mention_shows_its_publication_date(tmp_path, history):
    history.mention(at(DAY - timedelta(12), 9, 5), found_at=at(DAY, 9), title="Ancien article")
    history.mention(at(DAY - timedelta(400), 9), found_at=at(DAY, 9), title="Très ancien")
    history.mention(at(DAY, 9), found_at=at(DAY, 10), dated=False, title="Sans date")
    french = digest_of(make_config(tmp_path, "fr"), history.db)
    english = digest_of(make_config(tmp_path, "en"), history.db)
    assert "le360.ma · publié le 13 nov. à 10:05" in french.text
    assert "publié le 21 oct. 2025 à 10:00" in french.text  # another year: the year is said
    assert "date de publication inconnue, trouvé le 25 nov. à 11:00" in french.text
    assert "published 13 Nov at 10:05" in english.text
    assert "publication date unknown, found 25 Nov at 11:00" in english.text
    assert "publié le 13 nov. à 10:05" in french.html


def test_comparisons_count_what_was_found_before_the_window(tmp_path, history):
    # Found in the window: 2; in the 24 h before it: 3; in the 7 days before it: 3 + 11 = 14.
    for hour in (9, 10):
        history.mention(at(DAY, hour))
    for hour in (9, 10, 11):
        history.mention(at(DAY - timedelta(1), hour))
    for n in range(11):
        history.mention(at(DAY - timedelta(3), 9, n))
    history.mention(at(DAY - timedelta(9), 9))  # older than the week: not compared
    (brand,) = digest_of(make_config(tmp_path, "en"), history.db).brands
    assert brand.today.third_party == 2
    assert brand.previous_day.third_party == 3
    assert brand.week_average.third_party == 2  # 14 / 7
    assert "Prev. 24 h" in digest_of(make_config(tmp_path, "en"), history.db).text


def test_a_late_find_counts_in_the_chart_on_its_publication_day(tmp_path, history):
    history.mention(at(DAY - timedelta(12), 9), found_at=at(DAY, 9), title="Ancien")
    chart = digest_of(make_config(tmp_path), history.db).brands[0].chart
    by_day = {c.day: c.total for c in chart}
    assert by_day[DAY - timedelta(12)] == 1 and by_day[DAY] == 0


def test_long_lists_are_capped_with_the_command_that_lists_them_all(tmp_path, history):
    for n in range(30):
        history.mention(at(DAY - timedelta(2), 9, n), found_at=at(DAY, 9), title=f"Article {n}")
    for n in range(12):
        history.mention(at(DAY, 10, n), outlet="atlastelecom.ma", owned=True, title=f"Com {n}")
    digest = digest_of(make_config(tmp_path), history.db)
    (brand,) = digest.brands
    assert len(brand.third_party) == 25 and brand.third_party_more == 5
    assert len(brand.owned) == 10 and brand.owned_more == 2
    command = "ereputation mentions --brand 'Atlas Télécom' --third-party --since 2026-11-23"
    assert f"… et 5 de plus : {command}" in digest.text
    assert command in html.unescape(digest.html)
    assert "… et 2 de plus : ereputation mentions --brand 'Atlas Télécom' --owned" in digest.text
    assert digest.mention_count == 42


def test_signals_on_top_are_the_alerts_fired_in_the_window(tmp_path, history):
    for fired, count in ((at(DAY - timedelta(1), 12), 7), (at(DAY, 12), 14)):
        record_alert(
            history.db,
            brand="Atlas Télécom",
            kind="surge",
            key="",
            details={"count": count, "median": 2.0},
            fired_at=fired,
        )
    digest = digest_of(make_config(tmp_path, "en"), history.db)
    assert [s.reason for b in digest.brands for s in b.signals] == [
        "14 third-party mentions in 24 h against a median of 2/day"
    ]
    assert "Surge · Atlas Télécom · 25/11 13:00" in digest.text


def test_new_outlets_are_those_first_found_in_the_window(tmp_path, history):
    history.mention(at(DAY - timedelta(30), 9), found_at=at(DAY, 9), outlet="goud.ma")
    history.mention(at(DAY - timedelta(3), 9), outlet="le360.ma")
    history.mention(at(DAY, 9), outlet="le360.ma")
    digest = digest_of(make_config(tmp_path), history.db)
    assert [o.outlet for o in digest.brands[0].new_outlets] == ["goud.ma"]


def test_feed_text_is_escaped_and_only_http_links_survive(tmp_path, history):
    history.mention(at(DAY, 9), title="<script>alert('x')</script> Atlas", label="negative")
    history.mention(at(DAY, 10), title="Lien piégé", url="javascript:alert(1)")
    digest = digest_of(make_config(tmp_path), history.db)
    assert "<script>" not in digest.html
    assert "&lt;script&gt;" in digest.html
    assert "javascript:" not in digest.html
    assert "Lien piégé" in digest.html  # shown, without a link
    assert "<script>alert('x')</script> Atlas" in digest.text  # plain text is not HTML


def test_markup_in_feed_text_never_becomes_an_element_or_attribute(tmp_path, history):
    hostile = "Atlas <img src=x onerror=alert(2)> <a href='javascript:x'>y</a> <svg onload=z>"
    history.mention(at(DAY, 9), title=hostile, snippet=hostile, outlet='x.ma" onclick="evil')
    digest = digest_of(make_config(tmp_path), history.db)
    tree = lxml.html.fromstring(digest.html)
    assert not tree.xpath("//script | //img | //svg | //iframe | //object | //style")
    assert not [name for element in tree.iter() for name in element.attrib if name.startswith("on")]
    assert all(href.startswith("https://") for href in tree.xpath("//a/@href"))
    assert hostile in tree.text_content()  # shown as text, whole


def test_arabic_snippets_are_marked_right_to_left(tmp_path, history):
    history.mention(
        at(DAY, 9),
        title="عطل في شبكة اتصالات الأطلس",
        snippet="عطل كبير في شبكة اتصالات الأطلس",
        language="ar",
        outlet="hespress.com",
    )
    digest = digest_of(make_config(tmp_path), history.db)
    assert 'dir="rtl"' in digest.html
    assert "\u2068عطل كبير في شبكة اتصالات الأطلس\u2069" in digest.text


def test_stories_list_their_outlets_and_who_published_first(tmp_path, history):
    """Three outlets telling one story are listed; a fourth article grouped with it, whose
    words only share the brand with it (a story is joined on an estimate), is not, and the
    story is titled by its first confirmed article."""
    story = history.story("Panne du réseau", at(DAY, 7))
    panne = "Panne géante du réseau Atlas Télécom à Casablanca"
    history.mention(at(DAY, 9), outlet="hespress.com", story=story, title=f"{panne} ce matin")
    history.mention(at(DAY, 7), outlet="le360.ma", story=story, title=panne)
    history.mention(at(DAY, 11), outlet="medias24.com", story=story, title=f"Casablanca : {panne}")
    history.mention(at(DAY, 12), outlet="goud.ma", story=story, title="Atlas Télécom recrute")
    digest = digest_of(make_config(tmp_path, "en"), history.db)
    (story_line,) = digest.brands[0].stories
    assert story_line.outlets == ("le360.ma", "hespress.com", "medias24.com")
    assert story_line.title == panne  # its first confirmed article's, not the story's row
    assert story_line.first_outlet == "le360.ma"
    assert "first published by le360.ma at 25/11 08:00" in digest.text


def test_new_outlets_are_those_whose_first_mention_is_that_day(tmp_path, history):
    history.mention(at(DAY - timedelta(5), 9), outlet="le360.ma")
    history.mention(at(DAY, 9), outlet="le360.ma")
    history.mention(at(DAY, 10), outlet="goud.ma", title="Première fois")
    history.mention(at(DAY, 10), outlet="atlastelecom.ma", owned=True)
    digest = digest_of(make_config(tmp_path), history.db)
    assert [o.outlet for o in digest.brands[0].new_outlets] == ["goud.ma"]


def test_chart_covers_fourteen_days_with_bars_mail_clients_render(tmp_path, history):
    for offset in range(14):
        for n in range(offset % 4):
            history.mention(at(DAY - timedelta(offset), 9, n))
    history.mention(at(DAY - timedelta(20), 9))  # outside the chart
    digest = digest_of(make_config(tmp_path), history.db)
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
    french = digest_of(make_config(tmp_path, "fr"), history.db)
    english = digest_of(make_config(tmp_path, "en"), history.db)
    assert "14 mentions par des tiers en 24 h contre une médiane de 2/jour" in french.text
    assert "14 third-party mentions in 24 h against a median of 2/day" in english.text
    assert french.text.index("Pic de mentions") < french.text.index("Une mention")
    assert french.subject.startswith("Veille e-réputation Atlas Télécom — mercredi 25 novembre")
    assert "1 signal, 1 mention" in french.subject
    assert english.subject == (
        "E-reputation digest Atlas Télécom — Wednesday 25 November 2026: 1 signal, 1 mention"
    )


def test_a_quiet_day_still_makes_a_readable_digest(tmp_path, history):
    digest = digest_of(make_config(tmp_path, "fr"), history.db)
    assert "Aucun signal sur la période." in digest.text
    assert "Aucune nouvelle mention." in digest.text
    assert "0 signal, 0 mention" in digest.subject


def test_no_english_left_in_the_french_digest(tmp_path, history):
    history.mention(at(DAY, 9), label="negative")
    history.mention(at(DAY, 10), outlet="atlastelecom.ma", owned=True)
    french = digest_of(make_config(tmp_path, "fr"), history.db)
    for english in ("Third", "mentions in", "Signals", "own voice", "average", "outlets"):
        assert english not in french.text
        assert english not in french.html


def test_helpers():
    assert safe_url("HTTPS://x.ma/a") == "HTTPS://x.ma/a"
    assert safe_url("data:text/html,hi") is None
    assert safe_url("//x.ma/a") is None
    assert isolate("Atlas") == "Atlas"
    assert isolate("اتصالات") == "\u2068اتصالات\u2069"
