"""Sentiment of a mention, per language, in −1…1 with a label (positive | negative | neutral).

Give it the mention's own context (``match.mention_context``), not the whole page: an article
that praises one brand and blames another has no single sentiment.

How each language is read (provenance of every file: docs/sentiment.md):

- A lexicon per language plus an emoji lexicon, with negation (the next three words after
  ``not/ne/pas/sans``, ``لا/ما/لم/ليس/مش``, ``machi``… have their polarity flipped and damped),
  a "but" rule (what follows ``but/mais/لكن/walakin`` counts more), a concession rule (a
  ``despite/malgré/رغم`` clause counts less) and figures that moved read by what they are
  worth to the company (``ereputation.trend``).  French, Arabic and
  arabizi lexicons are hand-written (``data/sentiment/lexicon_*.txt``); English reads the
  VADER lexicon that ships with the ``vaderSentiment`` package (MIT) by the same rules, plus
  our hand-written business-news words (``lexicon_en.txt``); the English model also gets
  VADER's own scores (on the first 300 characters).
- For ``en``, ``fr`` and ``ar``, a linear model over word and character n-grams plus those
  lexicon scores (a multinomial logistic regression blended with an NBSVM-style one, folded
  into one weight per feature and class), trained by ``bench/train_sentiment.py`` on the
  permissively licensed rows of ``shared/train/sentiment`` and our own written examples only,
  exported as plain weights (``data/sentiment/model_*.json.gz``).  Inference is pure Python:
  scikit-learn is a training tool, not a runtime dependency.
- ``arabizi`` has no licensed training data: its lexicon (which lists the English and French
  words Moroccan comments mix in) and the emoji lexicon, with a small neutral band.

``score`` is P(positive) − P(negative) for the models, the squashed lexicon sum otherwise.
A text in no language the scorer reads gives ``None`` (stored as unscored), never a fake
neutral.

Speed (sentiment runs on the polling hot path): a word's n-gram features only depend on the
word, so their weighted sums are cached per word, and the n-gram vector is normalised by the
square root of the summed squared weights of its feature *occurrences* — a norm that adds up
word by word, so a text costs a few dictionary look-ups per word.  Training uses exactly the
same arithmetic (``features`` + ``bench/train_sentiment.py``'s ``vectorise``).
"""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ereputation.language import ARABIC_PREFIXES, detect_language, without_clitics
from ereputation.match import fold_text
from ereputation.trend import movements

__all__ = [
    "LANGUAGES",
    "Sentiment",
    "features",
    "lexicon_scores",
    "build_model",
    "model_probabilities",
    "score_sentiment",
]

LANGUAGES = ("en", "fr", "ar", "arabizi")
CLASSES = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Sentiment:
    score: float  # -1 … 1
    label: str  # positive | negative | neutral


_EMOJI = "\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55\u2190-\u21ff\u2300-\u23ff\u2764\u2665"
_TOKEN = re.compile(
    rf"<3|[:;]'?-?[()dp](?!\w)|\w+'?|[{_EMOJI}]|[!?]",
)
# The same tokens, and the punctuation that ends a clause (after the emoticons, which win); a
# comma or a point between two digits is part of a number ("4,2 millions", "9.3%").
_CLAUSE_TOKEN = re.compile(_TOKEN.pattern + r"|[;:؛]|(?<!\d)[,.،]|[,.،](?!\d)")
_SQUEEZE = re.compile(r"(\w)\1{2,}")
_DOUBLE = re.compile(r"(\w)\1+")
_AR_PREFIX_LETTERS = frozenset(p[0] for p in ARABIC_PREFIXES)
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_CHAR_NGRAMS = (3, 4, 5)
_CACHE_LIMIT = 50_000  # words per cache (~14 MB at most for a model's): a daemon runs for months

_NEGATORS = {
    "en": frozenset("not no never n't nor without cannot nothing nobody none neither".split()),
    "fr": frozenset("ne n' pas jamais rien aucun aucune sans ni guere".split()),
    "ar": frozenset("لا ما لم لن ليس ليست لست مش مو ماشي بدون مكاينش ماكاينش".split()),
    "arabizi": frozenset("machi mashi maxi mach mashy machy mchi walo".split()),
}
# Words that end what follows, read as negators by the lexicon ("la fin de la grève", "an end
# to the strike": the news is over), not by the model's "n:" features.  Judged on the mean CV
# over 5 fold splits (``--fold-seeds``, docs/sentiment.md): English "end" +.0006, kept; not
# "ended" nor "ends", which also say where a figure closed ("shares ended lower" was read as
# good news), nor "ending" alone (-.0003); "cancelled", "overturned", "scrapped", "waived"
# -.0002, not kept; Arabic انتهاء, نهاية, إنهاء -.0005 on SemEval, not kept.
_REVERSALS = {"fr": frozenset(["fin"]), "en": frozenset(["end"])}
# Emoji that mark praise as irony in a customer's post ("vraiment au top 🙃", "Great job, 3
# bars of signal 🙄"): with one of them, the praise words of the text count against it.
# French and English only: the Arabic CV lost .0004 with it (SemEval, 5 splits; French and
# English CV the same to the fourth decimal), and by our rule that is not kept.
_IRONY = frozenset(["🙃", "🙄", "🤡"])
_IRONY_READ = frozenset(["fr", "en"])
# Negation features of the model: the language's negators and the English ones, which French
# and Arabic text quotes or mixes in.
_CONTEXT_NEGATORS = {k: v | _NEGATORS["en"] for k, v in _NEGATORS.items()}
_BUT = frozenset(
    "but however nevertheless nonetheless mais cependant pourtant toutefois لكن ولكن لاكن walakin"
    " walakine".split()
)
# A concession ("despite rising costs", "malgré la flambée", "رغم ارتفاع التكاليف") is what the
# sentence says in spite of: its clause counts half, up to the next comma or sentence end.
_CONCESSION = frozenset(
    "despite spite notwithstanding malgre quoique رغم ورغم فرغم بالرغم وبالرغم برغم".split()
)
# Markers of two words: the clause starts after the second ("bien qu'il", "même si").  English
# "although", "though", "even though" and "even if" were measured too: CV .6124 -> .6120, so
# English reads them as before (docs/sentiment.md).
_CONCESSION_PAIRS = frozenset({("bien", "que"), ("bien", "qu'"), ("meme", "si"), ("meme", "s'")})
_CONCESSION_FIRSTS = frozenset(first for first, _ in _CONCESSION_PAIRS)
_CLAUSE_END = frozenset(",;:.،؛")
# French "came to an end" after what ended: « la grève qui paralysait le site a pris fin ».
# The bad news before it in its clause is over (``_end_before``); « fin » before what it
# ends is a reversal (``_REVERSALS``).
_ENDED_AFTER = frozenset({("pris", "fin"), ("prend", "fin"), ("prennent", "fin"),
                          ("prendra", "fin"), ("prendre", "fin")})  # fmt: skip
_VADER_SCALE = 0.75
_VADER_MAX = 300  # characters  # VADER's valences are -4..4, ours -3..3


def _negator(token: str, negators: frozenset[str]) -> bool:
    # The tokeniser cuts "don't" into "don'" + "t": an English word ending in n' negates.
    return token in negators or token.endswith("n'") and len(token) > 2


def _whole(phrase: str, key: tuple[str, ...]) -> bool:
    """Whether our tokens (``key``) keep all of a VADER entry (hyphens aside).

    VADER splits text on spaces, so its emoticons ``:s``, ``d:``, ``:3`` or ``(?:`` only
    match as themselves.  Our tokeniser drops their punctuation: read as tokens they became
    ``s`` (−0.8 on every English possessive), ``d``, ``3``, ``?``, ``o``.
    """
    tokens = "".join(key)
    folded = phrase.translate(_FOLD)
    if tokens == "".join(folded.split()):
        return True
    words = phrase.split("-")  # "cover-up", "self-confident"; not "0-8" nor "8-d"
    return all(w.isalpha() for w in words) and tokens == "".join(folded.replace("-", " ").split())


def _read_lexicon(text: str, scale: float = 1.0) -> dict[tuple[str, ...], float]:
    lexicon: dict[tuple[str, ...], float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        vader = "\t" in line
        if vader:  # VADER's format: word, mean, standard deviation, raw ratings
            phrase, value = line.split("\t")[:2]
        else:
            phrase, _, value = line.rpartition(" ")
        key = tuple(_tokens(phrase.strip()))
        if key and (not vader or _whole(phrase, key)):
            lexicon[key] = float(value) * scale
    return lexicon


def _data(name: str) -> str:
    return resources.files("ereputation").joinpath(f"data/sentiment/{name}").read_text("utf-8")


@dataclass(frozen=True)
class _Lexicon:
    words: dict[str, float]  # one-token entries
    phrases: dict[str, tuple[tuple[tuple[str, ...], float], ...]]  # first token -> longest first
    negators: frozenset[str]
    arabic: bool  # clitics, ما…ش and elongation are looked through
    french: bool  # plural and feminine forms are looked up as the masculine singular
    values: dict[str, tuple[float, bool]] = field(default_factory=dict)  # token cache


@cache
def _lexicon(language: str) -> _Lexicon:
    lexicon = _read_lexicon(_data("emoji.txt"))
    if language == "en":
        vader = resources.files("vaderSentiment").joinpath("vader_lexicon.txt")
        lexicon.update(_read_lexicon(vader.read_text("utf-8"), _VADER_SCALE))
        # VADER is made for social media; company news needs its own words (layoffs, recall).
        lexicon.update(_read_lexicon(_data("lexicon_en.txt")))
    elif language in ("fr", "ar", "arabizi"):
        lexicon.update(_read_lexicon(_data(f"lexicon_{language}.txt")))
    phrases: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    for key, value in lexicon.items():
        if len(key) > 1:
            phrases.setdefault(key[0], []).append((key, value))
    return _Lexicon(
        words={k[0]: v for k, v in lexicon.items() if len(k) == 1},
        phrases={k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in phrases.items()},
        negators=_NEGATORS.get(language, frozenset()) | _REVERSALS.get(language, frozenset()),
        arabic=language in ("ar", "arabizi"),
        french=language == "fr",
    )


class _FoldTable(dict[int, str]):
    """``str.translate`` table folding one character as ``match.fold_text`` does, on first sight.

    ``fold_text`` folds character by character but also keeps offsets back to the original,
    which the sentiment does not need and which cost more than the rest of the scorer on
    Arabic text with harakat.  The variation selector U+FE0F goes too (❤️ is ❤).
    """

    def __missing__(self, code: int) -> str:
        folded = "" if code == 0xFE0F else fold_text(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = folded
        return folded


_FOLD = _FoldTable()


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.translate(_FOLD))


def _lookup(words: dict[str, float], token: str) -> float | None:
    value = words.get(token)
    if value is not None:
        return value
    squeezed = _SQUEEZE.sub(r"\1", token)
    if squeezed != token:
        value = words.get(squeezed) or words.get(_DOUBLE.sub(r"\1", token))
        if value is not None:
            return value
    if token[0] in _AR_PREFIX_LETTERS and _ARABIC.match(token):
        for stem in without_clitics(token):
            value = words.get(stem)
            if value is not None:
                return value
    return None


# Feminine endings and their masculine (after folding: "compétitive" is "competitive").
_FEMININE = (("ive", "if"), ("euse", "eux"), ("elle", "el"), ("enne", "en"), ("ette", "et"),
             ("ere", "er"), ("e", ""))  # fmt: skip


def _french_base(words: dict[str, float], token: str) -> float | None:
    """The value of a French adjective or noun listed in another form: "fiables", "distinguées",
    "compétitives", "sociaux" are found as "fiable", "distingué", "compétitif", "social"."""
    if len(token) < 5:
        return None
    singular = None
    if token.endswith("aux"):
        singular = token[:-3] + "al"
    elif token[-1] in "sx":
        singular = token[:-1]
    if singular is not None and (value := words.get(singular)) is not None:
        return value
    for form in (singular, token):  # each read as a feminine (the token itself: by _lookup)
        if form is None:
            continue
        for ending, masculine in _FEMININE:
            if form.endswith(ending) and len(form) - len(ending) >= 3:
                value = words.get(form[: -len(ending)] + masculine)
                if value is not None:
                    return value
                break
    return None


# A verb's person marks, which the lexicon leaves out (it lists the past tense's third person):
# نجحت, نجحوا → نجح; تدشن, يحقق → دشن, حقق.  Suffixes first, then a present tense's prefix.
_AR_SUFFIXES = ("وا", "ون", "ين", "ت")
_AR_PRESENT = ("ي", "ت")


def _arabic_inflected(words: dict[str, float], token: str) -> float | None:
    """The value of an Arabic verb the lexicon lists in its dictionary form (clitics aside).

    Nouns that look like a conjugated verb are left alone: a verbal noun تفعيل is not its
    adjective فعيل (تأمين insurance is not أمين trustworthy, ترخيص licence not رخيص cheap,
    تحكيم arbitration not حكيم wise), and نموت (we die) is not نمو (growth).
    """
    for stem in (token, *without_clitics(token, keep=3)):
        ends = [stem[: -len(end)] for end in _AR_SUFFIXES if stem.endswith(end)]
        ends = [base for base in ends if len(base) > 2]
        for base in (stem, *ends):
            if base is not stem and base[-1] != "و" and (value := words.get(base)) is not None:
                return value
            present = base[1:]
            if (
                base[0] in _AR_PRESENT
                and len(base) >= 4
                and not (len(present) >= 4 and present[2] == "ي")
            ):
                if value := words.get(present):
                    return value
    return None


_DARIJA_NEGATION = re.compile(r"^(?:ما|م)?(.{2,}?)(?:ش|شي)$")
_ARABIZI_NEGATION = re.compile(r"^(?:ma|m)?(.{3,}?)(?:ch|sh|x)$")


def _darija_negated(words: dict[str, float], token: str) -> float | None:
    """The value of the word inside a Darija negation (ما عجبنيش → عجبني, mazwinch → zwin).

    Darija wraps a negated word in ما…ش, often written as one token; the caller flips it.
    """
    pattern = _DARIJA_NEGATION if _ARABIC.match(token) else _ARABIZI_NEGATION
    found = pattern.match(token)
    if found is None or found.group(1) == token:
        return None
    return _lookup(words, found.group(1))


def _token_value(lexicon: _Lexicon, token: str) -> tuple[float, bool]:
    """(polarity, wrapped in a Darija negation) of one token, cached per lexicon."""
    found = lexicon.values.get(token)
    if found is not None:
        return found
    value = _lookup(lexicon.words, token)
    if value is None and lexicon.french:
        value = _french_base(lexicon.words, token)
    negated = False
    if value is None and lexicon.arabic:
        value = _darija_negated(lexicon.words, token)
        negated = value is not None
        if value is None and _ARABIC.match(token):
            value = _arabic_inflected(lexicon.words, token)
    found = (value or 0.0, negated)
    if len(lexicon.values) < _CACHE_LIMIT:
        lexicon.values[token] = found
    return found


def _clause_ends(text: str) -> list[int]:
    """Token indexes (as ``_tokens`` counts them) before which a comma, a colon or a full stop
    ends a clause."""
    ends: list[int] = []
    count = 0
    for token in _CLAUSE_TOKEN.findall(text.translate(_FOLD)):
        if token in _CLAUSE_END:
            ends.append(count)
        else:
            count += 1
    return ends


def _concede(values: list[float], tokens: list[str], text: str) -> None:
    """Halve, in place, the values of each concession's clause (see ``_CONCESSION``).

    The clause ends are read only once a marker is found: ``bien`` alone (well) is common.
    """
    ends: list[int] | None = None
    for i, token in enumerate(tokens):
        paired = i > 0 and (tokens[i - 1], token) in _CONCESSION_PAIRS
        if paired:
            values[i - 1] = 0.0  # the "bien" of "bien que" is not praise
        if paired or token in _CONCESSION:
            if ends is None:
                ends = _clause_ends(text)
            end = next((e for e in ends if e > i), len(values))
            for j in range(i + 1, end):
                values[j] *= 0.5


def _end_before(values: list[float], tokens: list[str], text: str) -> None:
    """Turn, in place, the bad news of the clause before each ``_ENDED_AFTER`` into good."""
    ends: list[int] | None = None
    for i in range(1, len(tokens)):
        if (tokens[i - 1], tokens[i]) in _ENDED_AFTER:
            if ends is None:
                ends = _clause_ends(text)
            start = max((e for e in ends if e < i - 1), default=0)
            for j in range(start, i - 1):
                if values[j] < 0:
                    values[j] *= -0.75


def _lexicon_values(tokens: list[str], language: str, text: str) -> tuple[float, float, float]:
    """(positive sum, negative sum, sum of the figures' movements, which the sums include)."""
    values, moved = _token_values(tokens, language, text)
    positive = sum(v for v in values if v > 0)
    negative = -sum(v for v in values if v < 0)
    return positive, negative, sum(values[at] for at, _, _ in moved)


def _token_values(
    tokens: list[str], language: str, text: str
) -> tuple[list[float], list[tuple[int, range, float]]]:
    """Each token's value (negation, "but" and concessions applied), and the figures that
    moved (``trend.movements``), whose movement word carries their value."""
    lexicon = _lexicon(language)
    negators = lexicon.negators
    values: list[float] = []
    negate_until = -1
    i = 0
    count = len(tokens)
    # Figures that moved ("complaints fell") are read as a whole before single words: the
    # movement word carries the value, the figure's words count 0.
    found = movements(tokens, language, _tokens, lambda: _clause_ends(text))
    moved: dict[int, float] = {}
    for at, figure, move in found:
        moved[at] = move
        moved.update(dict.fromkeys(figure, 0.0))
    while i < count:
        token = tokens[i]
        span = 1
        value = moved.get(i) if moved else None
        if value is not None:
            if value and i <= negate_until:
                value *= -0.75
            values.append(value)
            i += 1
            continue
        # Phrases first: some start with a negator (ما كاين والو, لا حول ولا قوة الا بالله).
        for phrase, phrase_value in lexicon.phrases.get(token, ()):
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                value, span = phrase_value, len(phrase)
                break
        if value is None:
            if _negator(token, negators):
                negate_until = i + 3
                values.append(0.0)
                i += 1
                continue
            value, negated = _token_value(lexicon, token)
            if value and (negated or i <= negate_until):
                value *= -0.75
        values.append(value)
        values.extend([0.0] * (span - 1))
        i += span
    if language == "fr" and "fin" in tokens:
        _end_before(values, tokens, text)
    if language in _IRONY_READ and not _IRONY.isdisjoint(tokens):
        values = [-v if v > 0 else v for v in values]
    if not (_CONCESSION.isdisjoint(tokens) and _CONCESSION_FIRSTS.isdisjoint(tokens)):
        _concede(values, tokens, text)
    buts = [i for i, t in enumerate(tokens) if t in _BUT]
    if buts:
        cut = buts[-1]
        values = [v * 0.5 for v in values[:cut]] + [v * 1.5 for v in values[cut:]]
    return values, found


def figures_moved(text: str, language: str | None) -> list[dict[str, Any]]:
    """The figures that moved in ``text`` and what each counted for in its sentiment, for
    ``ereputation analyze``: ``{"figure", "movement", "value"}`` in folded words ("plaintes",
    "diminue", 2.0), the value after negation, "but" and concessions."""
    if language not in ("en", "fr", "ar"):
        return []
    tokens = _tokens(text)
    values, pairs = _token_values(tokens, language, text)
    return [
        {"figure": " ".join(tokens[j] for j in figure), "movement": tokens[at],
         "value": round(values[at], 2)}
        for at, figure, _ in pairs
    ]  # fmt: skip


def lexicon_scores(text: str, language: str) -> tuple[float, float, int]:
    """(positive sum, negative sum, tokens) of the language's lexicon over ``text``.

    Negation flips and damps the polarity of the next three words; words after a "but"
    weigh 1.5x and words before it 0.5x, and a concession's clause 0.5x.  Phrases (``à
    éviter``, ``الله يوفقك``) count once, and so does a figure that moved with its movement
    word (``ereputation.trend``: "complaints fell" is good news).
    """
    tokens = _tokens(text)
    positive, negative, _ = _lexicon_values(tokens, language, text)
    return positive, negative, len(tokens)


@cache
def _vader():  # type: ignore[no-untyped-def]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _squash(total: float) -> float:
    return total / math.sqrt(total * total + 15.0)


_WORDS: dict[str, str] = {}


def _word(token: str) -> str:
    """The form a token takes in the n-gram features (cached: the same words come back)."""
    word = _WORDS.get(token)
    if word is not None:
        return word
    if _ARABIC.match(token):
        # Three or more of one Arabic letter in a row is emphasis (خاااايب): squeeze it.
        word = squeezed = _SQUEEZE.sub(r"\1", token)
        stems = without_clitics(squeezed, keep=3) if squeezed[0] in _AR_PREFIX_LETTERS else []
        if stems:
            word = stems[0]
    else:
        word = _SQUEEZE.sub(r"\1\1", token)
    if len(_WORDS) < _CACHE_LIMIT:
        _WORDS[token] = word
    return word


def word_features(word: str) -> list[str]:
    """The features one word brings wherever it occurs: itself and its character n-grams."""
    padded = f"<{word}>"
    out = ["w:" + word]
    for n in _CHAR_NGRAMS:
        out += ["c:" + padded[j : j + n] for j in range(len(padded) - n + 1)]
    return out


@cache
def _places() -> tuple[frozenset[str], dict[str, tuple[tuple[str, ...], ...]], frozenset[str]]:
    """(one-word places, first word -> longer places, longest first, every place's first
    word), in feature form."""
    singles: set[str] = set()
    phrases: dict[str, list[tuple[str, ...]]] = {}
    for line in _data("places.txt").splitlines():
        if line.strip() and not line.startswith("#"):
            key = tuple(_word(t) for t in _tokens(line.strip()))
            if len(key) == 1:
                singles.add(key[0])
            elif key:
                phrases.setdefault(key[0], []).append(key)
    longer = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in phrases.items()}
    return frozenset(singles), longer, frozenset(singles | longer.keys())


def _place_words(words: list[str]) -> set[int]:
    """Indexes of the words that name a place (``data/sentiment/places.txt``)."""
    singles, phrases, first = _places()
    if first.isdisjoint(words):
        return set()
    found: set[int] = set()
    for i, word in enumerate(words):
        for phrase in phrases.get(word, ()):
            if tuple(words[i : i + len(phrase)]) == phrase:
                found.update(range(i, i + len(phrase)))
                break
        else:
            if word in singles:
                found.add(i)
    return found


def _analyse(text: str, language: str) -> tuple[list[str], list[str], list[float]]:
    """(words, context features — bigrams and negated words —, dense lexicon scores).

    Place names are left out of the words and of the features around them: a place says
    nothing about a brand, and its words carry weights learned from other texts.
    """
    tokens = _tokens(text)
    negators = _CONTEXT_NEGATORS[language]
    known = _WORDS.get
    words = [known(t) or _word(t) for t in tokens]
    places = _place_words(words)
    if places:
        context = ["b:" + words[i] + " " + words[i + 1] for i in range(len(words) - 1)
                   if i not in places and i + 1 not in places]  # fmt: skip
    else:
        context = ["b:" + a + " " + b for a, b in zip(words, words[1:], strict=False)]
    negate_until = -1
    for i, token in enumerate(tokens):
        if token in negators or token[-2:] == "n'" and len(token) > 2:
            negate_until = i + 3
        elif i <= negate_until and i not in places:
            context.append("n:" + words[i])
    if places:
        words = [w for i, w in enumerate(words) if i not in places]
    positive, negative, moved = _lexicon_values(tokens, language, text)
    dense = [
        _squash(positive - negative),
        math.log1p(positive),
        math.log1p(negative),
        1.0 if "!" in text else 0.0,
        1.0 if "?" in text else 0.0,
        # Its own weight as well: in English the n-grams and VADER outweigh the lexicon sums,
        # and they read "complaints fell" by its words.
        _squash(moved),
    ]
    if language == "en":
        # VADER's own reading (boosters, capitals, idioms) is worth +.01 macro-F1 in cross-
        # validation over reading its lexicon with our rules alone.  Its negation check is
        # quadratic in the number of words: keep its input to the length of a mention context.
        vader = _vader().polarity_scores(text[:_VADER_MAX])
        dense += [vader["compound"], vader["pos"], vader["neg"]]
    return words, context, dense


def features(text: str, language: str) -> tuple[Counter[str], list[float]]:
    """The model's inputs: sparse feature counts and dense lexicon scores.

    Shared by ``bench/train_sentiment.py`` and (through ``_analyse``) by inference, so both
    see the same features.  A feature's value in the model is count × idf, divided by the
    square root of Σ count × idf² over the text's known features.
    """
    words, context, dense = _analyse(text, language)
    sparse: Counter[str] = Counter(context)
    for word in words:
        sparse.update(word_features(word))
    return sparse, dense


Sums = tuple[float, float, float, float]  # (Σ idf², Σ idf·w_neg, Σ idf·w_neu, Σ idf·w_pos)


@dataclass(frozen=True)
class _Model:
    """An exported model, laid out for memory: see ``build_model``."""

    terms: dict[int, int]  # hash of a word, bigram or negation feature ("w:", "b:", "n:") -> offset
    grams: dict[int, int]  # hash of a character n-gram (no "c:" prefix) -> offset
    sums: array[float]  # at each offset, the feature's four ``Sums`` (see ``build_model``)
    dense: tuple[tuple[float, float, float], ...]
    intercept: tuple[float, float, float]
    bias: tuple[float, float, float]  # added to the log-odds at decision time (calibration)
    words: dict[str, Sums] = field(default_factory=dict)  # word -> sums over word_features


_OFFSETS: list[int] = []  # 0, 4, 8…: one int object per offset, shared by every model
_OFFSETS_LOCK = threading.Lock()


def _offsets(count: int) -> list[int]:
    with _OFFSETS_LOCK:
        if len(_OFFSETS) < count:
            _OFFSETS.extend(range(4 * len(_OFFSETS), 4 * count, 4))
        return _OFFSETS[:count]


def build_model(data: dict[str, Any]) -> _Model:
    """The model of an exported file's JSON, with each feature's products precomputed.

    The file holds the feature names (``features``) and, in columns of the same order, each
    feature's ``idf`` and one weight per class (``neg``, ``neu``, ``pos``): flat lists parse
    three times faster than an object of 40,000 small lists, and loading the models is paid
    at every start of a feed reader.  A feature occurrence adds idf² to the squared norm and
    idf·weight to each class, so those are what is kept: four unboxed doubles per feature in
    one array, found through the feature's offset.

    Memory decides the rest: the three models hold 110,000 features, and a feed reader
    lives one cycle.  A feature is found by the ``hash`` of its name, not the name (an int
    of 32 bytes, not a string of 50 to 90): two of our 110,000 names, or a looked-up string
    and a name, share a 64-bit hash with odds of ~1e-15 per lookup.  String hashes differ
    from process to process, so a model is built where it is used (``_model``), never sent.
    The offsets are the same int objects in every model.  The three models took 27 MB (44 MB
    as tuples of four floats per name); they take 21 MB (docs/benchmarks.md, fourteenth
    round).
    """
    names: list[str] = data["features"]
    columns = zip(data["idf"], data["neg"], data["neu"], data["pos"], strict=True)
    sums = array("d", (v for i, a, b, c in columns for v in (i * i, i * a, i * b, i * c)))
    terms: dict[int, int] = {}
    grams: dict[int, int] = {}
    for offset, name in zip(_offsets(len(names)), names, strict=True):
        if name.startswith("c:"):
            grams[hash(name[2:])] = offset
        else:
            terms[hash(name)] = offset
    if len(terms) + len(grams) != len(names):
        raise ValueError(
            f"the {data.get('language', '?')} sentiment model repeats a feature name (or two "
            "share a hash): rebuild it with bench/train_sentiment.py"
        )
    return _Model(
        terms=terms,
        grams=grams,
        sums=sums,
        dense=tuple(tuple(row) for row in data["dense"]),  # type: ignore[misc]
        intercept=tuple(data["intercept"]),  # type: ignore[arg-type]
        bias=tuple(data.get("bias", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
    )


def weight_columns(weights: dict[str, list[float]]) -> dict[str, list[Any]]:
    """A model file's ``features``, ``idf``, ``neg``, ``neu`` and ``pos`` from each feature's
    ``[idf, neg, neu, pos]`` (what training computes)."""
    idf, neg, neu, pos = (list(column) for column in zip(*weights.values(), strict=True))
    return {"features": list(weights), "idf": idf, "neg": neg, "neu": neu, "pos": pos}


@cache
def _model(language: str) -> _Model | None:
    path = resources.files("ereputation").joinpath(f"data/sentiment/model_{language}.json.gz")
    if not path.is_file():
        return None
    return build_model(json.loads(gzip.decompress(path.read_bytes())))


def _word_sums(model: _Model, word: str) -> Sums:
    """Σ over ``word_features(word)``, without building the feature names."""
    sums = model.sums
    at = model.terms.get(hash("w:" + word))
    if at is None:
        sq = a = b = c = 0.0
    else:
        sq, a, b, c = sums[at], sums[at + 1], sums[at + 2], sums[at + 3]
    grams = model.grams
    padded = f"<{word}>"
    for n in _CHAR_NGRAMS:
        for j in range(len(padded) - n + 1):
            at = grams.get(hash(padded[j : j + n]))
            if at is not None:
                sq += sums[at]
                a += sums[at + 1]
                b += sums[at + 2]
                c += sums[at + 3]
    return sq, a, b, c


def model_probabilities(model: _Model, text: str, language: str) -> tuple[float, float, float]:
    """P(negative), P(neutral), P(positive) from an exported model (pure Python inference)."""
    words, context, dense = _analyse(text, language)
    sq = a = b = c = 0.0
    terms, table = model.terms, model.sums
    for name in context:
        at = terms.get(hash(name))
        if at is not None:
            sq += table[at]
            a += table[at + 1]
            b += table[at + 2]
            c += table[at + 3]
    cached = model.words
    for word in words:
        sums = cached.get(word)
        if sums is None:
            sums = _word_sums(model, word)
            if len(cached) < _CACHE_LIMIT:
                cached[word] = sums
        sq += sums[0]
        a += sums[1]
        b += sums[2]
        c += sums[3]
    norm = math.sqrt(sq) or 1.0
    logits = [model.intercept[0] + a / norm, model.intercept[1] + b / norm,
              model.intercept[2] + c / norm]  # fmt: skip
    for value, row in zip(dense, model.dense, strict=True):
        if value:
            logits[0] += value * row[0]
            logits[1] += value * row[1]
            logits[2] += value * row[2]
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return exps[0] / total, exps[1] / total, exps[2] / total


def _label(score: float, neutral_band: float) -> str:
    if score > neutral_band:
        return "positive"
    if score < -neutral_band:
        return "negative"
    return "neutral"


def score_sentiment(text: str, language: str | None) -> Sentiment | None:
    """Sentiment of ``text`` read as ``language`` (detected when None).

    Returns None when the text is empty or in a language the scorer does not read.
    """
    if not text or not text.strip():
        return None
    if language is None:
        language = detect_language(text)
    if language not in LANGUAGES:
        return None
    model = _model(language)
    if model is not None:
        probs = model_probabilities(model, text, language)
        adjusted = [math.log(max(p, 1e-12)) + b for p, b in zip(probs, model.bias, strict=True)]
        label = CLASSES[adjusted.index(max(adjusted))]
        return Sentiment(round(probs[2] - probs[0], 4), label)
    positive, negative, _ = lexicon_scores(text, language)
    score = _squash(positive - negative)
    return Sentiment(round(score, 4), _label(score, 0.05))
