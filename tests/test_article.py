"""extract_article: main text and declared metadata of real pages; never raises, never invents."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from ereputation.article import Article, extract_article, parse_date

PAGES = SHARED / "corpus" / "real-pages"


def _page(relative: str) -> bytes:
    path = PAGES / relative
    if not path.exists():
        pytest.skip(f"corpus not available: {path}")
    return path.read_bytes()


def test_lemonde_article_text_metadata_and_canonical_url() -> None:
    article = extract_article(_page("readability/lemonde-1/source.html"), "https://lemonde.fr/x")
    expected = json.loads(_page("readability/lemonde-1/expected-metadata.json"))
    assert article.title == expected["title"]
    assert article.language == "fr"
    assert article.author is not None and "Martin Untersinger" in article.author
    assert article.url is not None and article.url.startswith("http://lemonde.fr/pixels/article/")
    # the body, not the menus: a sentence from the middle of the article is there
    assert "438 contre 86" in article.text
    assert "Newsletters" not in article.text
    assert article.published_at is not None and article.published_at.tzinfo is not None


def test_arabic_article_text_matches_expected_text() -> None:
    article = extract_article(_page("newspaper/html/arabic_article.html"), "http://arabic.cnn.com/")
    expected = _page("newspaper/text/arabic.txt").decode("utf-8").split()
    found = set(article.text.split())
    assert sum(word in found for word in expected) / len(expected) >= 0.9
    assert article.language == "ar"


def test_date_from_metadata_is_aware_utc() -> None:
    article = extract_article(_page("trafilatura/eval/lapresse.tn.parite.html"), "")
    assert article.published_at == datetime(2020, 2, 18, 12, 53, 40, tzinfo=UTC)


@pytest.mark.parametrize("entry", ["1550981615.html", "1806793639.html", "1623715966.html"])
def test_arabic_pages_get_the_ground_truth_day(entry: str) -> None:
    truth = json.loads(_page("htmldate/dates-groundtruth.subset.json"))
    url, day = next((u, e["date"]) for u, e in truth.items() if e["file"] == entry)
    article = extract_article(_page(f"htmldate/test_set/{entry}"), url)
    assert article.published_at is not None
    assert abs((article.published_at.date() - datetime.fromisoformat(day).date()).days) <= 1


def test_published_time_meta_wins_over_a_time_element_of_another_day() -> None:
    html = """<html lang="fr-MA"><head>
      <meta property="article:published_time" content="2024-03-05T09:30:00+01:00">
      <title>Atlas Télécom baisse ses tarifs</title></head>
      <body><article><p>Mis à jour <time datetime="2024-03-07T10:00:00Z">le 7</time></p>
      <p>Atlas Télécom annonce une baisse de ses tarifs mobiles pour tous ses abonnés.</p>
      </article></body></html>"""
    article = extract_article(html, "https://example.ma/a")
    assert article.published_at == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert article.language == "fr"
    assert article.title == "Atlas Télécom baisse ses tarifs"


def test_no_declared_date_gives_none_not_today() -> None:
    html = """<html><body><article><h1>Sans date</h1>
      <p>Un article qui ne dit jamais quand il a été publié, ni dans ses métadonnées
      ni dans son adresse, et dont le texte est assez long pour être extrait.</p>
      </article></body></html>"""
    article = extract_article(html, "https://example.ma/sans-date")
    assert article.published_at is None
    assert "jamais quand il a été publié" in article.text


def test_date_in_url_path_is_used_when_nothing_else_is_declared() -> None:
    html = "<html><body><article><p>Texte de l'article assez long pour compter.</p></article>"
    article = extract_article(html, "https://example.ma/2023/11/02/un-article")
    assert article.published_at == datetime(2023, 11, 2, tzinfo=UTC)


def test_jsonld_article_gives_date_author_and_headline() -> None:
    html = """<html><head><script type="application/ld+json">
      {"@context": "https://schema.org", "@graph": [{"@type": "WebPage"},
       {"@type": "NewsArticle", "headline": "اتصالات الأطلس ترفع الأسعار",
        "datePublished": "2024-05-01T22:15:00+01:00",
        "author": [{"@type": "Person", "name": "سعيد"}, {"@type": "Person", "name": "Leila"}]}]}
      </script></head><body><article><p>نص المقال عن اتصالات الأطلس وأسعارها الجديدة.</p>
      </article></body></html>"""
    article = extract_article(html.encode("utf-8"), "https://example.ma/a")
    assert article.title == "اتصالات الأطلس ترفع الأسعار"
    assert article.author == "سعيد, Leila"
    assert article.published_at == datetime(2024, 5, 1, 21, 15, tzinfo=UTC)
    assert "اتصالات الأطلس" in article.text


def test_relative_canonical_link_is_made_absolute() -> None:
    html = '<html><head><link rel="canonical" href="/eco/story-1?utm_source=x"></head></html>'
    assert extract_article(html, "https://www.example.ma/amp/eco/story-1").url == (
        "https://example.ma/eco/story-1"
    )


def test_windows_1256_bytes_are_decoded() -> None:
    html = (
        '<html lang="ar"><head><meta charset="windows-1256"></head><body><article>'
        "<p>أعلنت شركة اتصالات الأطلس عن نتائجها السنوية يوم الخميس في الدار البيضاء.</p>"
        "</article></body></html>"
    ).encode("cp1256")
    assert "اتصالات الأطلس" in extract_article(html, "https://example.ma/a").text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05T09:30:00+01:00", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 09:30:00 GMT", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("0001-01-01", None),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_date(value: str, expected: datetime | None) -> None:
    assert parse_date(value) == expected


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_property_never_raises_on_arbitrary_input(junk: str | bytes) -> None:
    article = extract_article(junk, "https://example.ma/x")
    assert isinstance(article, Article)
    assert isinstance(article.text, str)
    assert article.published_at is None or article.published_at.tzinfo is not None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<div>", "<time datetime='", "'>", "<script>",
                                 "<meta property='article:published_time' content='", "2024",
                                 "<!--", "]]>", "<html lang='", "\x00", "é", "ع"]),
                max_size=40))  # fmt: skip
def test_property_never_raises_on_tag_soup(parts: list[str]) -> None:
    assert isinstance(extract_article("".join(parts), "").text, str)
