"""Which language an article is in: ``en``, ``fr``, ``ar`` (Arabic script) or ``arabizi``.

- Arabic script is recognised by its letters; MSA and Darija written in Arabic script both
  give ``ar`` (the sentiment scorer handles both).
- ``arabizi`` is Moroccan Darija in Latin letters (``hadchi zwin bzaf``, ``3lach``,
  ``t7tii``).  No general detector knows it — py3langid calls it Indonesian, Swahili or
  French — so it is recognised first, from two clues: a hand-written list of frequent Darija
  words (``ereputation/data/arabizi/words.txt``, written for this project) and words that
  mix letters with the digits used for Arabic sounds (2 ء, 3 ع, 5 خ, 7 ح, 8 ه, 9 ق).
- English and French are told apart by py3langid (a well-kept langid.py: naive Bayes over
  byte n-grams, offline, ~0.1 ms a text), restricted to the major Latin-script languages so
  that a short headline is not called Luxembourgish; a text in another of those languages
  (German, Spanish, …) is ``None``, as is a text without enough letters.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["detect_language", "arabizi_evidence"]

_ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u0671-\u06d3\u06fa-\u06ff\u0750-\u077f]")
_LATIN_LETTER = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿœŒ]")
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\S+@\S+\.\w+")
_WORD = re.compile(r"[a-zà-öø-ÿœ0-9']+")
# A Darija sound written with a digit: letters on at least one side, and not "4g", "mp3", "2nd".
_DIGIT_WORD = re.compile(r"^(?=.*[a-z])(?:[a-z]*[235789][a-z]+[a-z0-9]*|[a-z]+[2379])$")
_NOT_DIGIT_WORD = re.compile(
    r"^(?:\d+(?:st|nd|rd|th|h|k|m|g|s|x|am|pm|mm|cm|km|kg|min|mb|gb|e|er|eme|ème)"
    r"|[a-z]+\d+[a-z]?|mp[34]|b2b|b2c|h24|g[2-9]0)$"
)
_LANGUAGES = ("en", "fr", "es", "de", "it", "pt", "nl", "ca", "ro", "tr", "pl", "id", "sw")


@cache
def _darija_words() -> frozenset[str]:
    text = resources.files("ereputation").joinpath("data/arabizi/words.txt").read_text("utf-8")
    return frozenset(
        w for line in text.splitlines() for w in line.split("#")[0].split() if w.strip()
    )


@cache
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(_LANGUAGES))
    return identifier


def arabizi_evidence(text: str) -> tuple[int, int]:
    """(Darija clues, Latin words) in ``text``: the numbers ``detect_language`` decides on."""
    words = _WORD.findall(_NOISE.sub(" ", text).lower())
    darija = _darija_words()
    clues = 0
    for word in words:
        word = word.strip("'")
        if word in darija:
            clues += 1
        elif _DIGIT_WORD.match(word) and not _NOT_DIGIT_WORD.match(word):
            clues += 1
        elif len(word) > 3 and re.sub(r"(.)\1+", r"\1", word) in darija:  # "bzzaaaf"
            clues += 1
    return clues, len(words)


def detect_language(text: str) -> str | None:
    """``'en'``, ``'fr'``, ``'ar'``, ``'arabizi'``, or ``None`` when unknown or unreadable.

    Pure and cheap; decides on the text alone (no HTML, give it the extracted text).
    """
    if not text:
        return None
    clean = _NOISE.sub(" ", text)
    arabic = len(_ARABIC_LETTER.findall(clean))
    latin = len(_LATIN_LETTER.findall(clean))
    if arabic >= 2 and arabic >= latin:
        return "ar"
    if latin < 3:
        return None
    clues, words = arabizi_evidence(clean)
    if clues >= 1 and (clues >= 3 or clues / max(words, 1) >= 0.15):
        # Darija clues are strong, but a French or English sentence may hold a Darija word
        # ("le hchouma", "inchallah"): only then ask the general detector.
        if clues / max(words, 1) >= 0.34 or _identifier().classify(clean)[0] not in ("en", "fr"):
            return "arabizi"
    language, confidence = _identifier().classify(clean)
    if language in ("en", "fr"):
        return str(language)
    return None
