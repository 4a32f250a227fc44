"""Find brand mentions in French, English and Arabic text, in a way users can trust.

What never matters when matching (both the configured terms and the text are folded the same
way, character by character, so offsets still point into the original text):

- case (unless the brand sets ``case_sensitive: true``, for names that are also common words
  such as *Orange*), accents (``Télécom`` = ``Telecom``), ligatures (``œ`` = ``oe``,
  ``æ`` = ``ae``, ``ﬁ`` = ``fi``), full-width and presentation forms (NFKD);
- apostrophe styles (``’ ‘ ʼ ′ ` ´`` all read as ``'``), so ``d’Atlas`` = ``d'Atlas``;
- spaces, hyphens and underscores between the words of a term (``Coca-Cola`` = ``Coca Cola``
  = ``#Coca_Cola``), and none at all after ``@`` or ``#`` (``@CocaCola``: see ``_tags``);
- Arabic: hamza/madda forms of alef (أ إ آ ٱ → ا), ى → ي, ة → ه, ؤ → و, ئ → ي, Persian
  ی/ک, tatweel and every diacritic (harakat); invisible format characters; and, in a term of
  several words, the final hamza after alef, often left out (``الصفا`` for ``الصفاء``).

A hit must stand as a whole word in every script (``Orange`` never matches ``orangeade``, and
``اورنج`` never matches inside a longer word), except that Arabic clitics glued in front of an
Arabic term are allowed: و ف, then ب ك ل, then the article ال (``وال``, ``بال``, ``لل``, …),
and an Arabic term that starts with ال also matches without it.  The same clitics may be glued
to a Latin-script name in Arabic text (``لـVolubilis``, ``وOCP``).

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

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


class _Syntax:
    """How a pattern over folded text is written: over the folded text itself (this class).

    :class:`_PlainSyntax` writes the same pattern over the original text instead, for texts
    where every character folds to exactly one character (see :func:`_plain`).
    """

    word = r"[^\W_]"  # an underscore joins a hashtag's words: "#Atlas_Telecom"
    separator = r"[\s\-_]+"  # between the words of a term: spaces, hyphens, underscores
    space = r"\s*"  # around an ampersand: "H&M", "H & M"

    def literal(self, folded: str) -> str:
        """What matches exactly the folded characters ``folded``, in order."""
        return re.escape(folded)

    def one_of(self, folded: str) -> str:
        """What matches one character that folds to any of the characters of ``folded``."""
        return f"[{re.escape(folded)}]"

    # The letters a run of clitics can start with, and end with (ال ends with ل).
    CLITIC_FIRST = "وفبكلا"
    CLITIC_LAST = "وفبكل"

    def clitics(self, article: bool = True) -> str:
        """Clitics before an Arabic term: conjunction و/ف, preposition ب/ك/ل, then the article.

        ``article=False`` for a term that starts with the article: the term's own optional
        ال takes it, so that the hit of "المكتب" in "بالمكتب" is "المكتب", not "مكتب".  The
        article elided after ل (لل) stays a clitic: the text has no ال to give the hit.
        """
        wf, bkl = self.one_of("وف"), self.one_of("بكل")
        al, lil = self.literal("ال"), self.literal("لل")
        if not article:
            return f"(?:{wf}(?:{lil}|{bkl})?|{lil}|{bkl})"
        return f"(?:{wf}(?:{lil}|{bkl}?{al}|{bkl})?|{lil}|{bkl}?{al}|{bkl})"


_FOLDED = _Syntax()


# The fast path.  Most texts are made only of characters that fold to exactly one character
# in both folds (Latin letters with or without accents, Arabic letters, punctuation, emoji):
# over such a text the folded text is the original one character for character, so a pattern
# over folded text has an exact equivalent over the original text, each folded character
# becoming the class of the characters that fold to it.  ``find`` then needs no fold at all.
# Characters outside these blocks, and those that fold to nothing (accents as combining marks,
# harakat, tatweel, zero-width characters) or to several (œ, ß, ﬁ), send the text the slow way.
_PLAIN_BLOCKS = (
    (0x0000, 0x024F),  # Latin: ASCII, Latin-1, Extended-A and -B
    (0x0600, 0x06FF),  # Arabic
    (0x0750, 0x077F),  # Arabic Supplement
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2000, 0x20CF),  # general punctuation (’ “ ” … spaces), currency signs
    (0x2190, 0x2BFF),  # arrows, symbols, dingbats
    (0x1F000, 0x1FAFF),  # emoji
)


@dataclass(frozen=True)
class _Plain:
    """The characters of the fast path, and, per fold, what each folded character comes from."""

    chars: frozenset[str]
    outside: re.Pattern[str]  # any character that is not plain
    sources: dict[bool, dict[str, str]]  # casefold -> folded character -> its plain origins


@cache
def _plain() -> _Plain:
    plain: list[str] = []
    sources: dict[bool, dict[str, str]] = {True: {}, False: {}}
    for low, high in _PLAIN_BLOCKS:
        for code in range(low, high + 1):
            char = chr(code)
            folds = {casefold: _TABLES[casefold][code] for casefold in (True, False)}
            if all(len(folded) == 1 for folded in folds.values()):
                plain.append(char)
                for casefold, folded in folds.items():
                    sources[casefold][folded] = sources[casefold].get(folded, "") + char
    outside = re.compile(f"[^{_char_class(plain)}]")
    return _Plain(frozenset(plain), outside, sources)


def _char_class(chars: Iterable[str]) -> str:
    """The inside of a regex character class of ``chars``, as ranges of escaped code points."""
    codes = sorted({ord(c) for c in chars})
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        _escape_code(low) if low == high else f"{_escape_code(low)}-{_escape_code(high)}"
        for low, high in ranges
    )


def _escape_code(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


class _PlainSyntax(_Syntax):
    """A pattern over folded text written over the original text of a plain text.

    Exact on texts without any character of ``_plain().outside``: there, folded character
    ``i`` is the fold of original character ``i``, so a character class of the originals that
    fold to ``x`` matches where ``x`` matches in the folded text, and ``\\w`` or ``[\\s\\-]``
    becomes the class of the originals that fold to a word character, a space or a hyphen.
    """

    def __init__(self, casefold: bool) -> None:
        self._sources = _plain().sources[casefold]
        self._classes: dict[str, str] = {}
        self.word = self._class_of(lambda folded: _WORD_CHAR.match(folded) is not None)
        separators = self._class_of(lambda folded: _SEPARATOR.match(folded) is not None)
        self.separator = f"{separators}+"
        self.space = f"{self._class_of(str.isspace)}*"

    def _class_of(self, holds: Callable[[str], bool]) -> str:
        origins = "".join(o for folded, o in self._sources.items() if holds(folded))
        return f"[{_char_class(origins)}]" if origins else "(?!)"

    def literal(self, folded: str) -> str:
        return "".join(self.one_of(char) for char in folded)

    def origins(self, folded: str) -> str:
        """The plain characters that fold to one of the characters of ``folded``."""
        return "".join(self._sources.get(char, "") for char in folded)

    def one_of(self, folded: str) -> str:
        if folded not in self._classes:
            origins = self.origins(folded)
            # A folded character no plain character folds to cannot occur in a plain text.
            self._classes[folded] = f"[{_char_class(origins)}]" if origins else "(?!)"
        return self._classes[folded]


_WORD_CHAR = re.compile(r"[^\W_]")
_SEPARATOR = re.compile(r"[\s\-_]")


_AMPERSAND = re.compile(r"(?<=\S)\s*&\s*(?=\S)")
_BETWEEN_WORDS = re.compile(r"[\s\-]+")  # how a configured term is cut into its words
# A word's ending that the press often leaves out of a name: "Yahoo!" is written "Yahoo".
_OPTIONAL_END = "!?."


def _tags(term: str) -> list[str]:
    """A Latin-script name of several words as handles and hashtags write it: "Souss Pay" is
    also "@SoussPay" and "#soussPay".  Glued words alone ("AtlasTelecom") stay another word.
    A hashtag's underscores ("#Souss_Pay", Arabic "#اتصالات_الأطلس") are separators already
    (``_Syntax``)."""
    words = _BETWEEN_WORDS.split(term.strip())
    if len(words) < 2 or not all(w.isalnum() for w in words) or _ARABIC.search(term):
        return []
    return [f"{sign}{''.join(words)}" for sign in "@#"]


def _term_words(term: str, casefold: bool) -> tuple[list[str], bool, bool]:
    """The folded words of a term, whether it is Arabic, and whether its first word drops ال.

    An Arabic term that starts with the article also matches without it: its first word is
    then given without the article (and the pattern makes the article optional).  An
    ampersand joins its neighbours into one word ("Procter & Gamble" -> "procter&gamble"),
    written with or without spaces around it in the text (see ``_word_pattern``).
    """
    folded = _AMPERSAND.sub("&", _fold(term.strip(), casefold).text)
    words = [w for w in _BETWEEN_WORDS.split(folded) if w]
    if not words:
        raise ValueError(f"empty brand term {term!r}")
    arabic = _ARABIC.match(folded) is not None
    optional_article = arabic and folded.startswith("ال") and len(words[0]) > 3
    if optional_article:
        words[0] = words[0][2:]
    return words, arabic, optional_article


def _final_hamza(words: list[str], arabic: bool) -> frozenset[int]:
    """The words of an Arabic term whose final hamza after alef the text may leave out.

    Moroccan press and comments often drop it ("الصفا للأغذية" for "الصفاء للأغذية").  Only
    in a term of several words, and never in all of them: a one-word name could then match
    a common word ("بناء", "building", would find "بنا", "with us"), and another word of the
    term stays to anchor the prefilters (:func:`_anchor_word`).
    """
    if not arabic or len(words) < 2:
        return frozenset()
    found = frozenset(i for i, w in enumerate(words) if len(w) > 3 and w.endswith("اء"))
    return found if len(found) < len(words) else frozenset()


def _term_pattern(term: str, casefold: bool, syntax: _Syntax = _FOLDED) -> str:
    """Regex for one configured term over folded text (whole words, clitics, flexible spaces)."""
    words, arabic, optional_article = _term_words(term, casefold)
    hamza = _final_hamza(words, arabic)
    body = syntax.separator.join(
        _word_pattern(w, syntax, optional_last=i in hamza) for i, w in enumerate(words)
    )
    if optional_article:
        body = f"(?:{syntax.literal('ال')})?{body}"
    if arabic:
        return f"{syntax.clitics(article=not optional_article)}?(?P<t>{body})"
    # Arabic press glues its clitics to a Latin-script name too ("لـVolubilis Assurance",
    # "وOCP"; tatweel folds away): they stay outside the hit, as before an Arabic term.  The
    # lookahead spares most positions of a Latin text the clitics' alternatives (find is 7 %
    # slower with it, 15 % without, on bench/scale.py's items).
    return f"(?:(?={syntax.one_of(syntax.CLITIC_FIRST)}){syntax.clitics()})?(?P<t>{body})"


def _word_pattern(word: str, syntax: _Syntax, optional_last: bool = False) -> str:
    """A term's word as the press writes it: spaces allowed around its ampersands ("h&m"
    matches "H & M") and after its inner full stops ("e.leclerc" matches "E. Leclerc"), and
    its final ``!``, ``?`` or ``.`` left out or not ("yahoo!" matches "Yahoo", "inc." "Inc").
    ``optional_last``: its last letter may be left out (a final hamza, :func:`_final_hamza`)."""
    stem = word.rstrip(_OPTIONAL_END)
    if stem and stem != word:
        ending = syntax.literal(word[len(stem) :])
        return f"{_word_pattern(stem, syntax, optional_last)}(?:{ending})?"
    if optional_last:
        return f"{syntax.literal(word[:-1])}(?:{syntax.literal(word[-1])})?"
    amp = f"{syntax.space}{syntax.literal('&')}{syntax.space}"
    stop = f"{syntax.literal('.')}{syntax.space}"
    return amp.join(
        stop.join(syntax.literal(part) for part in piece.split(".")) for piece in word.split("&")
    )


def _anchor_word(words: list[str], arabic: bool) -> str:
    """What every hit of a term with these words holds as it is, for the prefilters: its
    longest word, or piece of a word between ampersands or full stops (which the text may
    space out), without the ending it may leave out, a word whose final hamza may be left out
    aside.  When those pieces are one or two letters ("H&M"), the ampersand itself: far rarer
    in text than a letter, and sought as a word a letter would pass nearly every text."""
    optional = _final_hamza(words, arabic)
    words = [w.rstrip(_OPTIONAL_END) or w for i, w in enumerate(words) if i not in optional]
    pieces = [part for word in words for piece in word.split("&") for part in piece.split(".")]
    pieces = [piece for piece in pieces if piece]
    longest = max(pieces or words, key=len)
    if len(longest) < 3 and any("&" in word for word in words):
        return "&"
    return longest


def _term_anchor(term: str, casefold: bool) -> str:
    """A literal every hit of ``term`` contains, in the prefilter's view of the text.

    The longest word of the folded term (an optional leading ال left out, as in
    :func:`_term_pattern`), then ``str.casefold``-ed: see :meth:`BrandMatcher._candidates`.
    """
    words, arabic, _ = _term_words(term, casefold)
    return _anchor_word(words, arabic).casefold()


def _plain_anchor(
    term: str, casefold: bool, syntax: _PlainSyntax, as_word: bool = True
) -> tuple[str, str]:
    """What every hit of ``term`` in a plain text contains: its longest word, as a word (or
    the ampersand, see :func:`_anchor_word`).

    Every word of a term stands between non-word characters in the folded text (the term's
    own boundaries, or the spaces and hyphens between its words), except the first word of an
    Arabic term, which clitics or the article may precede.  Given as the characters of its
    rarest letter and the pattern that follows that letter, which checks the letters before
    it behind it (see :func:`_after_first`): the regex engine then stops only at rare letters.
    ``as_word=False``: the word anywhere, even inside another word or cut at an end.
    """
    words, arabic, _ = _term_words(term, casefold)
    word = _anchor_word(words, arabic)
    if word == "&":
        return syntax.origins("&"), ""
    at = max(range(len(word)), key=lambda i: _COMMON.find(word[i].casefold()) % 1000)
    before = syntax.literal(word[: at + 1])
    rest = syntax.literal(word[at + 1 :])
    if not as_word:
        return syntax.origins(word[at]), f"(?<={before}){rest}"
    if not words[0].startswith(word):  # the anchor is not where a hit starts
        check = f"(?<!{syntax.word}{before})"
    elif arabic:
        check = ""
    else:  # a Latin first word: not inside a word, but an Arabic clitic may precede it
        check = f"(?:(?<!{syntax.word}{before})|(?<={syntax.one_of(syntax.CLITIC_LAST)}{before}))"
    return syntax.origins(word[at]), f"(?<={before}){check}{rest}(?!{syntax.word})"


# Letters from the most to the least frequent in French, English and Arabic news, roughly: the
# anchor of a plain text is sought from its rarest letter (any letter not listed counts as rare).
_COMMON = "eaistnrulodcmpévqfbghàjxèyêçzwk" + "اليمونهرتبعدسفكقةحجشصأزطخضثغظذئءإآى"


def _after_first(branches: Iterable[tuple[str, str]], also: str = "") -> re.Pattern[str]:
    """A regex of alternatives, each given as the characters it starts with and what follows.

    Written as one character class, then the alternatives (each checks its own first
    character behind it), so that the regex engine skips in C every character that cannot
    start one: about 3 times faster than the plain alternation.  ``also``: a class (with its
    brackets) of other characters that match alone.
    """
    firsts: set[str] = set()
    rests: list[str] = []
    for first, rest in dict.fromkeys(branches):
        if first:
            firsts.update(first)
            rests.append(rest)
    if also:
        rests.insert(0, f"(?<={also})")
        alone = re.compile(also)
        if also.startswith("[^"):  # a negated class: write the union as one negated class
            kept = [c for c in _plain().chars if not alone.match(c) and c not in firsts]
            return re.compile(f"[^{_char_class(kept)}](?:{'|'.join(rests)})")
    if not rests:
        return re.compile("(?!)")
    return re.compile(f"[{_char_class(firsts)}](?:{'|'.join(rests)})")


def _alternation(literals: set[str]) -> re.Pattern[str]:
    """A regex matching any of ``literals`` (never matching when there are none)."""
    ordered = sorted(literals, key=len, reverse=True)
    return re.compile("|".join(re.escape(a) for a in ordered) or "(?!)")


# Characters whose two folds differ once casefolded (Greek iota subscripts; see
# tests/test_match.py, which checks every code point): with one of them in the text, the
# prefilter cannot speak for case-sensitive brands.
_FOLDS_DIFFER = re.compile("[\u0345\u1f80-\u1fff]")


def _compile(patterns: list[str], syntax: _Syntax = _FOLDED) -> re.Pattern[str]:
    """One regex for several terms; term ``i`` is group ``t{i}`` (clitics stay outside it)."""
    groups = "|".join(p.replace("(?P<t>", f"(?P<t{i}>") for i, p in enumerate(patterns))
    return re.compile(rf"(?<!{syntax.word})(?:{groups})(?!{syntax.word})")


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
    plain_pattern: re.Pattern[str]  # ``pattern`` over the original text of a plain text
    plain_anchors: re.Pattern[str]  # matches inside every hit of a plain text
    # Matches in a plain text wherever an exclusion could match in a part of it.
    plain_exclusions: re.Pattern[str] | None
    # Its terms as handles and hashtags (``_tags``), sought apart: only a text with "@" or "#"
    # can hold them.  Each holds the anchor of the term it comes from.
    tags: tuple[str, ...]
    tag_pattern: re.Pattern[str] | None


@cache
def _plain_syntax(casefold: bool) -> _PlainSyntax:
    return _PlainSyntax(casefold)


class BrandMatcher:
    """Every brand's terms, exclusions and query compiled once; ``find`` is then pure and cheap.

    Raises ``ValueError`` for an unusable brand (empty term, bad query) — the config loader
    validates queries first with :func:`ereputation.query.parse_query`.
    """

    def __init__(self, brands: Sequence[Brand]) -> None:
        compiled = []
        plain_anchors_all: list[tuple[str, str]] = []
        for brand in brands:
            casefold = not brand.case_sensitive
            # Longest first, so "Atlas Télécom" wins over "Atlas" at the same place.
            terms = tuple(sorted(dict.fromkeys(brand.terms), key=len, reverse=True))
            pattern = _compile([_term_pattern(t, casefold) for t in terms])
            tags = tuple(tag for t in terms for tag in _tags(t))
            exclusions = (
                _compile([_term_pattern(x, True) for x in brand.exclude]) if brand.exclude else None
            )
            query = parse_query(brand.query) if brand.query else None
            query_patterns = (
                {t: _compile([_term_pattern(t, True)]) for t in query.terms()} if query else {}
            )
            plain = _plain_syntax(casefold)
            plain_pattern = _compile([_term_pattern(t, casefold, plain) for t in terms], plain)
            anchors = [_plain_anchor(t, casefold, plain) for t in terms]
            plain_anchors_all.extend(anchors)
            plain_anchors = _after_first(anchors)
            plain_exclusions = (
                _after_first(
                    _plain_anchor(x, True, _plain_syntax(True), as_word=False)
                    for x in brand.exclude
                )
                if brand.exclude
                else None
            )
            compiled.append(
                _CompiledBrand(
                    brand,
                    terms,
                    pattern,
                    exclusions,
                    query,
                    query_patterns,
                    plain_pattern,
                    plain_anchors,
                    plain_exclusions,
                    tags,
                    _compile([_term_pattern(t, casefold) for t in tags]) if tags else None,
                )
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
        self._tagged = any(entry.tags for entry in compiled)
        # The fast path's gate: a character that is not plain, or any brand's anchor.
        self._plain_gate = _after_first(plain_anchors_all, also=_plain().outside.pattern)

    @property
    def brands(self) -> tuple[Brand, ...]:
        return tuple(c.brand for c in self._brands)

    def find(self, text: str) -> list[Hit]:
        """Every hit of every brand, after exclusions and queries, in text order.

        A text with "@" or "#" may hold a handle or a hashtag, whose glued words the plain
        path's anchors (whole words) would not see: it takes the folded path, where each
        anchor is sought anywhere.  As a character of the gate, or as more alternatives in
        every brand's pattern, the tags slowed every text's search by 10 to 30 %.
        """
        if not (self._tagged and ("@" in text or "#" in text)):
            gate = self._plain_gate.search(text)
            if gate is None:
                return []  # a plain text without any anchor: no hit (see _PlainSyntax)
            if _plain().outside.search(text, gate.start()) is None:
                return self._find_plain(text, gate.start())
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
        signs = "@" in text or "#" in text  # a handle or a hashtag may be there
        for entry in self._brands if entries is None else entries:
            casefold = not entry.brand.case_sensitive
            if casefold not in folded:
                folded[casefold] = _fold(text, casefold)
            exclusions = entry.exclusions is not None
            view = folded[casefold]
            hits.extend(self._brand_hits(entry, text, entry.pattern, view, exclusions))
            if signs and (tagged := entry.tag_pattern) is not None:
                hits.extend(self._brand_hits(entry, text, tagged, view, exclusions, entry.tags))
        hits.sort(key=lambda h: (h.start, -h.end, h.brand))
        return hits

    def _find_plain(self, text: str, start: int = 0) -> list[Hit]:
        """``find`` for a plain text: the patterns run over the text itself, with no fold.

        ``start``: where the first anchor is (no brand's anchor occurs before it).
        """
        hits: list[Hit] = []
        view = _Folded(text, None)  # the text is its own fold
        for entry in self._brands:
            if entry.plain_anchors.search(text, start) is None:
                continue
            # Exclusions are sought near each hit only if one may be somewhere in the text.
            exclusions = entry.plain_exclusions is not None and (
                entry.plain_exclusions.search(text) is not None
            )
            hits.extend(self._brand_hits(entry, text, entry.plain_pattern, view, exclusions))
        hits.sort(key=lambda h: (h.start, -h.end, h.brand))
        return hits

    def _brand_hits(
        self,
        entry: _CompiledBrand,
        text: str,
        pattern: re.Pattern[str],
        view: _Folded,
        exclusions: bool,
        terms: tuple[str, ...] | None = None,
    ) -> list[Hit]:
        """``entry``'s hits where ``pattern`` matches ``view`` (``text`` folded), without those
        an exclusion near them rules out (when ``exclusions``), or none when its query fails.
        ``terms``: those of ``pattern``'s groups (default: ``entry.terms``)."""
        found = []
        names = entry.terms if terms is None else terms
        for m in pattern.finditer(view.text):
            group = m.lastgroup or "t0"
            start, end = view.span(m.start(group), m.end(group), text)
            hit = Hit(entry.brand.name, start, end, text[start:end], names[int(group[1:])])
            if not exclusions or not self._excluded(entry, text, hit):
                found.append(hit)
        if found and entry.query is not None and not self.query_holds(entry.brand.name, text):
            return []
        return found

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


class _SentenceStops:
    """The ends of the text's sentences, then the text's end, found as far as asked for:
    a brand is most often named in the title or the lead, and a page's text is long."""

    def __init__(self, text: str) -> None:
        self._found = _SENTENCE_END.finditer(text)
        self._length = len(text)
        self._stops: list[int] = []
        self._complete = False

    def has(self, index: int) -> bool:
        while len(self._stops) <= index and not self._complete:
            match = next(self._found, None)
            if match is None:
                self._stops.append(self._length)
                self._complete = True
            else:
                self._stops.append(match.end())
        return index < len(self._stops)

    def __getitem__(self, index: int) -> int:
        self.has(index)
        return self._stops[index]

    def start(self, index: int) -> int:
        """Where sentence ``index`` starts: the text's start or the previous one's end."""
        return self[index - 1] if index else 0


def _context_bounds(text: str, hit: Hit) -> tuple[int, int]:
    stops = _SentenceStops(text)
    index = 0
    while stops[index] < hit.end and stops.has(index + 1):
        index += 1  # the hit's sentence: the first that ends at or after it, else the last
    first = last = index
    while stops[last] - stops.start(first) < _MIN_CONTEXT and (first > 0 or stops.has(last + 1)):
        if stops.has(last + 1):
            last += 1
        if stops[last] - stops.start(first) < _MIN_CONTEXT and first > 0:
            first -= 1
    start, stop = stops.start(first), stops[last]
    if stop - start > _MAX_CONTEXT:  # a run-on "sentence" (no punctuation): a window on the hit
        half = (_MAX_CONTEXT - (hit.end - hit.start)) // 2
        start = max(start, hit.start - half)
        stop = min(stop, hit.end + half)
    return start, stop


def _context_span_text(text: str, hit: Hit) -> str:
    start, stop = _context_bounds(text, hit)
    return text[start:stop]


def mention_context(text: str, hit: Hit) -> str:
    """The sentence(s) around the hit, whitespace collapsed: what is said of the brand there
    (sentiment is scored on it without the brand's own name, ``sentiment_context``).

    A sentence shorter than 60 characters is widened with its neighbours; a run without
    sentence punctuation is cut to a window of about 600 characters around the hit.
    """
    start, stop = _mention_bounds(text, hit)
    return " ".join(text[start:stop].split())


def _mention_bounds(text: str, hit: Hit) -> tuple[int, int]:
    start, stop = _context_bounds(text, hit)
    return _whole_words(text, start, stop, hit)


def sentiment_context(text: str, hit: Hit, hits: Sequence[Hit]) -> str:
    """What the mention's sentiment is scored on: ``mention_context`` without the brand's own
    hits in it (``hits``: the text's hits, of any brand).

    A brand's name says nothing about how it is spoken of, yet the words of names carry
    weights learned from training text: "atlas" leaned positive after our examples' Atlas
    Foods, and an Atlas Telecom outage read as good news.  Left out, that outage reads as
    negative, and the held-out news set (bench/news.py) went from .933/.862/.849 to
    .949/.880/.882 macro-F1 (fr/en/ar).  Another brand's name stays: it is part of what is
    said about this one.
    """
    at, stop = _mention_bounds(text, hit)
    pieces = []
    for other in sorted(hits, key=lambda h: h.start):
        if other.brand == hit.brand and at <= other.start and other.end <= stop:
            pieces.append(text[at : other.start])
            at = other.end
    pieces.append(text[at:stop])
    return " ".join(" ".join(pieces).split())


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
