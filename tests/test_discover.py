"""Feed autodiscovery and article links on listing pages (real corpus pages and our own)."""

from __future__ import annotations

import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from ereputation.discover import (
    COMMON_FEED_PATHS,
    find_article_links,
    find_feed_links,
    looks_like_article,
)

PAGES = SHARED / "corpus" / "real-pages"

LISTING = """<!doctype html><html lang="fr"><head><title>Économie – Le Site</title>
<link rel="alternate" type="application/rss+xml" title="Commentaires" href="/comments/feed/">
</head><body>
<header><a href="/">Accueil</a> <a href="/economie">Économie</a>
  <a href="/2024/03/05/menu-link-with-a-date-in-the-header">pub</a></header>
<nav><a href="/politique">Politique</a><a href="/category/sport">Sport</a></nav>
<main>
  <article><h2><a href="https://www.le-site.ma/economie/atlas-telecom-baisse-ses-tarifs-mobiles?utm_source=home">
    Atlas Télécom baisse ses tarifs</a></h2>
    <p>par <a href="/author/leila">Leila</a> · <a href="/tag/telecom">télécom</a></p></article>
  <article><h2><a href="/societe/123456">Une brève</a></h2></article>
  <article><h3><a
    href="/%D8%A7%D9%84%D8%A7%D9%82%D8%AA%D8%B5%D8%A7%D8%AF/اتصالات-الأطلس-ترفع-الأسعار">
    اتصالات الأطلس</a></h3></article>
  <div class="more">
    <a href="/economie/atlas-telecom-baisse-ses-tarifs-mobiles#comments">3 commentaires</a>
    <a href="https://m.le-site.ma/economie/la-bourse-de-casablanca-termine-en-hausse">Bourse</a>
    <a href="https://fr.le-site.ma/economie/edition-francaise-un-article-long">Édition</a>
    <a href="https://autre-journal.ma/economie/un-article-chez-un-confrere">Confrère</a>
    <a href="https://www.facebook.com/sharer/sharer.php?u=x">Partager</a>
    <a href="mailto:redaction@le-site.ma">Écrire</a> <a href="javascript:void(0)">x</a>
    <a href="/page/2">Page suivante</a> <a href="/login">Connexion</a>
    <a href="/uploads/2024/03/photo-du-jour.jpg">photo</a></div>
</main>
<footer><a href="/mentions-legales">Mentions légales</a>
  <a href="/contact-the-newsroom-by-email-today">Contact</a></footer>
</body></html>"""


def test_article_links_heuristic_on_a_listing() -> None:
    links = find_article_links(LISTING, "https://www.le-site.ma/economie")
    assert links == [
        "https://le-site.ma/economie/atlas-telecom-baisse-ses-tarifs-mobiles",
        "https://le-site.ma/societe/123456",
        "https://le-site.ma/%D8%A7%D9%84%D8%A7%D9%82%D8%AA%D8%B5%D8%A7%D8%AF/"
        "%D8%A7%D8%AA%D8%B5%D8%A7%D9%84%D8%A7%D8%AA-%D8%A7%D9%84%D8%A3%D8%B7%D9%84%D8%B3-"
        "%D8%AA%D8%B1%D9%81%D8%B9-%D8%A7%D9%84%D8%A3%D8%B3%D8%B9%D8%A7%D8%B1",
        "https://le-site.ma/economie/la-bourse-de-casablanca-termine-en-hausse",
        "https://fr.le-site.ma/economie/edition-francaise-un-article-long",
    ]


def test_article_links_with_a_selector_are_exactly_those() -> None:
    links = find_article_links(LISTING, "https://www.le-site.ma/economie", selector="article h2")
    assert links == [
        "https://le-site.ma/economie/atlas-telecom-baisse-ses-tarifs-mobiles",
        "https://le-site.ma/societe/123456",
    ]
    assert find_article_links(LISTING, "https://le-site.ma/", selector="footer a") == [
        "https://le-site.ma/mentions-legales",
        "https://le-site.ma/contact-the-newsroom-by-email-today",
    ]


def test_a_bad_selector_selects_nothing() -> None:
    assert find_article_links(LISTING, "https://le-site.ma/", selector="a[") == []


def test_base_element_is_honoured() -> None:
    html = '<base href="https://cdn.le-site.ma/fr/"><main><a href="eco/un-long-titre-ici">x</a>'
    assert find_article_links(html, "https://le-site.ma/") == [
        "https://cdn.le-site.ma/fr/eco/un-long-titre-ici"
    ]


def test_listing_page_of_a_real_news_site() -> None:
    path = PAGES / "newspaper" / "html" / "cnn_main_site.html"
    if not path.exists():
        pytest.skip("corpus not available")
    links = find_article_links(path.read_bytes(), "http://www.cnn.com/")
    assert len(links) > 50
    assert "http://cnn.com/2014/07/24/world/africa/air-algerie-flight/index.html" in links
    assert all(link.startswith("http://cnn.com/") or ".cnn.com/" in link for link in links)
    assert not any("hpt=" in link for link in links)
    assert len(links) == len(set(links))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://le360.ma/economie/atlas-telecom-annonce-des-resultats-en-hausse", True),
        ("https://le360.ma/economie/2024/03/05/resultats", True),
        ("https://hespress.com/article-1234567.html", True),
        ("https://le360.ma/economie", False),
        ("https://le360.ma/tag/atlas-telecom-et-ses-amis", False),
        ("https://le360.ma/author/un-journaliste-connu", False),
        ("https://le360.ma/wp-content/uploads/2024/03/une-image-de-presse.jpg", False),
        ("https://le360.ma/", False),
    ],
)
def test_looks_like_article(url: str, expected: bool) -> None:
    assert looks_like_article(url) is expected


def test_feed_links_of_a_listing_put_comment_feeds_last() -> None:
    html = LISTING.replace(
        "</head>",
        '<link rel="alternate" type="application/atom+xml" href="https://le-site.ma/atom.xml">'
        '<link rel="alternate" type="text/html" href="/fr/"></head>',
    )
    assert find_feed_links(html, "https://www.le-site.ma/economie") == [
        "https://le-site.ma/atom.xml",
        "https://www.le-site.ma/comments/feed/",
    ]


def test_feed_links_on_real_pages() -> None:
    folder = PAGES / "rsparser-autodiscovery"
    if not folder.exists():
        pytest.skip("corpus not available")
    youtube = find_feed_links(
        (folder / "YouTubeTheVolvoRocks.html").read_bytes(), "https://youtube.com/"
    )
    # the app and handheld alternates are not feeds; the query string of the feed is kept
    assert youtube == [
        "https://www.youtube.com/feeds/videos.xml?channel_id=UCct7QF2jcWRY6dhXWMSq9LQ"
    ]
    atlantic = find_feed_links(
        (folder / "coco.html").read_bytes(), "https://www.theatlantic.com/x/"
    )
    assert atlantic == [
        "https://www.theatlantic.com/feed/all/",
        "https://www.theatlantic.com/feed/best-of/",
    ]


def test_arabic_page_advertises_its_feeds() -> None:
    path = PAGES / "htmldate" / "test_set" / "1550981615.html"
    if not path.exists():
        pytest.skip("corpus not available")
    feeds = find_feed_links(path.read_bytes(), "https://arabic.sputniknews.com/arab_world/x/")
    assert feeds and all(f.startswith("https://arabic.sputniknews.com/export/rss2/") for f in feeds)


def test_pages_without_feed_links_give_none() -> None:
    path = PAGES / "readability" / "aclu" / "source.html"
    if not path.exists():
        pytest.skip("corpus not available")
    assert find_feed_links(path.read_bytes(), "https://www.aclu.org/") == []


def test_lemonde_feed_is_found() -> None:
    path = PAGES / "readability" / "lemonde-1" / "source.html"
    if not path.exists():
        pytest.skip("corpus not available")
    assert find_feed_links(path.read_bytes(), "https://lemonde.fr/") == [
        "http://www.lemonde.fr/pixels/rss_full.xml"
    ]


def test_common_feed_paths_are_absolute_paths() -> None:
    assert "/feed" in COMMON_FEED_PATHS and "/rss.xml" in COMMON_FEED_PATHS
    assert all(p.startswith("/") for p in COMMON_FEED_PATHS)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)), st.text(max_size=40))
def test_property_never_raises(junk: str | bytes, base: str) -> None:
    assert isinstance(find_feed_links(junk, base), list)
    assert isinstance(find_article_links(junk, base), list)
