"""Find brand mentions in French, English and Arabic text, in a way users can trust.

What never matters when matching (both the configured terms and the text are folded the same
way, character by character, so offsets still point into the original text):

- case (unless the brand sets ``case_sensitive: true``, for names that are also common words
  such as *Orange*), accents (``Télécom`` = ``Telecom``), ligatures (``œ`` = ``oe``,
  ``æ`` = ``ae``, ``ﬁ`` = ``fi``), full-width and presentation forms (NFKD);
- apostrophe styles (``’ ‘ ʼ ′ ` ´`` all read as ``'``), so ``d’Atlas`` = ``d'Atlas``;
- spaces and hyphens between the words of a term (``Coca-Cola`` = ``Coca Cola``);
- Arabic: hamza/madda forms of alef (أ إ آ ٱ → ا), ى → ي, ة → ه, ؤ → و, ئ → ي, Persian
  ی/ک, tatweel and every diacritic (harakat); invisible format characters.

A hit must stand as a whole word in every script (``Orange`` never matches ``orangeade``, and
``اورنج`` never matches inside a longer word), except that Arabic clitics glued in front of an
Arabic term are allowed: و ف, then ب ك ل, then the article ال (``وال``, ``بال``, ``لل``, …),
and an Arabic term that starts with ال also matches without it.

Exclusions (``exclude:``) are checked **near the hit**, in :func:`mention_context` (the
sentence(s) around it), not in the whole text: a long article may speak of the *Atlas
Mountains* in one paragraph and of *Atlas Télécom* in another, and the second is a real
mention.  An exclusion that overlaps the hit (brand *Atlas*, exclusion *Atlas Mountains*)
is near it by definition.

Queries (``query:``) are evaluated over the **whole text**: a brand is mentioned only when one
of its terms matched (after exclusions) *and* its query is true.  Query terms are folded and
matched like brand terms (case-insensitive even for a case-sensitive brand).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ereputation.config import Brand
from ereputation.query import Query, parse_query

__all__ = [
    "BrandMatcher",
    "Hit",
    "fold_text",
    "make_snippet",
    "mention_context",
]

_APOSTROPHES = "’‘ʼ′`´ʹ‛"
_HYPHENS = "-‐‑‒–—_"
_SPECIAL = {
    "œ": "oe",
    "Œ": "OE",
    "æ": "ae",
    "Æ": "AE",
    "ø": "o",
    "Ø": "O",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ß": "ss",
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    "ی": "ي",  # Persian yeh, common in typed Darija
    "ک": "ك",
    "ـ": "",  # tatweel
    **{a: "'" for a in _APOSTROPHES},
    **{h: "-" for h in _HYPHENS},
}
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
# Clitics before an Arabic term: conjunction و/ف, then preposition ب/ك/ل, then the article.
_CLITICS = "(?:[وف](?:لل|[بكل]?ال|[بكل])?|لل|[بكل]?ال|[بكل])"


class _FoldTable(dict[int, str]):
    """``str.translate`` table that folds a character on first sight and remembers it."""

    def __init__(self, casefold: bool) -> None:
        super().__init__()
        self.casefold = casefold
        self.irregular: set[str] = set()  # characters that fold to zero or several characters

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = _fold_char(char, self.casefold)
        self[code] = folded
        if len(folded) != 1:
            self.irregular.add(char)
        return folded


def _fold_char(char: str, casefold: bool) -> str:
    if char in _SPECIAL:
        special = _SPECIAL[char]
        return special.casefold() if casefold else special
    if casefold:
        char = char.casefold()
    out: list[str] = []
    for piece in unicodedata.normalize("NFKD", char):
        if piece in _SPECIAL:
            out.append(_SPECIAL[piece].casefold() if casefold else _SPECIAL[piece])
        elif unicodedata.category(piece) in ("Mn", "Me", "Cf"):
            continue  # accents, harakat, hamza/madda marks, zero-width characters
        else:
            out.append(piece)
    return "".join(out)


_TABLES = {True: _FoldTable(casefold=True), False: _FoldTable(casefold=False)}


@dataclass(frozen=True)
class _Folded:
    """A folded text and, for each of its characters, the index of its origin character."""

    text: str
    origin: tuple[int, ...] | None  # None: one-to-one with the original

    def span(self, start: int, end: int, original: str) -> tuple[int, int]:
        if self.origin is None:
            return start, end
        s = self.origin[start]
        e = self.origin[end - 1] + 1
        # Keep combining marks that follow the last letter (NFD accents, harakat) in the hit.
        while e < len(original) and unicodedata.category(original[e]) in ("Mn", "Me"):
            e += 1
        return s, e


def _fold(text: str, casefold: bool, folded: str | None = None) -> _Folded:
    """``text`` folded, with offsets back to it; ``folded``: ``text.translate`` of the table."""
    table = _TABLES[casefold]
    if folded is None:
        folded = text.translate(table)
    if len(folded) == len(text) and not (set(text) & table.irregular):
        return _Folded(folded, None)
    origin: list[int] = []
    for index, char in enumerate(text):
        origin.extend([index] * len(table[ord(char)]))
    return _Folded(folded, tuple(origin))


def fold_text(text: str, case_sensitive: bool = False) -> str:
    """The text as the matcher sees it (lower-cased unless ``case_sensitive``, accents off…)."""
    return _fold(text, not case_sensitive).text


def _term_pattern(term: str, casefold: bool) -> str:
    """Regex for one configured term over folded text (whole words, clitics, flexible spaces)."""
    folded = _fold(term.strip(), casefold).text
    words = [w for w in re.split(r"[\s\-]+", folded) if w]
    if not words:
        raise ValueError(f"empty brand term {term!r}")
    body = r"[\s\-]+".join(re.escape(w) for w in words)
    if _ARABIC.match(folded):
        if folded.startswith("ال") and len(words[0]) > 3:
            body = f"(?:ال)?{body[2:]}"
        return f"{_CLITICS}?(?P<t>{body})"
    return f"(?P<t>{body})"


def _term_anchor(term: str, casefold: bool) -> str:
    """A literal every hit of ``term`` contains, in the prefilter's view of the text.

    The longest word of the folded term (an optional leading ال left out, as in
    :func:`_term_pattern`), then ``str.casefold``-ed: see :meth:`BrandMatcher._may_match`.
    """
    folded = _fold(term.strip(), casefold).text
    words = [w for w in re.split(r"[\s\-]+", folded) if w]
    if _ARABIC.match(folded) and folded.startswith("ال") and len(words[0]) > 3:
        words[0] = words[0][2:]
    return max(words, key=len).casefold()


def _alternation(literals: set[str]) -> re.Pattern[str]:
    """A regex matching any of ``literals`` (never matching when there are none)."""
    ordered = sorted(literals, key=len, reverse=True)
    return re.compile("|".join(re.escape(a) for a in ordered) or "(?!)")


# Characters whose two folds differ once casefolded (Greek iota subscripts; see
# tests/test_match.py, which checks every code point): with one of them in the text, the
# prefilter cannot speak for case-sensitive brands.
_FOLDS_DIFFER = re.compile("[\u0345\u1f80-\u1fff]")


def _compile(patterns: list[str]) -> re.Pattern[str]:
    """One regex for several terms; term ``i`` is group ``t{i}`` (clitics stay outside it)."""
    groups = "|".join(p.replace("(?P<t>", f"(?P<t{i}>") for i, p in enumerate(patterns))
    return re.compile(rf"(?<!\w)(?:{groups})(?!\w)")


@dataclass(frozen=True)
class Hit:
    """One occurrence of a brand term; offsets are into the original text given to ``find``."""

    brand: str  # Brand.name
    start: int
    end: int
    matched: str  # the original text that matched, e.g. "ATLAS TELECOM" in "d’ATLAS TELECOM"
    term: str  # the configured name or alias that it matched


@dataclass(frozen=True)
class _CompiledBrand:
    brand: Brand
    terms: tuple[str, ...]
    pattern: re.Pattern[str]
    exclusions: re.Pattern[str] | None
    query: Query | None
    query_patterns: dict[str, re.Pattern[str]]


class BrandMatcher:
    """Every brand's terms, exclusions and query compiled once; ``find`` is then pure and cheap.

    Raises ``ValueError`` for an unusable brand (empty term, bad query) — the config loader
    validates queries first with :func:`ereputation.query.parse_query`.
    """

    def __init__(self, brands: Sequence[Brand]) -> None:
        compiled = []
        for brand in brands:
            casefold = not brand.case_sensitive
            # Longest first, so "Atlas Télécom" wins over "Atlas" at the same place.
            terms = tuple(sorted(dict.fromkeys(brand.terms), key=len, reverse=True))
            pattern = _compile([_term_pattern(t, casefold) for t in terms])
            exclusions = (
                _compile([_term_pattern(x, True) for x in brand.exclude]) if brand.exclude else None
            )
            query = parse_query(brand.query) if brand.query else None
            query_patterns = (
                {t: _compile([_term_pattern(t, True)]) for t in query.terms()} if query else {}
            )
            compiled.append(
                _CompiledBrand(brand, terms, pattern, exclusions, query, query_patterns)
            )
        self._brands = tuple(compiled)
        # The prefilter: one regex of every term's anchor, then one per brand for the few texts
        # that pass, so only the brands whose anchors are there run their exact patterns.
        per_brand = [
            {_term_anchor(term, not entry.brand.case_sensitive) for term in entry.terms}
            for entry in compiled
        ]
        self._anchors = _alternation(set().union(*per_brand))
        self._brand_anchors = tuple(_alternation(anchors) for anchors in per_brand)
        self._any_case_sensitive = any(b.case_sensitive for b in self.brands)

    @property
    def brands(self) -> tuple[Brand, ...]:
        return tuple(c.brand for c in self._brands)

    def find(self, text: str) -> list[Hit]:
        """Every hit of every brand, after exclusions and queries, in text order."""
        translated = text.translate(_TABLES[True])
        entries = self._candidates(text, translated)
        if not entries:
            return []
        return self._find_exact(text, translated, entries)

    def _find_exact(
        self,
        text: str,
        translated: str | None = None,
        entries: Sequence[_CompiledBrand] | None = None,
    ) -> list[Hit]:
        """``find`` without the prefilter, over ``entries`` (default: every brand).

        ``translated``: the text through the case-insensitive fold table, if already done.
        """
        hits: list[Hit] = []
        folded = {True: _fold(text, True, translated)}
        for entry in self._brands if entries is None else entries:
            casefold = not entry.brand.case_sensitive
            if casefold not in folded:
                folded[casefold] = _fold(text, casefold)
            view = folded[casefold]
            found = []
            for m in entry.pattern.finditer(view.text):
                group = m.lastgroup or "t0"
                start, end = view.span(m.start(group), m.end(group), text)
                term = entry.terms[int(group[1:])]
                hit = Hit(entry.brand.name, start, end, text[start:end], term)
                if entry.exclusions is None or not self._excluded(entry, text, hit):
                    found.append(hit)
            if found and entry.query is not None:
                if not self.query_holds(entry.brand.name, text):
                    continue
            hits.extend(found)
        hits.sort(key=lambda h: (h.start, -h.end, h.brand))
        return hits

    def _may_match(self, text: str, folded: str) -> bool:
        """False only when no term can match (see ``_candidates``)."""
        return bool(self._candidates(text, folded))

    def _candidates(self, text: str, folded: str) -> list[_CompiledBrand]:
        """The brands that may have a hit in ``text``; empty for most texts, cheaply.

        ``folded`` is ``text`` through the case-insensitive fold table.  Every hit contains
        its term's anchor (:func:`_term_anchor`) in the folded text, so the casefolded
        folded text contains the casefolded anchor; for a case-sensitive brand this holds
        because both folds agree once casefolded, except on the characters of
        ``_FOLDS_DIFFER``.  One C-level translate and one regex search, instead of two folds
        with offsets and one term regex per brand: about 4 times cheaper per text.
        """
        casefolded = folded.casefold()
        differ = self._any_case_sensitive and _FOLDS_DIFFER.search(text) is not None
        if not differ and self._anchors.search(casefolded) is None:
            return []
        return [
            entry
            for entry, anchors in zip(self._brands, self._brand_anchors, strict=True)
            if (differ and entry.brand.case_sensitive) or anchors.search(casefolded) is not None
        ]

    def query_holds(self, brand: str, text: str) -> bool:
        """Whether ``brand``'s query is true over ``text`` (True when it has none)."""
        entry = self._entry(brand)
        if entry.query is None:
            return True
        view = _fold(text, True).text
        return entry.query.evaluate(lambda t: entry.query_patterns[t].search(view) is not None)

    def query_terms_found(self, brand: str, text: str) -> dict[str, bool]:
        """Each term of ``brand``'s query and whether the text contains it — to explain a match."""
        entry = self._entry(brand)
        view = _fold(text, True).text
        return {t: p.search(view) is not None for t, p in entry.query_patterns.items()}

    def exclusions_near(self, brand: str, text: str, hit: Hit) -> list[str]:
        """The exclusion phrases found in the hit's context (what made ``find`` drop it)."""
        entry = self._entry(brand)
        if entry.exclusions is None:
            return []
        context = _fold(_context_span_text(text, hit), True).text
        return [
            entry.brand.exclude[int((m.lastgroup or "t0")[1:])]
            for m in entry.exclusions.finditer(context)
        ]

    def _entry(self, brand: str) -> _CompiledBrand:
        for entry in self._brands:
            if entry.brand.name == brand:
                return entry
        raise KeyError(brand)

    @staticmethod
    def _excluded(entry: _CompiledBrand, text: str, hit: Hit) -> bool:
        assert entry.exclusions is not None
        return entry.exclusions.search(_fold(_context_span_text(text, hit), True).text) is not None


# Sentence ends: . ! ? … ؟ and line breaks.  A dot after a lone capital ("M. Dupont", "S.A.")
# or between digits ("3.5") does not end a sentence.
_SENTENCE_END = re.compile(r"(?<![\s.][A-Z])(?<!^[A-Z])[.!?…؟。]+[\"»”')\]]*(?=\s)|\n\s*\n|\n")
_MIN_CONTEXT = 60  # a sentence shorter than this (a headline, "Bravo !") takes its neighbours
_MAX_CONTEXT = 600


def _context_bounds(text: str, hit: Hit) -> tuple[int, int]:
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    starts = [0, *ends]
    stops = [*ends, len(text)]
    index = next(i for i, stop in enumerate(stops) if stop >= hit.end or i == len(stops) - 1)
    first = last = index
    while stops[last] - starts[first] < _MIN_CONTEXT and (first > 0 or last < len(stops) - 1):
        if last < len(stops) - 1:
            last += 1
        if stops[last] - starts[first] < _MIN_CONTEXT and first > 0:
            first -= 1
    start, stop = starts[first], stops[last]
    if stop - start > _MAX_CONTEXT:  # a run-on "sentence" (no punctuation): a window on the hit
        half = (_MAX_CONTEXT - (hit.end - hit.start)) // 2
        start = max(start, hit.start - half)
        stop = min(stop, hit.end + half)
    return start, stop


def _context_span_text(text: str, hit: Hit) -> str:
    start, stop = _context_bounds(text, hit)
    return text[start:stop]


def mention_context(text: str, hit: Hit) -> str:
    """The sentence(s) around the hit, whitespace collapsed — what sentiment is scored on.

    A sentence shorter than 60 characters is widened with its neighbours; a run without
    sentence punctuation is cut to a window of about 600 characters around the hit.
    """
    start, stop = _context_bounds(text, hit)
    start, stop = _whole_words(text, start, stop, hit)
    return " ".join(text[start:stop].split())


def _whole_words(text: str, start: int, stop: int, hit: Hit) -> tuple[int, int]:
    while 0 < start < hit.start and not text[start - 1].isspace():
        start += 1
    while hit.end < stop < len(text) and not text[stop].isspace():
        stop -= 1
    return start, stop


def make_snippet(text: str, hit: Hit, width: int = 240) -> str:
    """About ``width`` characters around the hit, cut at whole words, "…" where text was cut.

    Whitespace (line breaks included) is collapsed so the snippet fits one line of a mail.
    """
    room = max(0, width - (hit.end - hit.start))
    start = max(0, hit.start - room // 2)
    stop = min(len(text), hit.end + (room - (hit.start - start)))
    start = max(0, stop - width) if stop == len(text) else start
    start = min(start, hit.start)
    start, stop = _whole_words(text, start, stop, hit)
    body = " ".join(text[start:stop].split())
    prefix = "…" if text[:start].strip() else ""
    suffix = "…" if text[stop:].strip() else ""
    return f"{prefix}{body}{suffix}"
