"""What ``ereputation analyze`` shows for one text: language, matches and why, sentiment."""

from __future__ import annotations

import json

from ereputation.analyze import analyze_text
from ereputation.config import Brand
from ereputation.match import BrandMatcher

MATCHER = BrandMatcher(
    [
        Brand(
            "Atlas Télécom",
            aliases=("Atlas Telecom", "اتصالات الأطلس"),
            exclude=("Atlas Mountains",),
        ),
        Brand("Orange", case_sensitive=True, query="réseau OR panne OR offre"),
    ]
)


def test_shows_language_matches_snippet_and_sentiment() -> None:
    text = "Grosse panne chez d’ATLAS TELECOM ce matin : service lamentable, clients furieux."
    result = analyze_text(text, MATCHER)
    assert result["language"] == "fr"
    assert result["brands"] == ["Atlas Télécom"]
    assert result["matches"] == [
        {"brand": "Atlas Télécom", "term": "Atlas Télécom", "matched": "ATLAS TELECOM",
         "start": 20, "end": 33}
    ]  # fmt: skip
    assert "ATLAS TELECOM" in result["snippet"]
    assert result["label"] == "negative"
    assert result["sentiment"] < 0
    json.dumps(result)  # printable with --json


def test_explains_query_and_exclusions() -> None:
    text = "Randonnée dans les Atlas Mountains : Atlas Telecom ne capte pas. Orange aussi."
    result = analyze_text(text, MATCHER)
    assert result["brands"] == []
    assert result["excluded"][0]["exclusions"] == ["Atlas Mountains"]
    assert result["queries"]["Orange"]["holds"] is False
    assert result["queries"]["Orange"]["terms"] == {"réseau": False, "panne": False, "offre": False}


def test_arabic_text_and_unreadable_text() -> None:
    result = analyze_text("شكرا لاتصالات الأطلس على الخدمة الممتازة", MATCHER)
    assert result["language"] == "ar"
    assert result["matches"][0]["term"] == "اتصالات الأطلس"
    assert result["label"] == "positive"
    unknown = analyze_text("Das Netz von Atlas Telecom ist heute ausgefallen.", MATCHER)
    assert unknown["language"] is None
    assert unknown["brands"] == ["Atlas Télécom"]
    assert unknown["sentiment"] is None and unknown["label"] is None


def test_the_brands_own_name_is_not_scored() -> None:
    """ "atlas" leaned positive after training text about other companies named Atlas, and
    this outage read as good news; the brand's name says nothing about how it is spoken of."""
    text = "Atlas Telecom outage leaves thousands offline in Casablanca and Rabat"
    result = analyze_text(text, MATCHER)
    assert result["brands"] == ["Atlas Télécom"]
    assert result["label"] == "negative"
    assert result["context"] == text  # shown whole; scored without "Atlas Telecom"


def test_shows_the_figures_that_moved_and_what_they_counted_for() -> None:
    text = "Chez Atlas Télécom, les réclamations n'ont pas augmenté cette année."
    result = analyze_text(text, MATCHER)
    assert result["figures"] == [{"figure": "reclamations", "movement": "augmente", "value": 1.5}]
    assert result["label"] == "positive"
    assert analyze_text("Atlas Télécom ouvre une boutique.", MATCHER)["figures"] == []
