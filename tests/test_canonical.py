"""canonical_url folds the spellings of one article into one key; outlet_of names its outlet."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ereputation.canonical import (
    TRACKING_PARAMETERS,
    TRACKING_PREFIXES,
    canonical_url,
    outlet_of,
)

SAME_ARTICLE = [
    "https://www.le360.ma/economie/atlas-telecom-tarifs-123",
    "https://le360.ma/economie/atlas-telecom-tarifs-123",
    "HTTPS://LE360.MA:443/economie/atlas-telecom-tarifs-123/",
    "https://m.le360.ma/economie/atlas-telecom-tarifs-123?utm_source=twitter&utm_medium=social",
    "https://mobile.le360.ma/economie/atlas-telecom-tarifs-123#comments",
    "https://amp.le360.ma/economie/atlas-telecom-tarifs-123",
    "https://le360.ma/economie/atlas-telecom-tarifs-123/amp/",
    "https://le360.ma/amp/economie/atlas-telecom-tarifs-123",
    "https://le360.ma/economie/atlas-telecom-tarifs-123?amp=1&fbclid=IwAR0abc",
    "https://le360.ma/economie/atlas-telecom-tarifs-123?xtor=RSS-3208&at_medium=rss",
    "https://www-le360-ma.cdn.ampproject.org/c/s/le360.ma/economie/atlas-telecom-tarifs-123",
    "https://le360.ma/economie/./x/../atlas-telecom-tarifs-123",
]


@pytest.mark.parametrize("url", SAME_ARTICLE)
def test_spellings_of_one_article_give_one_key(url: str) -> None:
    assert canonical_url(url) == "https://le360.ma/economie/atlas-telecom-tarifs-123"


def test_amp_html_suffix_collapses() -> None:
    assert canonical_url("https://example.com/news/story.amp.html") == (
        "https://example.com/news/story.html"
    )


def test_meaningful_query_parameters_are_kept_and_sorted() -> None:
    url = "https://example.com/article.php?id=42&utm_campaign=x&cat=7&gclid=z&mc_cid=1&mc_eid=2"
    assert canonical_url(url) == "https://example.com/article.php?cat=7&id=42"


def test_relative_urls_are_resolved_against_base() -> None:
    base = "https://www.hespress.com/politique/page/2/"
    assert canonical_url("../../../societe/article-1.html", base) == (
        "https://hespress.com/societe/article-1.html"
    )
    assert canonical_url("//fr.hespress.com/x", base) == "https://fr.hespress.com/x"


def test_raw_and_percent_encoded_arabic_slugs_are_one_key() -> None:
    raw = "https://hespress.com/اتصالات-الأطلس-123.html"
    encoded = "https://hespress.com/" + quote("اتصالات-الأطلس-123.html").lower()
    assert canonical_url(raw) == canonical_url(encoded)


def test_http_and_https_stay_distinct() -> None:
    assert canonical_url("http://example.com/a") != canonical_url("https://example.com/a")


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "   ",
        "mailto:com@example.ma",
        "javascript:void(0)",
        "not a url",
        "http://",
        "http://[::1",
    ],
)
def test_junk_comes_back_stripped(junk: str) -> None:
    assert canonical_url(f"  {junk}\n") == junk.strip()


@pytest.mark.parametrize(
    ("url", "outlet"),
    [
        ("https://www.le360.ma/x", "le360.ma"),
        ("https://fr.le360.ma/x", "fr.le360.ma"),
        ("https://m.hespress.com/x", "hespress.com"),
        ("https://amp.example.com/a", "example.com"),
        ("http://127.0.0.1:8080/feed", "127.0.0.1:8080"),
        ("https://example.com:443/", "example.com"),
        ("mailto:x@example.com", ""),
        ("", ""),
    ],
)
def test_outlet_of(url: str, outlet: str) -> None:
    assert outlet_of(url) == outlet


# -- properties --------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_host = st.builds(
    lambda prefix, labels, tld: prefix + ".".join([*labels, tld]),
    st.sampled_from(["", "www.", "m.", "amp.", "WWW.", "mobile."]),
    st.lists(_label, min_size=1, max_size=3),
    st.sampled_from(["ma", "com", "fr", "org"]),
)
_segment = st.text(min_size=0, max_size=12)
_tracking_key = st.one_of(
    st.sampled_from(sorted(TRACKING_PARAMETERS)),
    st.builds(lambda p, s: p + s, st.sampled_from(TRACKING_PREFIXES), st.text(max_size=6)),
).map(lambda k: k.upper() if len(k) % 2 else k)
_pair = st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8))


@st.composite
def _urls(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A URL with tracking parameters mixed in; returns it and the tracking keys used."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP"]))
    host = draw(_host)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/".join(draw(st.lists(_segment, max_size=4)))
    tracking = draw(st.lists(st.tuples(_tracking_key, st.text(max_size=5)), max_size=3))
    others = draw(st.lists(_pair, max_size=3))
    pairs = tracking + others
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in draw(st.permutations(pairs)))
    fragment = draw(st.sampled_from(["", "#top", "#!x"]))
    url = f"{scheme}://{host}{port}/{quote(path, safe='/')}" + (f"?{query}" if query else "")
    return url + fragment, [k for k, _ in tracking]


@given(_urls())
@example(("http://m.ma/", []))
def test_property_idempotent_and_tracking_gone(case: tuple[str, list[str]]) -> None:
    url, _tracking = case
    key = canonical_url(url)
    assert canonical_url(key) == key
    parts = urlsplit(key)
    assert parts.fragment == ""
    host = parts.hostname or ""
    for prefix in ("www.", "m.", "amp.", "mobile."):
        # Dropped wherever a domain remains: "m.ma" is itself a domain and keeps its "m.".
        assert not (host.startswith(prefix) and "." in host[len(prefix) :]), host
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        lowered = name.strip().lower()
        assert lowered not in TRACKING_PARAMETERS
        assert not lowered.startswith(TRACKING_PREFIXES)


@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=60)))
def test_property_never_raises_and_is_idempotent_on_any_text(text: str, base: str | None) -> None:
    key = canonical_url(text, base)
    assert isinstance(key, str)
    assert canonical_url(key) == key
    assert isinstance(outlet_of(text), str)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_property_any_path_is_idempotent(path: str) -> None:
    key = canonical_url("https://www.example.ma/" + path)
    assert canonical_url(key) == key
