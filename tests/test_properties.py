"""Properties that must hold for any input (hypothesis): the matcher, the feed extractor, and
the word-level shortcuts of story fingerprints and language detection.

The config loader and the URL canonicaliser have theirs in test_config_fuzz.py and
test_canonical.py.  Here: ``BrandMatcher.find`` never raises, its offsets are inside the text
and what it matched folds to one of the brand's terms; ``parse_feed`` never raises on any bytes
and what it returns is text without markup, with only http(s) links.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ereputation.config import Brand
from ereputation.extract import parse_feed
from ereputation.match import BrandMatcher, fold_text, make_snippet

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BRANDS = [
    Brand(
        name="Atlas Télécom", aliases=("Atlas Telecom", "اتصالات الأطلس"), exclude=("Mountains",)
    ),
    Brand(name="Orange", case_sensitive=True),
    Brand(name="Banque Zellige", aliases=("Zellige Bank", "BZ")),
    Brand(name="C++ Labs", aliases=("l'Oréal",)),
]
MATCHER = BrandMatcher(BRANDS)
TERMS = {b.name: [b.name, *b.aliases] for b in BRANDS}

# Text made of brand terms (in any case, with or without accents), Arabic clitics, punctuation,
# odd Unicode (combining marks, RTL marks, ZWJ, ligatures, NUL) and plain words.
fragments = st.sampled_from(
    [
        "Atlas Télécom", "ATLAS TELECOM", "atlas   télécom", "Atlas\u00a0Telecom", "Atlasé",
        "اتصالات الأطلس", "وباتصالات الأطلس", "Orange", "orange", "Orangeade", "Zellige Bank",
        "BZ", "bz", "C++ Labs", "l’Oréal", "L'OREAL", "Mountains", "e\u0301", "\u200f", "\u200d",
        "\ufb01", "\x00", "İ", "ß", "ﷺ", " ", "\n", ".", "d'", "’", "-", "«", "»", "🙂",
    ]
)  # fmt: skip
texts = st.one_of(
    st.lists(st.one_of(fragments, st.text(max_size=8)), max_size=30).map("".join),
    st.text(max_size=300),
)


@SETTINGS
@given(texts)
def test_find_never_raises_and_hits_are_inside_the_text(text):
    for hit in MATCHER.find(text):
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end] == hit.matched
        assert hit.brand in TERMS and hit.term in TERMS[hit.brand]


@SETTINGS
@given(texts)
def test_a_hit_folds_to_one_of_its_brands_terms(text):
    for hit in MATCHER.find(text):
        brand = next(b for b in BRANDS if b.name == hit.brand)
        folded = " ".join(fold_text(hit.matched, brand.case_sensitive).split())
        terms = {" ".join(fold_text(t, brand.case_sensitive).split()) for t in TERMS[hit.brand]}
        assert folded in terms, (hit, folded, terms)


@SETTINGS
@given(texts)
def test_snippet_of_any_hit_is_short_text_from_around_it(text):
    for hit in MATCHER.find(text):
        snippet = make_snippet(text, hit)
        assert isinstance(snippet, str) and len(snippet) <= 400


@SETTINGS
@given(st.binary(max_size=2000))
def test_parse_feed_never_raises_on_arbitrary_bytes(body):
    parsed = parse_feed(body, "http://127.0.0.1/feed", NOW)
    assert parsed.problem is None or "\n" not in parsed.problem


# ASCII: an HTML tag name is; without it "<İ" (text, as no parser reads a tag there) looks
# like "<i" to a case-insensitive match.
TAG = re.compile(r"<\s*/?\s*(script|img|a|b|i|p|div|iframe|svg|style)\b", re.IGNORECASE | re.ASCII)
markup = st.sampled_from(
    [
        "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>gras</b>",
        '<a href="javascript:alert(1)">x</a>', "<p>para</p>", "<![CDATA[<i>c</i>]]>",
        "&amp;", "<style>p{}</style>", "]]>", "<!-- c -->", "<scr<script>ipt>", "<img",
        "Python", "Orange", "\u202e", "é", " ",
    ]
)  # fmt: skip
# Control characters: test_control_character_in_html_does_not_crash.
plain = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=6)
payloads = st.lists(st.one_of(markup, plain), max_size=12).map("".join)


def _rss(title: str, description: str, link: str) -> bytes:
    def cdata(text: str) -> str:
        return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"

    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{cdata(title)}</title><link>{cdata(link)}</link>"
        f"<description>{cdata(description)}</description></item></channel></rss>"
    ).encode("utf-8", "surrogatepass")


@SETTINGS
@given(
    payloads,
    payloads,
    st.sampled_from(["http://a.example/x", "javascript:alert(1)", "data:text/html,x", "/rel"]),
)
def test_feed_text_comes_out_without_markup_and_links_only_http(title, description, link):
    """Tags are flattened.  (Markup *escaped* in the HTML, ``&lt;b&gt;``, is the article's own
    text "<b>" and comes out as such: the digest escapes it.)"""
    parsed = parse_feed(_rss(title, description, link), "http://127.0.0.1/feed", NOW)
    for item in parsed.items:
        for text in (item.title, item.summary, item.content):
            assert not TAG.search(text), text
        assert item.link is None or item.link.startswith(("http://", "https://"))


def test_control_character_in_html_does_not_crash():
    body = _rss("", "<p>para</p>\x1b", "javascript:alert(1)")
    parsed = parse_feed(body, "http://127.0.0.1/feed", NOW)
    assert all(item.link is None for item in parsed.items)


def _context_bounds_reference(text: str, hit) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """``match._context_bounds`` as first written: every sentence end found up front."""
    from ereputation import match

    ends = [m.end() for m in match._SENTENCE_END.finditer(text)]
    starts = [0, *ends]
    stops = [*ends, len(text)]
    index = next(i for i, stop in enumerate(stops) if stop >= hit.end or i == len(stops) - 1)
    first = last = index
    while stops[last] - starts[first] < match._MIN_CONTEXT and (first > 0 or last < len(stops) - 1):
        if last < len(stops) - 1:
            last += 1
        if stops[last] - starts[first] < match._MIN_CONTEXT and first > 0:
            first -= 1
    start, stop = starts[first], stops[last]
    if stop - start > match._MAX_CONTEXT:
        half = (match._MAX_CONTEXT - (hit.end - hit.start)) // 2
        start = max(start, hit.start - half)
        stop = min(stop, hit.end + half)
    return start, stop


SENTENCES = st.lists(
    st.sampled_from(
        ["Atlas Télécom", "M. Dupont", "3.5 %", "Bravo !", "\n", "\n\n", " ", ".", "?", "…",
         "؟", "S.A.", "une longue phrase sans ponctuation qui continue", "« fin. »", "x"]
    ),
    max_size=80,
)  # fmt: skip


@SETTINGS
@given(SENTENCES)
def test_mention_context_bounds_are_those_of_the_full_scan(pieces: list[str]) -> None:
    """The sentence ends are found lazily, as far as needed: the same bounds as the full scan."""
    from ereputation import match

    text = " ".join(pieces)
    for hit in BrandMatcher(BRANDS).find(text):
        assert match._context_bounds(text, hit) == _context_bounds_reference(text, hit)


def _texts(samples: list[str], max_size: int, joiner: str) -> st.SearchStrategy[str]:
    """Texts of up to ``max_size`` pieces, each one of ``samples`` or any short text."""
    return st.lists(
        st.one_of(st.sampled_from(samples), st.text(max_size=6)), max_size=max_size
    ).map(joiner.join)


# Story and language words: Latin (accents composed and not), Arabic (forms, harakat, tatweel,
# clitics), digits, Darija clues, and characters whose normal form holds a space or none.
WORDS = _texts(
    [
        "L'opérateur",
        "ATLAS",
        "Te\u0301le\u0301com",
        "prix",
        "hausses",
        "bzzaaaf",
        "wakha",
        "3lach",
        "ch7al",
        "mp3",
        "4g",
        "l'wakha",
        "Safi,",
        "الأسعار",
        "بالمدرسة",
        "مُحَمَّد",
        "ـــ",
        "٢٠٢٤",
        "a_b",
        "\u00a8",
        "\u00b4",
        "\u00bd",
        "\ufb01n",
        "\ufdfa",
        " ",
        "  ",
        "\n",
        "\t",
        "\u00a0",
        "\u2003",
        "\u3000",
        "\x85",
        "'",
        "-",
        ".",
        "#tag",
        "a@b.ma",
        "http://x.ma/wakha",
    ],
    max_size=40,
    joiner="",
)


@SETTINGS
@given(WORDS, st.sampled_from([None, 1, 3, 80]))
def test_story_words_token_by_token_are_those_of_the_whole_text(text, limit):
    """``normalise_words`` reads a text token by token (tokens are cached): the words must be
    those of normalising the whole text at once."""
    from ereputation import stories

    whole = stories._content_words(text.translate(stories._NORMALISATION))
    expected = whole if limit is None else whole[:limit]
    assert stories.normalise_words(text, limit) == expected
    assert stories.normalise_words(text, limit) == expected  # from the cache, the same


@SETTINGS
@given(WORDS)
def test_darija_clue_token_by_token_is_that_of_the_whole_text(text):
    """Darija clues are counted token by token (cached): the answer must be that of
    counting the clues of the whole text."""
    from ereputation import language

    expected = language.arabizi_evidence(text)[0] > 0
    for _ in range(2):  # then from the cache
        assert (language._count(language._signs(text), language._SIGN_CLUES) > 0) is expected


VOTE_WORDS = _texts(
    [
        "le",
        "LA",
        "des",
        "Été",
        "où",
        "the",
        "OF",
        "and",
        "el",
        "und",
        "l'entreprise",
        "d'Atlas",
        "(the",
        "de,",
        "x3",
        "wach",
        "بالمدرسة",
        "Orange",
        "«le»",
        "ﬁn",
    ],
    max_size=30,
    joiner=" ",
)


@SETTINGS
@given(VOTE_WORDS)
def test_stop_word_vote_token_by_token_is_that_of_the_whole_text(text):
    """The vote is read from each token's cached signs: it must be the vote over the whole
    text's words (runs of letters of the lower-cased text), counted at once."""
    from ereputation import language

    words = re.findall(r"[^\W\d_]+", text.lower())
    kinds = [language._STOP_WORDS.get(word) for word in words]
    french, english = kinds.count("fr"), kinds.count("en")
    other = kinds.count("other")
    expected = None
    if other * 4 <= max(french, english):
        if french >= 3 and french >= 4 * english:
            expected = "fr"
        elif english >= 3 and english >= 4 * french:
            expected = "en"
    assert language._vote(language._signs(text)) == expected
    arabic = re.search(language._ARABIC_LETTER.pattern, text) is not None
    assert (language._count(language._signs(text), language._SIGN_ARABIC) > 0) is arabic
