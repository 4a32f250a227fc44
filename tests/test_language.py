"""Language of an article: en / fr / ar / arabizi / None."""

from __future__ import annotations

import pytest
from conftest import SHARED

from ereputation.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Atlas Télécom annonce une hausse de ses tarifs à partir du mois prochain.", "fr"),
        ("Les clients se plaignent d'une panne du réseau mobile depuis ce matin", "fr"),
        ("The operator announced record profits despite the network outage.", "en"),
        ("Customers are angry about the new prices", "en"),
        ("أعلنت اتصالات الأطلس عن ارتفاع في أسعار الإنترنت", "ar"),
        ("هاد الشركة خايبة بزاف والخدمة ديالها ماكايناش", "ar"),
        ("hadchi zwin bzaf khoya, tbarkallah 3lik", "arabizi"),
        ("wach kayn chi wa7ed 3ndo mochkil m3a reseau dyal had charika?", "arabizi"),
        ("3lach ma bghitich tjawbni", "arabizi"),
        (
            "Die Kunden beschweren sich über den Ausfall des Mobilfunknetzes seit heute Morgen.",
            None,
        ),
        ("", None),
        ("12345 !!! 😂", None),
    ],
)
def test_detects_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


def test_french_or_english_with_one_darija_word_stays_french_or_english() -> None:
    assert detect_language("Le ministre a dit inchallah que le projet sera fini en 2025.") == "fr"
    assert detect_language("He said wallah the new 4G network is much faster now") == "en"


def test_no_arabizi_false_alarm_on_english_and_french_sets() -> None:
    """On real English and French texts, arabizi is (almost) never claimed."""
    for name in ("en_vader_tweets.tsv", "fr_deft2017_tweets.tsv"):
        rows = (SHARED / "eval" / "sentiment" / name).read_text("utf-8").splitlines()[1:]
        found = [detect_language(r.split("\t")[0]) for r in rows]
        assert found.count("arabizi") <= len(found) // 200, name
        expected = name[:2]
        assert found.count(expected) >= 0.95 * len(found), name
