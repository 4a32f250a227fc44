"""What ``ereputation analyze TEXT`` shows: language, brands matched and why, snippet, sentiment.

This is the same analysis the pipeline runs on an article (title + text), so a user can check
on one sentence why a text did or did not count as a mention.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ereputation.config import Brand
from ereputation.language import detect_language
from ereputation.match import BrandMatcher, make_snippet, mention_context, sentiment_context
from ereputation.sentiment import figures_moved, score_sentiment

__all__ = ["analyze_text"]


def analyze_text(text: str, matcher: BrandMatcher) -> dict[str, Any]:
    """One JSON-ready dict describing ``text``.

    Keys: ``language``; ``brands`` (names matched, in order of first hit); ``matches`` (one
    ``{brand, term, matched, start, end}`` per hit); ``snippet`` (around the first hit, or the
    start of the text); ``sentiment`` / ``label`` (of the first hit's context, or of the whole
    text when no brand matched; ``None`` when the text cannot be read); ``context`` (the text
    that was scored, shown with the brand's own name, which the score leaves out: see
    ``match.sentiment_context``); ``queries`` (per brand with a query: whether it held and
    which of its terms were found); ``excluded`` (hits dropped by an exclusion near them, with
    the phrase); ``figures`` (the figures that moved in the scored text and what each counted
    for, ``sentiment.figures_moved``: why "complaints fell" reads as good news).
    """
    language = detect_language(text)
    hits = matcher.find(text)
    brands = list(dict.fromkeys(h.brand for h in hits))
    if hits:
        context = mention_context(text, hits[0])
        snippet = make_snippet(text, hits[0])
        scored = sentiment_context(text, hits[0], hits)
    else:
        context = scored = " ".join(text.split())
        snippet = context[:240] + ("…" if len(context) > 240 else "")
    sentiment = score_sentiment(scored, language)
    queries: dict[str, dict[str, Any]] = {}
    excluded: list[dict[str, Any]] = []
    for brand in matcher.brands:
        if brand.query:
            queries[brand.name] = {
                "query": brand.query,
                "holds": matcher.query_holds(brand.name, text),
                "terms": matcher.query_terms_found(brand.name, text),
            }
        if brand.exclude:
            raw = BrandMatcher([_without_filters(brand)]).find(text)
            for hit in raw:
                near = matcher.exclusions_near(brand.name, text, hit)
                if near:
                    excluded.append(
                        {"brand": brand.name, "matched": hit.matched, "start": hit.start,
                         "end": hit.end, "exclusions": near}
                    )  # fmt: skip
    return {
        "language": language,
        "brands": brands,
        "matches": [
            {"brand": h.brand, "term": h.term, "matched": h.matched, "start": h.start, "end": h.end}
            for h in hits
        ],
        "snippet": snippet,
        "context": context,
        "sentiment": sentiment.score if sentiment else None,
        "label": sentiment.label if sentiment else None,
        "figures": figures_moved(scored, language) if sentiment else [],
        "queries": queries,
        "excluded": excluded,
    }


def _without_filters(brand: Brand) -> Brand:
    return replace(brand, exclude=(), query=None)
