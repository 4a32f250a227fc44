"""Sentiment of a mention, per language, in −1…1 with a label (positive | negative | neutral).

Give it the mention's own context (``match.mention_context``), not the whole page: an article
that praises one brand and blames another has no single sentiment.

How each language is read (provenance of every file: docs/sentiment.md):

- A hand-written lexicon per language (``data/sentiment/lexicon_*.txt``) plus an emoji
  lexicon, with negation (the next three words after ``ne/pas/sans``, ``لا/ما/لم/ليس/مش``,
  ``machi``… have their polarity flipped and damped) and a "but" rule (what follows
  ``mais/but/لكن/walakin`` counts more).  English also gets VADER's scores.
- For ``en``, ``fr`` and ``ar``, a multinomial logistic regression over word and character
  n-grams plus those lexicon scores, trained by ``bench/train_sentiment.py`` on the
  permissively licensed rows of ``shared/train/sentiment`` only, exported as plain weights
  (``data/sentiment/model_*.json.gz``).  Inference is pure Python: scikit-learn is a training
  tool, not a runtime dependency.
- ``arabizi`` has no licensed training data: its lexicon (which lists the English and French
  words Moroccan comments mix in) and the emoji lexicon, with a small neutral band.

``score`` is P(positive) − P(negative) for the models, the squashed lexicon sum otherwise.
A text in no language the scorer reads gives ``None`` (stored as unscored), never a fake
neutral.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ereputation.language import detect_language
from ereputation.match import fold_text

__all__ = ["LANGUAGES", "Sentiment", "features", "lexicon_scores", "score_sentiment"]

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
_VADER_MAX = 1000  # characters
_SQUEEZE = re.compile(r"(\w)\1{2,}")
_DOUBLE = re.compile(r"(\w)\1+")
_AR_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_ARABIC = re.compile(r"[\u0600-\u06ff]")

_NEGATORS = {
    "en": frozenset(),  # VADER handles English negation
    "fr": frozenset("ne n' pas jamais rien aucun aucune sans ni guere".split()),
    "ar": frozenset("لا ما لم لن ليس ليست لست مش مو ماشي بدون مكاينش ماكاينش".split()),
    "arabizi": frozenset("machi mashi maxi mach mashy machy mchi walo".split()),
}
_BUT = frozenset("but mais cependant pourtant toutefois لكن ولكن لاكن walakin walakine".split())


def _read_lexicon(name: str) -> dict[tuple[str, ...], float]:
    text = resources.files("ereputation").joinpath(f"data/sentiment/{name}").read_text("utf-8")
    lexicon: dict[tuple[str, ...], float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        phrase, _, value = line.rpartition(" ")
        key = tuple(_tokens(phrase.strip()))
        if key:
            lexicon[key] = float(value)
    return lexicon


@cache
def _lexicon(language: str) -> dict[tuple[str, ...], float]:
    lexicon = _read_lexicon("emoji.txt")
    if language in ("fr", "ar", "arabizi"):
        lexicon.update(_read_lexicon(f"lexicon_{language}.txt"))
    return lexicon


@cache
def _longest_phrase(language: str) -> int:
    return max(len(k) for k in _lexicon(language))


def _tokens(text: str) -> list[str]:
    folded = fold_text(text).replace("\ufe0f", "")
    return _TOKEN.findall(folded)


def _lookup(lexicon: dict[tuple[str, ...], float], token: str) -> float | None:
    value = lexicon.get((token,))
    if value is not None:
        return value
    squeezed = _SQUEEZE.sub(r"\1", token)
    if squeezed != token:
        value = lexicon.get((squeezed,)) or lexicon.get((_DOUBLE.sub(r"\1", token),))
        if value is not None:
            return value
    if _ARABIC.match(token):
        for prefix in _AR_PREFIXES:
            if token.startswith(prefix) and len(token) - len(prefix) >= 2:
                value = lexicon.get((token[len(prefix) :],))
                if value is not None:
                    return value
    return None


_DARIJA_NEGATION = re.compile(r"^(?:ما|م)?(.{2,}?)(?:ش|شي)$")
_ARABIZI_NEGATION = re.compile(r"^(?:ma|m)?(.{3,}?)(?:ch|sh|x)$")


def _darija_negated(lexicon: dict[tuple[str, ...], float], token: str) -> float | None:
    """The value of the word inside a Darija negation (ما عجبنيش → عجبني, mazwinch → zwin).

    Darija wraps a negated word in ما…ش, often written as one token; the caller flips it.
    """
    pattern = _DARIJA_NEGATION if _ARABIC.match(token) else _ARABIZI_NEGATION
    found = pattern.match(token)
    if found is None or found.group(1) == token:
        return None
    return _lookup(lexicon, found.group(1))


def lexicon_scores(text: str, language: str) -> tuple[float, float, int]:
    """(positive sum, negative sum, tokens) of the language's lexicon over ``text``.

    Negation flips and damps the polarity of the next three words; words after a "but"
    weigh 1.5x and words before it 0.5x.  Phrases (``à éviter``, ``الله يوفقك``) count once.
    """
    lexicon = _lexicon(language)
    negators = _NEGATORS.get(language, frozenset())
    tokens = _tokens(text)
    longest = _longest_phrase(language)
    values: list[float] = []
    negate_until = -1
    i = 0
    while i < len(tokens):
        token = tokens[i]
        value = None
        span = 1
        # Phrases first: some start with a negator (ما كاين والو, لا حول ولا قوة الا بالله).
        for n in range(min(longest, len(tokens) - i), 1, -1):
            phrase_value = lexicon.get(tuple(tokens[i : i + n]))
            if phrase_value is not None:
                value, span = phrase_value, n
                break
        if value is None and token in negators:
            negate_until = i + 3
            values.append(0.0)
            i += 1
            continue
        negated = False
        if value is None:
            value = _lookup(lexicon, token)
        if value is None and language in ("ar", "arabizi"):
            value = _darija_negated(lexicon, token)
            negated = value is not None
        value = value or 0.0
        if value and (negated or i <= negate_until):
            value *= -0.75
        values.append(value)
        values.extend([0.0] * (span - 1))
        i += span
    buts = [i for i, t in enumerate(tokens) if t in _BUT]
    if buts:
        cut = buts[-1]
        values = [v * 0.5 for v in values[:cut]] + [v * 1.5 for v in values[cut:]]
    positive = sum(v for v in values if v > 0)
    negative = -sum(v for v in values if v < 0)
    return positive, negative, len(tokens)


def _squash(total: float) -> float:
    return total / math.sqrt(total * total + 15.0)


@cache
def _vader():  # type: ignore[no-untyped-def]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def features(text: str, language: str) -> tuple[Counter[str], list[float]]:
    """The model's inputs: sparse n-gram counts and dense lexicon scores.

    Shared by inference and by ``bench/train_sentiment.py`` so both see the same features.
    """
    tokens = _tokens(text)
    negators = _NEGATORS.get(language, frozenset()) | {"not", "no", "never", "n't"}
    words: list[str] = []
    for token in tokens:
        word = token
        if _ARABIC.match(token):
            # Three or more of one Arabic letter in a row is emphasis (خاااايب): squeeze it.
            token = word = _SQUEEZE.sub(r"\1", token)
            for prefix in _AR_PREFIXES:
                if token.startswith(prefix) and len(token) - len(prefix) >= 3:
                    word = token[len(prefix) :]
                    break
        else:
            word = _SQUEEZE.sub(r"\1\1", token)
        words.append(word)
    sparse: Counter[str] = Counter()
    for i, word in enumerate(words):
        sparse["w:" + word] += 1
        if i + 1 < len(words):
            sparse["b:" + word + " " + words[i + 1]] += 1
        padded = f"<{word}>"
        for n in (3, 4, 5):
            for j in range(len(padded) - n + 1):
                sparse["c:" + padded[j : j + n]] += 1
    negate_until = -1
    for i, token in enumerate(tokens):
        if token in negators or token.endswith("n't"):
            negate_until = i + 3
        elif i <= negate_until:
            sparse["n:" + words[i]] += 1
    positive, negative, count = lexicon_scores(text, language)
    dense = [
        _squash(positive - negative),
        math.log1p(positive),
        math.log1p(negative),
        1.0 if "!" in text else 0.0,
        1.0 if "?" in text else 0.0,
    ]
    if language == "en":
        # VADER's negation check is quadratic in the number of words: keep its input short.
        vader = _vader().polarity_scores(text[:_VADER_MAX])
        dense += [vader["compound"], vader["pos"], vader["neg"]]
    return sparse, dense


@dataclass(frozen=True)
class _Model:
    weights: dict[str, tuple[float, float, float, float]]  # feature -> (idf, w_neg, w_neu, w_pos)
    dense: tuple[tuple[float, float, float], ...]
    intercept: tuple[float, float, float]
    bias: tuple[float, float, float]  # added to the log-odds at decision time (calibration)


@cache
def _model(language: str) -> _Model | None:
    path = resources.files("ereputation").joinpath(f"data/sentiment/model_{language}.json.gz")
    if not path.is_file():
        return None
    data = json.loads(gzip.decompress(path.read_bytes()))
    return _Model(
        weights={k: tuple(v) for k, v in data["weights"].items()},  # type: ignore[misc]
        dense=tuple(tuple(row) for row in data["dense"]),  # type: ignore[misc]
        intercept=tuple(data["intercept"]),  # type: ignore[arg-type]
        bias=tuple(data.get("bias", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
    )


def model_probabilities(model: _Model, text: str, language: str) -> tuple[float, float, float]:
    """P(negative), P(neutral), P(positive) from an exported model (pure Python inference)."""
    sparse, dense = features(text, language)
    known = [(model.weights[f], count) for f, count in sparse.items() if f in model.weights]
    values = [(w, (1.0 + math.log(count)) * w[0]) for w, count in known]
    norm = math.sqrt(sum(v * v for _, v in values)) or 1.0
    logits = list(model.intercept)
    for w, v in values:
        x = v / norm
        logits[0] += x * w[1]
        logits[1] += x * w[2]
        logits[2] += x * w[3]
    for value, row in zip(dense, model.dense, strict=True):
        for c in range(3):
            logits[c] += value * row[c]
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
    if language == "en":
        score = _vader().polarity_scores(text[:_VADER_MAX])["compound"]
    return Sentiment(round(score, 4), _label(score, 0.05))
