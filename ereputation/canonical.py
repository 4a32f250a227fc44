"""Canonical URLs: one spelling per article, so the same story is stored once.

Feeds, listing pages, social shares and AMP caches hand us many spellings of one article:
tracking parameters, ``m.`` and AMP variants, fragments, default ports, reordered queries.
``canonical_url`` folds them into one *identity key* (``articles.url`` is unique on it);
``outlet_of`` names the publication a URL belongs to (``articles.outlet``, the "new voice"
and "spreading story" signals count outlets).

Choices, and why:

- ``www.`` is **dropped**, like ``m.``, ``mobile.`` and ``amp.``: a mobile host tells us
  nothing about whether the desktop site lives on ``www.`` or on the bare domain, so the
  only consistent rule is to drop all of them.  The result is a key, not a promise that
  the exact spelling is served; virtually every site redirects between the two, and
  the pipeline fetches the URL it was given, not the key.
- The scheme is kept (``http`` and ``https`` stay distinct): rewriting it could point
  at a server that does not answer; near-duplicate detection (``stories``) catches the
  rare article published under both.
- A trailing slash is dropped (except for the root): ``/a/b/`` and ``/a/b`` are the same
  article on every CMS we know (WordPress redirects one to the other).
- Paths are kept percent-encoded in UTF-8 with upper-case escapes, so an Arabic slug
  typed raw and the same slug percent-encoded give one key.
- Query parameters are sorted; tracking parameters (see ``TRACKING_PARAMETERS`` and
  ``TRACKING_PREFIXES``) are removed, compared case-insensitively.
- Subdomains other than www/m/mobile/amp are kept by ``outlet_of``: ``fr.le360.ma`` and
  ``le360.ma`` are different newsrooms (French and Arabic editions) with different
  audiences, and ``fr.hespress.com`` is not ``hespress.com``.  A non-default port is
  kept too, so two local servers are two outlets.

Neither function raises: junk (not http(s), no host, unparsable port) comes back as the
input stripped (``canonical_url``) or ``""`` (``outlet_of``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit, urlunsplit

TRACKING_PARAMETERS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid",
        "mc_cid", "mc_eid", "igshid", "igsh", "_ga", "_gl", "ref", "ref_src", "ref_url",
        "referrer", "spm", "xtor", "xtref", "ito", "ocid", "cmpid", "s_cid", "ncid",
        "_hsenc", "_hsmi", "hsctatracking", "mkt_tok", "vero_id", "vero_conv",
        "oly_enc_id", "oly_anon_id", "sr_share", "__twitter_impression", "wt.mc_id",
        "wt_mc", "feature", "amp", "outputtype", "usqp", "amp_js_v", "_gsa",
        "smid", "smtyp", "fb_action_ids", "fb_action_types", "fb_ref", "fb_source",
        "action_object_map", "action_type_map", "action_ref_map", "utm", "hpt", "cmp",
        "intcmp", "icid", "int_source", "int_medium", "int_campaign",
    }
)  # fmt: skip
"""Query keys removed by ``canonical_url`` (lower-case).  ``amp``/``outputType``/``usqp`` are
AMP switches rather than tracking, but they too only change the rendering of one article."""

TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "at_", "ns_", "pk_", "mtm_", "hmb_", "ga_")
"""Query keys starting with these are removed: Google (utm_), AT Internet (at_medium,
at_campaign… used by French and Moroccan outlets), comScore (ns_), Matomo (pk_, mtm_)."""

_STRIPPED_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_HOST_RE = re.compile(r"^[\w.-]+$")  # \w: letters of any script (IDN hosts), digits, _
_ESCAPE_RE = re.compile(r"%[0-9a-fA-F]{2}")
# Kept as they are when re-quoting: reserved characters, unreserved ones, and '%' so
# existing escapes survive (they are then upper-cased).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = "/:@!$'()*,;-._~"
_AMP_CACHE_RE = re.compile(r"^/[a-z]/(s/)?(.+)$")  # /c/s/example.com/path on cdn.ampproject.org


def canonical_url(url: str, base: str | None = None) -> str:
    """The identity key of ``url`` (resolved against ``base`` when relative).

    Idempotent: ``canonical_url(canonical_url(u)) == canonical_url(u)``.  Never raises;
    junk comes back stripped of surrounding whitespace.  See the module docstring for
    what is folded and why.
    """
    stripped = url.strip() if isinstance(url, str) else ""
    key = _canonical_or_none(stripped, base)
    return stripped if key is None else key


def clean_link(url: str) -> str | None:
    """The URL to show and click: as published, minus tracking parameters and fragment.

    ``canonical_url`` is an identity key (it drops ``www.``, which not every site serves);
    this keeps the host and path exactly as the publisher wrote them, so the link resolves.
    Returns None for anything but an absolute http(s) URL.
    """
    try:
        parts = urlsplit(url.strip() if isinstance(url, str) else "")
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
    except ValueError:
        return None
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and not _is_tracking(unquote(pair.partition("=")[0]))
    ]
    return urlunsplit((scheme, parts.netloc, parts.path or "/", "&".join(kept), ""))


def outlet_of(url: str) -> str:
    """The outlet (publication) a URL belongs to: its host without www./m./mobile./amp.

    ``https://www.le360.ma/x`` -> ``le360.ma``; ``https://fr.le360.ma/x`` -> ``fr.le360.ma``
    (editions are distinct outlets); a non-default port is kept (``127.0.0.1:8080``).
    Returns ``""`` when ``url`` has no usable host.
    """
    key = _canonical_or_none(url.strip() if isinstance(url, str) else "", None)
    return "" if key is None else urlsplit(key).netloc


def _canonical_or_none(url: str, base: str | None) -> str | None:
    try:
        return _canonical(url, base)
    except (ValueError, TypeError, UnicodeError):
        return None


def _canonical(url: str, base: str | None) -> str | None:
    if base:
        url = urljoin(base.strip(), url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host or not _HOST_RE.match(host) or ".." in host:
        return None
    port = parts.port  # raises ValueError on junk ports: handled by the caller
    path = parts.path
    if host.endswith(".cdn.ampproject.org"):
        inner = _from_amp_cache(path, parts.query)
        if inner is not None:
            return _canonical(inner, None)
    host = _strip_host_prefixes(host)
    netloc = host if port is None or port == _default_port(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, _clean_path(path), _clean_query(parts.query), ""))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _strip_host_prefixes(host: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _STRIPPED_HOST_PREFIXES:
            rest = host[len(prefix) :]
            if host.startswith(prefix) and "." in rest:
                host, changed = rest, True
    return host


def _from_amp_cache(path: str, query: str) -> str | None:
    """``/c/s/example.com/a`` on Google's AMP cache is ``https://example.com/a``."""
    match = _AMP_CACHE_RE.match(path)
    if not match:
        return None
    scheme = "https" if match.group(1) else "http"
    rest = match.group(2)
    return f"{scheme}://{rest}" + (f"?{query}" if query else "")


def _clean_path(path: str) -> str:
    path = quote(path, safe=_PATH_SAFE)
    path = _ESCAPE_RE.sub(lambda m: m.group(0).upper(), path)
    segments = _remove_dot_segments(path.split("/"))
    segments = [s for s in segments if s.lower() != "amp"]
    if segments:
        last = segments[-1]
        lowered = last.lower()
        if lowered.endswith(".amp.html") or lowered.endswith(".amp.htm"):
            dot = lowered.rindex(".amp.")
            segments[-1] = last[:dot] + last[dot + 4 :]
        elif lowered.endswith(".amp") and len(last) > 4:
            segments[-1] = last[:-4]
    path = "/".join(segments)
    return "/" + path.strip("/")


def _remove_dot_segments(segments: list[str]) -> list[str]:
    out: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if len(out) > 1:
                out.pop()
            continue
        out.append(segment)
    return out


def _clean_query(query: str) -> str:
    if not query:
        return ""
    pairs = [
        (key, value)
        for key, value in parse_qsl(query, keep_blank_values=True)
        if not _is_tracking(key)
    ]
    pairs.sort()
    return "&".join(
        quote(key, safe=_QUERY_SAFE) + (f"={quote(value, safe=_QUERY_SAFE)}" if value else "")
        for key, value in pairs
    )


def _is_tracking(key: str) -> bool:
    lowered = key.strip().lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)
