"""Which language an article is in: ``en``, ``fr``, ``ar`` (Arabic script) or ``arabizi``.

- Arabic script is recognised by its letters; MSA and Darija written in Arabic script both
  give ``ar`` (the sentiment scorer handles both).
- ``arabizi`` is Moroccan Darija in Latin letters (``hadchi zwin bzaf``, ``3lach``,
  ``t7tii``).  No general detector knows it — py3langid calls it Indonesian, Swahili or
  French — so it is recognised first, from two clues: a hand-written list of frequent Darija
  words (``ereputation/data/arabizi/words.txt``, written for this project) and words that
  mix letters with the digits used for Arabic sounds (2 ء, 3 ع, 5 خ, 7 ح, 8 ه, 9 ق).
- English and French are told apart by py3langid's model (a well-kept langid.py: naive Bayes
  over byte n-grams, offline; scored in plain Python by ``langid_table``, ~2 µs a byte, the
  first ``IDENTIFIED_CHARS`` of a text), restricted to the major Latin-script languages so
  that a short headline is not called Luxembourgish; a text in another of those languages
  (German, Spanish, …) is ``None``, as is a text without enough letters.
- First, though, a **stop-word vote**: news text in French or English says so in its
  function words (``le``, ``de``, ``the``, ``of``…).  With 3 or more stop words at 4 to 1, no
  word of the other Latin-script languages, no Arabic letter and no Darija clue, the vote
  decides, in about 10 µs instead of py3langid's 200+.  It agrees with py3langid on
  99.9-100 % of the texts it decides in ../shared/eval/sentiment (53-83 % of the French and
  English texts there; the differences are texts py3langid calls ``None``), and it keeps the
  model (+10 MB, 0.05 s to load: ``langid_table``) out of memory while the texts are clear.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib import resources
from itertools import groupby
from typing import Any

from ereputation.token_memo import TokenMemo

__all__ = ["ARABIC_PREFIXES", "detect_language", "arabizi_evidence", "without_clitics"]

# With the presentation forms (U+FB50-U+FDFF, U+FE70-U+FEFC): some tweets and PDFs copied
# into pages are written in them, and the matcher and the scorers read them through NFKD.
_ARABIC_LETTER = re.compile(
    r"[\u0620-\u064a\u0671-\u06d3\u06fa-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]"
)
# Clitics written glued to the front of an Arabic word, longest first: the conjunctions و ف,
# the prepositions ب ك ل and the article (وال بال لل …).  The lexicons and the figures that move
# look words up without them; brand matching has its own, stricter rule (match.py).
ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")


def without_clitics(token: str, keep: int = 2) -> list[str]:
    """``token`` without each of ``ARABIC_PREFIXES`` it starts with, the longest first, when
    at least ``keep`` letters remain: the words a lexicon may list it as."""
    return [token[len(p) :] for p in ARABIC_PREFIXES
            if token.startswith(p) and len(token) - len(p) >= keep]  # fmt: skip


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

_VOTE_WORD = re.compile(r"[^\W\d_]+")
_FRENCH = frozenset(
    "le la les des du de et est une un pour dans par sur avec que qui pas au aux ce cette ces "
    "son sa ses leur nous vous ils elle sont été être mais ou où très plus comme tout".split()
)
_ENGLISH = frozenset(
    "the and of to is in for on with that this are was by from at it as be has have not but "
    "or an its their they we you will been were which".split()
)
# Frequent words of the other languages py3langid knows here: their texts are not voted on.
_OTHER = frozenset(
    "el los las por con para del una es y und der die das ist nicht ein eine il della di che "
    "gli não em um uma os het een van zijn niet".split()
)
_STOP_WORDS = {
    **{w: "other" for w in _OTHER},
    **{w: "en" for w in _ENGLISH},
    **{w: "fr" for w in _FRENCH},  # the vote counted French first, then English
}


@cache
def _darija_words() -> frozenset[str]:
    text = resources.files("ereputation").joinpath("data/arabizi/words.txt").read_text("utf-8")
    return frozenset(
        w for line in text.splitlines() for w in line.split("#")[0].split() if w.strip()
    )


_IDENTIFIER_LOCK = threading.Lock()
_IDENTIFIER: list[Any] = []  # the py3langid identifier, once loaded


def _identifier() -> Any:
    """py3langid's identifier, loaded on first use by one thread while the others wait.

    Not ``functools.cache``: it has no lock, and 32 workers asking at once built 32 copies
    (1.4 GB, bench/scale.py).
    """
    if not _IDENTIFIER:
        with _IDENTIFIER_LOCK:
            if not _IDENTIFIER:
                _IDENTIFIER.append(_load_identifier())
    return _IDENTIFIER[0]


def _load_identifier() -> Any:
    """py3langid's model for ``_LANGUAGES`` only (see ``langid_table.load``)."""
    from ereputation import langid_table

    return langid_table.load(_LANGUAGES)


def arabizi_evidence(text: str) -> tuple[int, int]:
    """(Darija clues, Latin words) in ``text``: the numbers ``detect_language`` decides on."""
    words = [w.strip("'") for w in _WORD.findall(_without_noise(text).lower())]
    darija = _darija_words()
    clues = 0
    for word in words:
        if word in darija:
            clues += 1
        elif _DIGIT_WORD.match(word) and not _NOT_DIGIT_WORD.match(word):
            clues += 1
        elif len(word) > 3 and _squeezed(word) in darija:  # "bzzaaaf"
            clues += 1
    return clues, len(words)


def _squeezed(word: str) -> str:
    """``word`` with each run of one letter cut to one ("bzzaaaf" -> "bzaf")."""
    return "".join(letter for letter, _ in groupby(word))


def _without_noise(text: str) -> str:
    """``text`` with links, mentions, hashtags and e-mail addresses blanked out.

    The regex costs 12 µs on a 250-character text; most texts hold none of its triggers.
    """
    if "://" in text or "www." in text or "@" in text or "#" in text:
        return _NOISE.sub(" ", text)
    return text


# A text's "signs": what the language decision counts in it, each count in its own 32-bit
# field of one int: French, English and other Latin-script stop words, tokens with a Darija clue
# (``arabizi_evidence``), tokens with an Arabic letter.  None of these reads across whitespace,
# so a text's signs are the sum of its tokens' (``_signs``): one pass in C instead of three in
# Python, and each token's signs are cached.
_SIGN_FR, _SIGN_EN, _SIGN_OTHER, _SIGN_CLUES, _SIGN_ARABIC = range(5)
_FIELD = 32
_MASK = (1 << _FIELD) - 1
_KIND_SIGN = {"fr": 1 << _SIGN_FR * _FIELD, "en": 1 << _SIGN_EN * _FIELD,
              "other": 1 << _SIGN_OTHER * _FIELD, None: 0}  # fmt: skip


def _count(signs: int, field: int) -> int:
    """One count of a text's ``_signs``."""
    return (signs >> field * _FIELD) & _MASK


def _token_signs(token: str) -> int:
    """A whitespace-separated token's signs, from its words: runs of letters, as most tokens
    are whole (``isalpha``, faster than the regex)."""
    lowered = token.lower()
    words = [lowered] if lowered.isalpha() else _VOTE_WORD.findall(lowered)
    signs = sum(_KIND_SIGN[_STOP_WORDS.get(word)] for word in words)
    if arabizi_evidence(token)[0] > 0:
        signs += 1 << _SIGN_CLUES * _FIELD
    if _ARABIC_LETTER.search(token):
        signs += 1 << _SIGN_ARABIC * _FIELD
    return signs


# Tokens recur from text to text; each one's signs are kept (~7 MB when full).
_TOKEN_SIGNS = TokenMemo(_token_signs)


def _signs(text: str) -> int:
    """The counts of ``text`` (see ``_FIELD``), summed token by token."""
    return sum(map(_TOKEN_SIGNS.__getitem__, text.split()))


def _vote(signs: int) -> str | None:
    """'fr' or 'en' when a text's stop words say so clearly (3 or more, 4 to 1, and few of the
    other Latin-script languages'), else None."""
    french, english = _count(signs, _SIGN_FR), _count(signs, _SIGN_EN)
    if _count(signs, _SIGN_OTHER) * 4 > max(french, english):
        return None
    if french >= 3 and french >= 4 * english:
        return "fr"
    if english >= 3 and english >= 4 * french:
        return "en"
    return None


# py3langid reads this much of a text the stop-word vote left open: its answer is settled long
# before, and its walk costs ~2 µs a byte in plain Python (langid_table.NaiveBayes), so a
# hostile megabyte of letters costs 20 ms, not 2 s.
IDENTIFIED_CHARS = 10_000
# Below this probability, py3langid's choice of another Latin-script language is a guess.
UNSURE = 0.5


def detect_language(text: str) -> str | None:
    """``'en'``, ``'fr'``, ``'ar'``, ``'arabizi'``, or ``None`` when unknown or unreadable.

    Pure; thread-safe (the model is loaded once, by the first caller that needs it); decides
    on the text alone (no HTML, give it the extracted text).
    """
    if not text:
        return None
    signs = _signs(text)
    vote = _vote(signs)
    if vote is not None and not _count(signs, _SIGN_CLUES) and not _count(signs, _SIGN_ARABIC):
        return vote
    return _detect(text)


def _detect(text: str) -> str | None:
    """The detector without the vote: letters, Darija clues, then py3langid."""
    clean = _without_noise(text)
    arabic = len(_ARABIC_LETTER.findall(clean))
    latin = len(_LATIN_LETTER.findall(clean))
    if arabic >= 2 and arabic >= latin:
        return "ar"
    if latin < 3:
        return None
    clues, words = arabizi_evidence(clean)
    # Darija clues are strong, but a French or English sentence may hold a Darija word
    # ("le hchouma", "inchallah"): unless they are a third of the words, py3langid has a say.
    darija = clues >= 1 and (clues >= 3 or clues / max(words, 1) >= 0.15)
    if darija and clues / max(words, 1) >= 0.34:
        return "arabizi"
    ranked = _identifier().rank(clean[:IDENTIFIED_CHARS])
    language, confidence = ranked[0]
    if darija and language not in ("en", "fr"):
        return "arabizi"
    if language in ("en", "fr"):
        return str(language)
    if confidence < UNSURE:
        # A short headline ("OCP licencie 300 salariés": es .45, fr .19) spreads py3langid's
        # bets; a text really in Spanish or German gets .85 and more even when short.  Our
        # users read French and English: the likelier of the two is a better answer than none.
        return str(next(name for name, _ in ranked if name in ("en", "fr")))
    return None
