"""Full article text and metadata from one article page: values in, values out.

Feeds often carry a title only, and brands are often named only in the body, so the
pipeline fetches the article page and calls ``extract_article`` on it.  Main text comes
from trafilatura (it beats a hand-written BeautifulSoup extractor on the corpus, see
docs/extraction.md); when trafilatura finds nothing, a plain paragraph extractor is used,
so a page with text never yields an empty article.

Dates are the part users complain about most ("wrong or missing dates"), so the rule is
strict: ``published_at`` comes from what the page *declares* — JSON-LD ``datePublished``,
``article:published_time`` and its many cousins, ``<time datetime>``, the date in the URL
path — and is ``None`` otherwise.  It is never the fetch time or today, and no date is
guessed from free text (htmldate's "extensive search" is off for that reason).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bs4 import BeautifulSoup, Tag
from bs4.dammit import UnicodeDammit
from dateutil import parser as dateparser

from ereputation.canonical import canonical_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Article:
    """What one article page says about itself.

    ``url`` is the page's own canonical URL (``<link rel=canonical>`` or ``og:url``) as a
    canonical key, or None; ``published_at`` is aware UTC or None (never invented);
    ``language`` is the primary subtag of ``<html lang>`` (``fr``, ``ar``) or None.
    """

    url: str | None
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    language: str | None


# Metadata that names the publication time, most trustworthy first.  Keys are
# lower-cased values of a <meta> tag's property / name / itemprop attribute.
_DATE_META_KEYS: tuple[str, ...] = (
    "article:published_time",
    "og:article:published_time",
    "article.published",
    "datepublished",
    "parsely-pub-date",
    "sailthru.date",
    "publication_date",
    "publish-date",
    "publish_date",
    "publishdate",
    "pubdate",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "date",
    "og:published_time",
    "article:published",
    "cxenseparse:recs:publishtime",
    "citation_publication_date",
)
_AUTHOR_META_KEYS = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator")
_JSONLD_ARTICLE_TYPES = re.compile(r"(article|posting|report|news)", re.I)
_URL_DATE_RE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$)"
)
_MIN_YEAR, _MAX_YEAR = 1995, 2100  # outside this a "date" is a parsing accident
_BOILERPLATE_TAGS = ("script", "style", "noscript", "nav", "footer", "header", "aside", "form")
_MIN_TRAFILATURA_CHARS = 50


def extract_article(html: bytes | str, url: str) -> Article:
    """Main text and metadata of the article page ``html`` fetched from ``url``.

    Never raises on junk: an unparsable page gives an ``Article`` with empty text and
    None fields.  Pure: no network, no clock.
    """
    try:
        return _extract(html, url)
    except Exception:  # a broken page must not stop a poll; the article is simply empty
        log.debug("article extraction failed for %s", url, exc_info=True)
        return Article(None, None, "", None, None, None)


def _extract(html: bytes | str, url: str) -> Article:
    markup = _decode(html)
    if not markup.strip():
        return Article(None, None, "", None, None, None)
    soup = BeautifulSoup(markup, "lxml")
    metas = _meta_values(soup)
    jsonld = list(_jsonld_objects(soup))
    articles = [o for o in jsonld if _JSONLD_ARTICLE_TYPES.search(str(o.get("@type", "")))]
    found = _trafilatura(markup, url)
    text = found.get("text") or ""
    if len(text) < _MIN_TRAFILATURA_CHARS:
        fallback = baseline_text(soup)
        if len(fallback) > len(text):
            text = fallback
    return Article(
        url=_own_url(soup, metas, url),
        title=_title(soup, metas, articles, found),
        text=text.strip(),
        author=_author(metas, articles, found),
        published_at=find_published_at(soup, metas, articles, url),
        language=_language(soup),
    )


def _decode(html: bytes | str) -> str:
    if isinstance(html, str):
        return html
    decoded = UnicodeDammit(html, is_html=True).unicode_markup
    return decoded if decoded is not None else html.decode("utf-8", "replace")


def _trafilatura(markup: str, url: str) -> dict[str, str]:
    import trafilatura  # imported late: it is heavy, and only article pages need it

    doc = trafilatura.bare_extraction(
        markup,
        url=url or None,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None:
        return {}
    values = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)  # type: ignore[call-overload]
    return {k: v for k, v in values.items() if isinstance(v, str) and v}


def baseline_text(soup: BeautifulSoup) -> str:
    """Plain extractor: paragraphs of ``<article>`` (else ``<main>``, else the body) minus
    navigation, scripts and forms.  The fallback, and the baseline of bench/extraction.py."""
    soup = BeautifulSoup(str(soup), "lxml")  # a copy: decompose() below must not leak
    for tag in soup.find_all(_BOILERPLATE_TAGS):
        tag.decompose()
    roots = soup.find_all("article") or soup.find_all("main") or [soup.body or soup]
    root = max(roots, key=lambda r: len(r.get_text(" ", strip=True)))
    paragraphs = [p.get_text(" ", strip=True) for p in root.find_all(["p", "h2", "h3", "li"])]
    paragraphs = [p for p in paragraphs if len(p) > 1]
    if not paragraphs:
        return " ".join(root.get_text(" ", strip=True).split())
    return "\n".join(paragraphs)


def _meta_values(soup: BeautifulSoup) -> dict[str, str]:
    """First non-empty content of each <meta> key (property, name or itemprop, lower-cased)."""
    values: dict[str, str] = {}
    for meta in soup.find_all("meta"):
        content = meta.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if isinstance(key, str) and key.strip():
                values.setdefault(key.strip().lower(), content.strip())
    return values


def _jsonld_objects(soup: BeautifulSoup) -> Iterator[dict]:
    for script in soup.find_all("script", attrs={"type": re.compile("ld\\+json", re.I)}):
        try:
            data = json.loads(script.string or script.get_text() or "")
        except (ValueError, TypeError):
            continue
        yield from _walk_jsonld(data, depth=0)


def _walk_jsonld(data: object, depth: int) -> Iterator[dict]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_jsonld(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in data:
                yield from _walk_jsonld(data[key], depth + 1)


def find_published_at(
    soup: BeautifulSoup, metas: dict[str, str], articles: list[dict], url: str
) -> datetime | None:
    """The publication time the page declares, as aware UTC; None when it declares none.

    Order: JSON-LD of an article type, <meta> keys (``_DATE_META_KEYS``), parsely-page;
    then the day htmldate finds in markup and URL (no free-text guessing), refined by a
    ``<time datetime>`` on that day; then the first ``<time>``.  A time without offset is
    taken as UTC; a date without time as 00:00 UTC.
    """
    declared: list[str] = []
    for obj in articles:
        for key in ("datePublished", "dateCreated"):
            if isinstance(obj.get(key), str):
                declared.append(obj[key])
    declared += [metas[key] for key in _DATE_META_KEYS if key in metas]
    declared += _parsely_dates(metas)
    for value in declared:
        parsed = parse_date(value)
        if parsed is not None:
            return parsed
    # <time> elements are ambiguous (updates, comments, related articles): htmldate's
    # markup heuristics pick the day, a <time> on that day only adds the time of day.
    times = [t for t in (parse_date(v) for v in _time_elements(soup)) if t is not None]
    day = _htmldate(str(soup), url) or _url_date(url)
    if day is None:
        return times[0] if times else None
    for instant in times:
        if day - timedelta(hours=14) <= instant < day + timedelta(days=1, hours=12):
            return instant
    return day


def _url_date(url: str) -> datetime | None:
    match = _URL_DATE_RE.search(url or "")
    return parse_date("-".join(match.groups())) if match else None


def _parsely_dates(metas: dict[str, str]) -> list[str]:
    raw = metas.get("parsely-page")
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    value = data.get("pub_date") if isinstance(data, dict) else None
    return [value] if isinstance(value, str) else []


def _time_elements(soup: BeautifulSoup) -> list[str]:
    scopes = [*soup.find_all(["article", "main"]), soup]
    for scope in scopes:
        times = [
            t
            for t in scope.find_all("time")
            if isinstance(t, Tag) and isinstance(t.get("datetime"), str)
        ]
        if times:
            marked = [t for t in times if t.has_attr("pubdate") or "publi" in str(t.get("class"))]
            return [str(t["datetime"]) for t in (marked or times)]
    return []


def _htmldate(markup: str, url: str) -> datetime | None:
    from htmldate import find_date

    try:
        found = find_date(markup, extensive_search=False, original_date=True, url=url or None)
    except Exception:  # htmldate on junk markup
        return None
    return parse_date(found) if found else None


def parse_date(value: str) -> datetime | None:
    """``value`` as aware UTC, or None when it is not a plausible publication date.

    Naive times are taken as UTC (we cannot know better, and a few hours matter less than
    a missing date); years outside 1995–2100 are rejected as parsing accidents.
    """
    value = value.strip()
    if not value or len(value) > 64:
        return None
    try:
        parsed = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        try:
            with warnings.catch_warnings():  # unknown zone names ("EST"): naive, then UTC
                warnings.simplefilter("ignore")
                parsed = dateparser.parse(value, fuzzy=False)
        except (ValueError, OverflowError, TypeError):
            return None
    if not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _own_url(soup: BeautifulSoup, metas: dict[str, str], url: str) -> str | None:
    link = soup.find("link", rel=lambda r: bool(r) and "canonical" in r)
    href = link.get("href") if isinstance(link, Tag) else None
    for candidate in (href, metas.get("og:url")):
        if isinstance(candidate, str) and candidate.strip():
            key = canonical_url(candidate, base=url or None)
            if key.startswith(("http://", "https://")):
                return key
    return None


def _title(
    soup: BeautifulSoup, metas: dict[str, str], articles: list[dict], found: dict[str, str]
) -> str | None:
    for obj in articles:
        if isinstance(obj.get("headline"), str) and obj["headline"].strip():
            return _clean(obj["headline"])
    for value in (metas.get("og:title"), metas.get("twitter:title"), found.get("title")):
        if value:
            return _clean(value)
    if soup.title and soup.title.string:
        return _clean(soup.title.string)
    return None


def _author(metas: dict[str, str], articles: list[dict], found: dict[str, str]) -> str | None:
    for obj in articles:
        names = _jsonld_names(obj.get("author"))
        if names:
            return ", ".join(names)
    for value in [metas.get(key) for key in _AUTHOR_META_KEYS] + [found.get("author")]:
        if value and "http" not in value and len(value) < 200:
            return _clean(value)
    return None


def _jsonld_names(value: object) -> list[str]:
    if isinstance(value, str):
        return [_clean(value)] if value.strip() and "://" not in value else []
    if isinstance(value, dict):
        return _jsonld_names(value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in _jsonld_names(item)]
    return []


def _language(soup: BeautifulSoup) -> str | None:
    html = soup.find("html")
    lang = html.get("lang") or html.get("xml:lang") if isinstance(html, Tag) else None
    if not isinstance(lang, str):
        return None
    primary = lang.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def _clean(value: str) -> str:
    return " ".join(value.split())
