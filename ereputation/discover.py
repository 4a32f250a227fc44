"""Finding feeds and article links on HTML pages: for sources without a usable feed.

Many outlets (Moroccan ones especially) have no feed, or one truncated to titles.  For a
``kind: page`` source the pipeline first looks for a feed the page advertises
(``find_feed_links``, then ``COMMON_FEED_PATHS``), and otherwise reads the listing page
itself with ``find_article_links`` and fetches each article.

Feed links are returned absolute but *not* canonicalised: they are fetched as they are,
and query strings such as ``?channel_id=`` are part of them.  Article links are
canonicalised (``canonical_url``): they are identity keys, compared with what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.dammit import UnicodeDammit

from ereputation.canonical import canonical_url, outlet_of

FEED_TYPES: frozenset[str] = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",  # JSON Feed 1.0 pages often declare this
        "application/xml",
        "text/xml",  # seen on Moroccan WordPress sites (almaghreb24)
        "text/rss+xml",
    }
)

COMMON_FEED_PATHS: tuple[str, ...] = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/feed/",
    "/rss/",
    "/feeds/posts/default",  # Blogger
    "/?feed=rss2",  # WordPress without pretty permalinks
    "/index.php/feed",
    "/feed.json",
    "/rss/all.xml",
    "/arc/outboundfeeds/rss/",  # Arc XP (Washington Post platform, used by many outlets)
)
"""Paths to try, in order, on a site whose pages advertise no feed."""

_COMMENT_FEED_RE = re.compile(r"comment|commentaire|تعليق", re.I)

# Path segments that mark listing, account, legal or sharing pages rather than articles.
_NOT_ARTICLE_SEGMENTS: frozenset[str] = frozenset(
    {
        "category", "categorie", "categories", "rubrique", "rubriques", "section", "sections",
        "tag", "tags", "topic", "topics", "theme", "themes", "author", "auteur", "auteurs",
        "authors", "writer", "login", "logout", "signin", "sign-in", "register", "account",
        "compte", "connexion", "inscription", "search", "recherche", "page", "feed", "rss",
        "contact", "about", "a-propos", "qui-sommes-nous", "mentions-legales", "privacy",
        "confidentialite", "cgu", "terms", "newsletter", "newsletters", "abonnement",
        "subscribe", "subscription", "wp-login.php", "wp-admin", "share", "sharer",
        "partager", "print", "imprimer", "archives", "archive", "sitemap", "jobs",
        "emploi", "carrieres", "publicite", "advertise", "cookies", "faq", "aide", "help",
    }
)  # fmt: skip
_FILE_EXTENSIONS = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|ico|pdf|zip|mp3|mp4|css|js|json|xml|rss|atom|txt)$", re.I
)
_DATE_IN_PATH = re.compile(r"/(19|20)\d{2}/(0?[1-9]|1[0-2])(/|$)|(19|20)\d{2}-\d{2}-\d{2}")
_ID_IN_PATH = re.compile(r"\d{4,}")
_CONTEXT_TAGS = ("article", "h1", "h2", "h3", "h4", "main")
_NOISE_TAGS = ("nav", "footer", "aside", "script", "style", "noscript", "form")


def find_feed_links(html: bytes | str, base_url: str) -> list[str]:
    """Feeds the page advertises (``<link rel=alternate>`` of a feed type), absolute.

    In page order, deduplicated; comment feeds come last (rarely what a user wants, but
    kept).  ``<base href>`` is honoured.  Never raises: junk gives ``[]``.
    """
    soup = _soup(html)
    if soup is None:
        return []
    base = _base_of(soup, base_url)
    main: list[str] = []
    comments: list[str] = []
    for link in soup.find_all("link"):
        rel: object = link.get("rel") or []
        rels = [r.lower() for r in (rel if isinstance(rel, list) else str(rel).split())]
        kind = str(link.get("type") or "").split(";")[0].strip().lower()
        href = str(link.get("href") or "").strip()
        if "alternate" not in rels or kind not in FEED_TYPES or not href:
            continue
        absolute = _absolute(href, base)
        if absolute is None:
            continue
        title = str(link.get("title") or "")
        target = comments if _COMMENT_FEED_RE.search(title + " " + href) else main
        if absolute not in main and absolute not in comments:
            target.append(absolute)
    return main + comments


def find_article_links(html: bytes | str, base_url: str, selector: str | None = None) -> list[str]:
    """Links to articles on a listing page, canonicalised, deduplicated, in page order.

    With ``selector`` (CSS), exactly the links it selects: each selected ``<a>``, or the
    ``<a href>`` inside each selected container — the user knows their site best.
    Without, a heuristic: links to the same site (or its subdomains), outside nav, footer
    and aside, whose path looks like an article (a slug of several words, a numeric id or
    a date) — or, inside ``<article>``, ``<main>`` or a heading, any deeper path that is not
    a category, tag, author, account, legal or sharing page.  Never raises.
    """
    return list(find_article_anchors(html, base_url, selector))


def find_article_anchors(
    html: bytes | str, base_url: str, selector: str | None = None
) -> dict[str, str]:
    """The links of ``find_article_links``, each with the URL to fetch it at.

    Maps each canonical key (the identity of the article) to the absolute URL as the page
    wrote it (fragment dropped), first occurrence in page order.  The key is not always
    served — an AMP path ``/amp/4521`` has the key ``/4521`` — so the pipeline fetches the
    written URL and stores the key.  Never raises.
    """
    soup = _soup(html)
    if soup is None:
        return {}
    base = _base_of(soup, base_url)
    if selector:
        try:
            selected = soup.select(selector)
        except Exception:  # soupsieve rejects the selector: nothing matches it
            return {}
        anchors = [
            a
            for element in selected
            for a in ([element] if element.name == "a" else element.find_all("a"))
        ]
        return _unique(_link(a, base) for a in anchors)
    for noise in soup.find_all(_NOISE_TAGS):
        noise.decompose()
    for header in soup.find_all("header"):
        if header.find_parent("article") is None:
            header.decompose()
    for element in soup.find_all(True, {"role": re.compile("navigation|banner|contentinfo")}):
        element.decompose()
    home = canonical_url(base)
    found = []
    for anchor in soup.find_all("a"):
        link = _link(anchor, base)
        if link is None or link[0] == home or not _same_site(link[0], base):
            continue
        in_context = anchor.find_parent(_CONTEXT_TAGS) is not None
        if looks_like_article(link[0], in_context):
            found.append(link)
    return _unique(found)


def looks_like_article(url: str, in_context: bool = False) -> bool:
    """Whether ``url``'s path looks like one article rather than a section or a utility.

    ``in_context``: the link sits in an ``<article>``, ``<main>`` or heading, so any path
    that is not excluded outright is accepted.
    """
    path = unquote(urlsplit(url).path)
    segments = [s for s in path.lower().split("/") if s]
    if (
        not segments
        or _FILE_EXTENSIONS.search(path)
        and not path.lower().endswith((".html", ".htm", ".php", ".aspx"))
    ):
        return False
    if any(segment in _NOT_ARTICLE_SEGMENTS for segment in segments):
        return False
    last = re.sub(r"\.(s?html?|php|aspx?)$", "", segments[-1])
    words = [w for w in re.split(r"[-_+.]", last) if w]
    if len(words) >= 3 or _DATE_IN_PATH.search(path) or _ID_IN_PATH.search(last):
        return True
    return in_context and (len(segments) >= 2 or len(last) >= 12)


def _soup(html: bytes | str) -> BeautifulSoup | None:
    try:
        if isinstance(html, bytes):
            html = UnicodeDammit(html, is_html=True).unicode_markup or ""
        return BeautifulSoup(html, "lxml")
    except Exception:  # a page we cannot parse advertises nothing
        return None


def _base_of(soup: BeautifulSoup, base_url: str) -> str:
    tag = soup.find("base", href=True)
    if isinstance(tag, Tag):
        href = str(tag["href"]).strip()
        try:
            return urljoin(base_url, href) if href else base_url
        except ValueError:
            return base_url
    return base_url


def _absolute(href: str, base: str) -> str | None:
    try:
        absolute = urljoin(base, href)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts._replace(fragment="").geturl()


def _link(anchor: Tag, base: str) -> tuple[str, str] | None:
    """(canonical key, absolute URL as written) of an ``<a href>``; None when not http(s)."""
    href = str(anchor.get("href") or "").strip()
    if not href or href.startswith("#"):
        return None
    absolute = _absolute(href, base)
    if absolute is None:
        return None
    key = canonical_url(absolute)
    return (key, absolute) if key.startswith(("http://", "https://")) else None


def _same_site(link: str, base: str) -> bool:
    a, b = outlet_of(link).split(":")[0], outlet_of(base).split(":")[0]
    return bool(a and b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def _unique(links: Iterable[tuple[str, str] | None]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for link in links:
        if link:
            seen.setdefault(*link)
    return seen
