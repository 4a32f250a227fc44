"""Feed bytes in, items out: the extract stage for RSS, Atom, RDF and JSON Feed.

Two parsers, one result.  fastfeedparser (lxml, C speed) reads the well-formed feeds that make
up nearly all of the traffic, about 50 times faster than feedparser; feedparser stays the
parser of record for everything else — broken XML, odd encodings, ``xml:base``, JSON Feed, a
feed the fast parser finds nothing in.  The fast path is taken only where it gives the same
items as feedparser (tests/test_extract.py checks this on the shared corpora), so which parser
ran never shows in what is stored.  docs/benchmarks.md has the numbers.

Parsers are only ever given bytes (never a URL or a path), so they cannot fetch anything or
read a local file on an attacker's behalf.  Items come out as plain text: the HTML of summaries
and contents is flattened here so that matching, sentiment and the digest never see markup.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any
from urllib.parse import urljoin

import fastfeedparser
from lxml import etree

# Dates further ahead than this are a publisher's mistake (or a trick), not a publication time.
FUTURE_TOLERANCE = timedelta(days=1)
# feedparser keeps a guess of the item's date; before this it is a broken default, not a date.
OLDEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)

_TAG = re.compile(r"<[a-zA-Z!/?]")
# Runs of spaces, and any other horizontal space: a lone " " (most matches otherwise) is left.
_SPACES = re.compile(r"[\t\r\f\v\u00a0][ \t\r\f\v\u00a0]*| [ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Entity expansion: feedparser drops nested entity declarations (billion laughs) but keeps
# flat ones of any length, so one long entity referenced many times (the "quadratic blowup")
# still expands to gigabytes.  A feed whose declared entities would expand past this is refused.
MAX_ENTITY_EXPANSION = 1024 * 1024
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+([^\s%]+)\s+(?:\"([^\"]*)\"|'([^']*)')")


@dataclass(frozen=True, init=False)
class FeedItem:
    """One entry of a feed, flattened to text."""

    guid: str
    link: str | None
    title: str
    summary: str
    content: str
    author: str | None
    published_at: datetime | None  # aware UTC; None when the feed gives no plausible date
    language: str | None  # the feed's declared language (xml:lang / <language>), if any

    def __init__(
        self,
        guid: str,
        link: str | None,
        title: str,
        summary: str,
        content: str,
        author: str | None,
        published_at: datetime | None,
        language: str | None,
    ) -> None:
        # The generated __init__ of a frozen dataclass sets each field through
        # object.__setattr__: 2 µs per item, a tenth of parsing it.  One update of the instance's
        # __dict__ gives the same instance (still frozen) in half the time.
        self.__dict__.update(
            guid=guid,
            link=link,
            title=title,
            summary=summary,
            content=content,
            author=author,
            published_at=published_at,
            language=language,
        )

    @property
    def item_hash(self) -> str:
        """Stable identity within a source: what ``seen_items`` remembers."""
        return hashlib.sha1(self.guid.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def text(self) -> str:
        """Everything matchable, title first."""
        body = self.content if len(self.content) >= len(self.summary) else self.summary
        return f"{self.title}\n{body}".strip()


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    items: tuple[FeedItem, ...]
    problem: str | None  # set when the feed was unreadable (and items is empty) or malformed


# The HTML parsed at once (characters): a tree costs a few times its text in memory, and a
# feed may be 10 MB; past a few hundred fragments, a larger batch saves nothing.
BATCH_CHARACTERS = 256 * 1024
_HIDDEN = ("script", "style", "noscript", "template")
_BLOCKS = ("br", "p", "div", "li", "h1", "h2", "h3", "h4", "tr")
# One parser per thread: an lxml parser serialises the threads that share it.
_PARSERS = threading.local()


def _html_parser() -> etree.HTMLParser:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = etree.HTMLParser(
            no_network=True, remove_comments=True, remove_pis=True, collect_ids=False
        )
        _PARSERS.parser = parser
    return parser


def html_to_text(markup: str) -> str:
    """Flatten HTML to readable text; plain text passes through with entities decoded."""
    if not markup:
        return ""
    if "<" not in markup or not _TAG.search(markup):
        return _tidy(html.unescape(markup) if "&" in markup else markup)
    flat = _lxml_text(markup)
    return _tidy(flat if flat is not None else _soup_text(markup))


def html_to_texts(markups: Sequence[str]) -> list[str]:
    """``[html_to_text(m) for m in markups]``, with one lxml parse for all the HTML among them.

    A feed's fragments are short (a few hundred characters), and parsing one costs mostly what
    any parse costs (a parser context, a document, a tree walk): ~20 µs each, a third of the
    per-item cost of a feed.  Here the fragments that hold tags are parsed together, each in
    its own ``<div>``, and each fragment's text is read from its ``<div>``.  That is the text
    ``html_to_text`` gives only if no fragment's markup reaches outside its ``<div>`` (an
    unclosed comment or ``<script>``, a stray ``</div>``, ``</body>``, a nesting too deep for
    libxml2); ``_lxml_texts`` checks the tree for that and otherwise gives up, and every
    fragment is then parsed on its own.  Identical fragments (a feed's content repeating its
    description) are flattened once.
    """
    flat = _flatten(markups)
    return [flat[markup] for markup in markups]


def _flatten(markups: Iterable[str]) -> dict[str, str]:
    """Each distinct markup and its ``html_to_text``: see ``html_to_texts``."""
    plain: list[str] = []
    batches: list[list[str]] = [[]]  # the markups with tags, in batches of bounded size
    size = 0
    for markup in dict.fromkeys(markups):
        if "<" in markup and _TAG.search(markup):
            if size + len(markup) > BATCH_CHARACTERS and batches[-1]:
                batches.append([])
                size = 0
            batches[-1].append(markup)
            size += len(markup)
        else:
            plain.append(markup)
    unescaped = [html.unescape(markup) if "&" in markup else markup for markup in plain]
    flat = dict(zip(plain, _tidy_all(unescaped), strict=True))
    for tagged in batches:
        texts = _lxml_texts(tagged) if len(tagged) > 1 else None
        if texts is None:
            texts = [html_to_text(markup) for markup in tagged]
        flat.update(zip(tagged, texts, strict=True))
    return flat


def _tidy(text: str) -> str:
    """One space for any run of horizontal space, lines stripped, at most one blank line."""
    return _tidy_lines(text).strip()


def _tidy_all(texts: list[str]) -> list[str]:
    """``_tidy`` of each text, as one string: a call per text costs more than the work."""
    if len(texts) < 2:
        return [_tidy(text) for text in texts]
    pieces = _tidy_pieces(_SEPARATOR.join(texts))
    if len(pieces) != len(texts):  # a text held the separator
        return [_tidy(text) for text in texts]
    return pieces


def _tidy_pieces(text: str) -> list[str]:
    """``_tidy`` of each piece of ``text`` between separators, from one pass over ``text``.

    No rule reaches across a separator (it is not a space), and the line stripping it keeps
    from the start or end of a piece, the final ``strip`` of the piece does.
    """
    return [piece.strip() for piece in _tidy_lines(text).split(_SEPARATOR)]


def _tidy_lines(text: str) -> str:
    """``_tidy`` but the final strip.

    Each step runs only where it can change something: a regex over a few hundred characters
    costs microseconds even when it matches nothing, a substring test a tenth of that.
    """
    if (
        "  " in text
        or "\u00a0" in text
        or "\t" in text
        or "\r" in text
        or "\f" in text
        or "\v" in text
    ):
        text = _SPACES.sub(" ", text)  # it matches nothing when none of these is there
    if "\n" not in text:
        return text
    text = "\n".join([line.strip() for line in text.split("\n")])
    if "\n\n" in text:  # after the lines are stripped, any blank line shows as two \n
        text = _BLANK_LINES.sub("\n\n", text)
    return text


def _lxml_text(markup: str) -> str | None:
    """The text of an HTML fragment through lxml (C, ~20x faster than BeautifulSoup).

    The fragment is parsed as ``lxml.html.fragment_fromstring`` does (inside ``<body>``), but
    with a plain ``etree.HTMLParser``: lxml.html's element classes cost more than the parse.
    None when lxml refuses the fragment (nothing parseable), or when its text holds what an
    lxml tree cannot (a control character such as ``\x1b``): the caller then uses
    BeautifulSoup, which accepts anything.
    """
    try:
        document = etree.fromstring(f"<html><body>{markup}</body></html>", _html_parser())
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    body = document.find("body") if document is not None else None
    if body is None:
        return None
    try:
        etree.strip_elements(body, *_HIDDEN, with_tail=False)
        for tag in body.iter(*_BLOCKS):
            tag.tail = "\n" + (tag.tail or "")
    except ValueError:  # "All strings must be XML compatible": a control character
        return None
    return str(etree.tostring(body, method="text", encoding=str, with_tail=False))


# Each fragment's <div> in a batch carries this id, one no feed can write: a <div> of the
# fragments cannot pass for one of ours.
_WRAPPER = f"e{secrets.token_hex(6)}"
# What acts on the document rather than on the fragment: libxml2 counts misplaced <html> and
# <body> tags across the whole document, so one fragment's <body> changes how another's
# </body> is read; a DTD or a charset would apply to all.  A batch holding one is not tried.
_DOCUMENT_MARKUP = re.compile(
    "<(?:/?(?:{html}|{body}|{head})|{meta}|!{doctype})".format(
        # [hH][tT]… rather than re.IGNORECASE: the search is a quarter faster.
        **{
            word: "".join(f"[{c}{c.upper()}]" for c in word)
            for word in ("html", "body", "head", "meta", "doctype")
        }
    )
)
# In the body, anything but our wrappers (text, another element): the batch cannot be used.
_FOREIGN = f"/html/body/node()[not(self::div[@id = '{_WRAPPER}'])]"
_WRAPPERS = "count(/html/body/*)"
# Ends each wrapper's text in the batch: a fragment holding it only adds a piece, which shows.
_SEPARATOR = "\ue000"
# What _lxml_text does to a body, as XSLT over all the wrappers at once (one C call instead of
# a Python loop over the block elements): hidden elements give nothing, a block element is
# followed by a line break, text is copied.
_TEXT_OF_WRAPPERS = f"""\
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="UTF-8"/>
  <xsl:template match="/"><xsl:apply-templates select="html/body/div"/></xsl:template>
  <xsl:template match="/html/body/div">
    <xsl:apply-templates/><xsl:text>&#x{ord(_SEPARATOR):X};</xsl:text>
  </xsl:template>
  <xsl:template match="{"|".join(_HIDDEN)}"/>
  <xsl:template match="{"|".join(_BLOCKS)}">
    <xsl:apply-templates/><xsl:text>&#10;</xsl:text>
  </xsl:template>
</xsl:stylesheet>
"""
# What lxml refuses to hold in a tail (_lxml_text gives up on it): such a batch is not used.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


@dataclass(frozen=True)
class _BatchTools:
    """What a batch needs, compiled once per thread, as the parser is: threads never share
    (or wait on) an lxml object."""

    foreign: etree.XPath
    wrappers: etree.XPath
    texts: etree.XSLT


def _batch_tools() -> _BatchTools:
    tools = getattr(_PARSERS, "batch", None)
    if tools is None:
        tools = _BatchTools(
            etree.XPath(_FOREIGN), etree.XPath(_WRAPPERS), etree.XSLT(etree.XML(_TEXT_OF_WRAPPERS))
        )
        _PARSERS.batch = tools
    return tools


def _lxml_texts(fragments: list[str]) -> list[str] | None:
    """``html_to_text`` of each fragment from one parse, or None if it cannot tell them apart.

    The parse is accepted only when the body holds our ``<div>`` wrappers, one per fragment
    and one more, and nothing else.  A fragment that ends inside a comment, a tag or a raw-text
    element (``<script>``, ``<title>``…) swallows the next wrapper; one that closes its wrapper
    early leaves its rest beside the wrappers, or opens an element that holds the next one; one
    that nests too deep stops libxml2.  Each of these shows in that check.  A control character
    (``_lxml_text`` may refuse it) gives None too.
    """
    # One more, empty wrapper at the end: what the last fragment leaves open swallows it.
    opening = f'<div id="{_WRAPPER}">'
    inner = opening + f"</div>{opening}".join([*fragments, ""]) + "</div>"
    if _DOCUMENT_MARKUP.search(inner):
        return None
    try:
        document = etree.fromstring(f"<html><body>{inner}</body></html>", _html_parser())
        tools = _batch_tools()
        if (
            document is None
            or tools.foreign(document)
            or tools.wrappers(document) != len(fragments) + 1
        ):
            return None
        flat = bytes(tools.texts(document))
    except (etree.ParserError, etree.XMLSyntaxError, etree.XSLTError, ValueError):
        return None
    if len(flat.translate(None, _CONTROL_BYTES)) != len(flat):
        return None
    texts = _tidy_pieces(flat.decode("utf-8"))
    if len(texts) != len(fragments) + 2:  # the empty wrapper's text, and after its separator
        return None
    return texts[:-2]


def _soup_text(markup: str) -> str:
    from bs4 import BeautifulSoup  # only for the rare fragment lxml refuses: ~0.1 s to import

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(list(_HIDDEN)):
        tag.decompose()
    for tag in soup.find_all(list(_BLOCKS)):
        tag.insert_after("\n")
    return str(soup.get_text())


def parse_feed(body: bytes, url: str, now: datetime | None = None) -> ParsedFeed:
    """Parse feed bytes fetched from ``url``; never raises on malformed input.

    A feed that is not well-formed but still yields entries is used (publishers often break
    XML slightly); one that yields nothing is reported through ``problem``.  The fast parser
    is tried first; feedparser reads whatever it declines (see ``parse_feed_fast``).
    """
    now = now or datetime.now(UTC)
    lowered = body.lower()
    # "<!entity" not in the lower-cased body: no "<!ENTITY" either, unless the body is UTF-16.
    expansion = _entity_expansion(body) if b"<!entity" in lowered or _is_utf16(body) else 0
    if expansion > MAX_ENTITY_EXPANSION:
        return ParsedFeed(
            None,
            (),
            f"refused: its XML entities would expand to {expansion:,} bytes "
            "(an entity-expansion attack or a broken feed)",
        )
    return _parse_fast(body, lowered, url, now) or parse_feed_thorough(body, url, now)


# What the fast parser does not do as feedparser does: such feeds go to feedparser directly.
#   xml:base — feedparser resolves links against it;
#   a DOCTYPE or entity — declared entities (and their limits) are feedparser's job.
#   an encoding other than UTF-8 — feedparser's detection and repair of mislabelled charsets;
#   Media RSS — feedparser reads media:title/description as the item's title and summary.
# Searched for in the lower-cased body (``in`` on bytes: 7 times faster than one re.I regex).
_FAST_REFUSES = (b"xml:base", b"<!doctype", b"<!entity", b"<media:title", b"<media:description")
# Dates the two parsers read alike.  fastfeedparser also guesses at others ("Friday, January
# 29, 2021 04:42 PM", "BST") and sometimes wrongly; such feeds go to feedparser, whose rules
# decide which dates are real (a date is never invented).
_DATE_ELEMENT = re.compile(rb"<(pubDate|dc:date|updated|published|created)>\s*([^<]*?)\s*</\1>")
_STRICT_DATE = re.compile(
    rb"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    rb"|Nov|Dec) \d{4} \d{2}:\d{2}(?::\d{2})? (?:[+-]\d{4}|GMT|UTC?|Z)"
    rb"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})"
)
# A _DATE_ELEMENT whose date is not a _STRICT_DATE, in one search (no Python per date): after
# the leading spaces, the date must not be strict up to the closing tag.  "(?!\s" keeps the
# search from backtracking into those spaces, where a strict date never starts.
_LOOSE_DATE_ELEMENT = re.compile(
    _DATE_ELEMENT.pattern.replace(
        rb">\s*(", rb">\s*(?!\s|(?:" + _STRICT_DATE.pattern + rb")\s*</\1>)(", 1
    )
)
_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding=["']([^"']+)["']""")
_DECLARED_LANGUAGE = re.compile(
    rb"<language>\s*(?:<!\[CDATA\[)?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)\s*(?:\]\]>)?\s*"
    rb"</language>"
)


def parse_feed_fast(body: bytes, url: str, now: datetime) -> ParsedFeed | None:
    """The fast path: a well-formed XML feed through fastfeedparser, or None to use feedparser.

    None whenever this path could differ from feedparser: the parser fails, finds no entry,
    or the document uses what only feedparser handles (see ``_FAST_REFUSES``).
    """
    return _parse_fast(body, body.lower(), url, now)


def _parse_fast(body: bytes, lowered: bytes, url: str, now: datetime) -> ParsedFeed | None:
    """``parse_feed_fast`` with the lower-cased body given (``parse_feed`` has it already)."""
    head = body[:4096].lstrip()
    if not head.startswith(b"<") or any(marker in lowered for marker in _FAST_REFUSES):
        return None  # JSON Feed, HTML error pages, empty bodies: feedparser reports them
    encoding = _ENCODING.match(head)
    if encoding and encoding.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _LOOSE_DATE_ELEMENT.search(body):
        return None
    try:
        parsed = fastfeedparser.parse(
            body, include_tags=False, include_media=False, include_enclosures=False
        )
        entries = parsed.get("entries") or []
        if not entries:
            return None
        feed = parsed.get("feed") or {}
        feed_lang = _clean(feed.get("language")) or None
        if feed_lang is None:
            declared = _DECLARED_LANGUAGE.search(body, 0, 65536)
            feed_lang = declared.group(1).decode("ascii") if declared else None
        identities = [_fast_identity(entry, url) for entry in entries]  # may decline
        latest = now + FUTURE_TOLERANCE
        texts = _texts_of_entries(entries, "description")
        items = [
            _bounded_item(entry, guid, link, *text, _fast_date(entry, latest), feed_lang)
            for entry, (guid, link), text in zip(entries, identities, texts, strict=True)
            if any(text)  # an item with no text at all has nothing to match
        ]
        title = _clean(feed.get("title")) or None
    except Exception:  # noqa: BLE001 - any surprise here means "let feedparser decide"
        return None
    return ParsedFeed(title, tuple(items), None)


def _fast_identity(entry: Any, url: str) -> tuple[str, str | None]:
    """The guid and the http(s) link of a fastfeedparser entry, as feedparser would give them.

    Raises ``_Decline`` where feedparser's reading is the reference and might differ.
    """
    raw_link = _clean(entry.get("link"))
    if len(entry.get("links") or ()) > 1:
        raise _Decline  # several links: feedparser's choice of "the" link is the reference
    if raw_link and _PLAIN_LINK.fullmatch(raw_link):
        link: str | None = raw_link  # what urljoin gives back for it, at a tenth of the cost
    else:
        link = urljoin(url, raw_link) if raw_link else None
        if link and not link.lower().startswith(("http://", "https://")):
            link = None  # javascript:, data:, file: … never become article URLs
    guid = _clean(entry.get("id"))
    if guid == raw_link:
        if "://" not in raw_link:
            raise _Decline
        guid = link or ""  # no guid: feedparser falls back to the resolved http(s) link
    if ":" not in guid:
        # A relative guid (feedparser resolves some against the feed's URL) or none at all
        # (the identity would be a hash of a text the two parsers may flatten differently).
        raise _Decline
    return guid, link


# An absolute http(s) link that urljoin returns unchanged: lower-case scheme, a host, no
# empty query, no fragment, no space or control character (tests/test_extract.py checks it).
_PLAIN_LINK = re.compile(
    r"https?://[A-Za-z0-9.\-:@%_~!$&'()*+,=]+"  # ASCII host: urlsplit checks others (NFKC)
    r"(?:/[^\s?#;\x00-\x1f\x7f]*)?"  # no ";": urlparse splits path parameters off
    r"(?:\?[^\s#\x00-\x1f\x7f]+)?"
)


class _Decline(Exception):
    """This feed is feedparser's to read."""


def _fast_date(entry: Any, latest: datetime) -> datetime | None:
    """The entry's date as feedparser gives it, if plausible: not after ``latest``."""
    for key in ("published", "updated"):
        value = entry.get(key)
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        if moment.microsecond:
            moment = moment.replace(microsecond=0)  # as feedparser's struct_time
        if OLDEST_PLAUSIBLE <= moment <= latest:
            return moment
    return None


def parse_feed_thorough(body: bytes, url: str, now: datetime) -> ParsedFeed:
    """feedparser, the parser of record: any bytes, broken XML included; never raises."""
    import feedparser  # not at the top: most feeds never need it (~0.1 s to import)

    # bozo reasons that do not make a recognised feed unreadable
    benign = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
    try:
        parsed = feedparser.parse(
            body,
            response_headers={"content-location": url},
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except Exception as err:  # feedparser is robust, but a crash here must not stop a cycle
        return ParsedFeed(None, (), f"unreadable feed: {type(err).__name__}: {err}")
    feed_lang = _clean(parsed.feed.get("language")) or None
    items = []
    texts_of = _texts_of_entries(parsed.entries, "summary")
    for entry, texts in zip(parsed.entries, texts_of, strict=True):
        item = _item_from_entry(entry, texts, feed_lang, now)
        if item is not None:
            items.append(item)
    problem = None
    if not items and parsed.get("bozo"):
        reason = parsed.get("bozo_exception")
        if not parsed.get("version") and isinstance(reason, benign):
            problem = "not a feed: no RSS, Atom, RDF or JSON Feed document found"
        elif not isinstance(reason, benign):
            problem = f"not a readable feed: {_one_line(str(reason)) if reason else 'no entries'}"
        # else: a well-formed feed with no entries yet; the missing Content-Type is ours (the
        # fetcher's headers are not passed on) and a mislabelled charset was recovered from.
    title = _clean(parsed.feed.get("title")) or None
    return ParsedFeed(title, tuple(items), problem)


def _entity_expansion(body: bytes) -> int:
    """Bytes the internal entities declared in ``body`` would add once expanded (an estimate).

    The whole body is searched, not only the prolog: a comment before the DOCTYPE must not
    hide it.  UTF-16 is read as such, so the attack cannot hide in a wider encoding.
    """
    if _is_utf16(body):
        body = body.decode("utf-16", errors="replace").encode("utf-8")
    if b"<!ENTITY" not in body:
        return 0
    total = 0
    for match in _ENTITY_DECL.finditer(body):
        value = match.group(2) if match.group(2) is not None else match.group(3) or b""
        total += len(value) * body.count(b"&" + match.group(1) + b";")
    return total


def _is_utf16(body: bytes) -> bool:
    return body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]


def _texts_of_entries(entries: Sequence[Any], summary_key: str) -> list[tuple[str, str, str]]:
    """Title, summary and the longest content of each entry, as text (content dropped if equal).

    Both parsers name the summary differently (fastfeedparser ``description``, feedparser
    ``summary``); the rest of their entries agree.  All the entries' HTML is flattened at once:
    one lxml parse for the feed rather than one per fragment (see ``html_to_texts``).
    """
    titles = [_clean(entry.get("title")) for entry in entries]
    summaries = [_clean(entry.get(summary_key)) for entry in entries]
    contents = [_content_markups(entry) for entry in entries]
    flat = _flatten([*titles, *summaries, *chain.from_iterable(contents)])
    texts = []
    for title, summary, markups in zip(titles, summaries, contents, strict=True):
        summary_text = flat[summary]
        content = ""
        for markup in markups:
            text = flat[markup]
            if len(text) > len(content):
                content = text
        texts.append((flat[title], summary_text, "" if content == summary_text else content))
    return texts


def _content_markups(entry: Any) -> list[str]:
    parts = entry.get("content")
    if not parts:
        return []
    return [
        str(value)
        for part in parts
        if (value := part.get("value") if hasattr(part, "get") else None)
    ]


def _bounded_item(
    entry: Any,
    guid: str,
    link: str | None,
    title: str,
    summary: str,
    content: str,
    published_at: datetime | None,
    language: str | None,
) -> FeedItem:
    """The item both parsers build, with the same caps on what a hostile feed can inflate."""
    author = _clean(entry.get("author")) or None
    return FeedItem(
        guid=guid[:2000],
        link=link,
        title=title,
        summary=summary,
        content=content,
        author=author[:300] if author else None,
        published_at=published_at,
        language=language,
    )


def _item_from_entry(
    entry: Any, texts: tuple[str, str, str], feed_lang: str | None, now: datetime
) -> FeedItem | None:
    link = _clean(entry.get("link")) or None
    if link and not link.lower().startswith(("http://", "https://")):
        link = None  # javascript:, data:, file: … never become article URLs
    title, summary, content = texts
    guid = _clean(entry.get("id")) or link or ""
    if not guid:
        guid = hashlib.sha1(f"{title}\n{summary}".encode("utf-8", "surrogatepass")).hexdigest()
    if not (title or summary or content):
        return None
    lang = None
    detail = entry.get("title_detail") or entry.get("summary_detail")
    if detail is not None and hasattr(detail, "get"):
        lang = _clean(detail.get("language")) or None
    return _bounded_item(
        entry, guid, link, title, summary, content, _entry_date(entry, now), lang or feed_lang
    )


def _entry_date(entry: Any, now: datetime) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if not value:
            continue
        try:
            moment = datetime.fromtimestamp(calendar.timegm(value), UTC)
        except (OverflowError, ValueError, TypeError, OSError):
            continue
        if OLDEST_PLAUSIBLE <= moment <= now + FUTURE_TOLERANCE:
            return moment
    return None


def _clean(value: object) -> str:
    if value is None:
        return ""
    return str(value).replace("\x00", "").strip()


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
