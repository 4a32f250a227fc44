"""Company news about a figure that moved: "profits rose", "les plaintes ont reculé".

Most of what news says about a company is a number going up or down, and the word for the
movement carries no sentiment of its own: a rise is good news for sales and bad news for
complaints, a cut is bad news for jobs and good news for prices.  The training rows (tweets,
reviews, editorials) have few such sentences, so the models read "deliveries jumped 42%" or
"complaints fell by 40%" by their single words.  Here the polarity is the direction times what
the figure is worth to the company, and it goes into the lexicon sums the models read
(``sentiment._token_values``), where negation flips it like any other word's ("did not rise").

The words are in ``data/sentiment/trend.txt``: hand-written, per language, in four kinds —
``up``, ``down``, ``good`` figures and ``bad`` figures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from ereputation.language import without_clitics

__all__ = ["MOVE_VALUE", "WINDOW", "movements"]

MOVE_VALUE = 2.0  # the lexicon's scale (-3..3): as strong as "profit warning" or "record sales"
WINDOW = 4  # words from a movement to its figure, amounts not counted: "rise in net premiums"

_AR_SUFFIXES = ("ها", "هم", "ه")
_LINE = re.compile(r"^(\w+) (up|down|good|bad): (.+)$")
_CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class _Words:
    directions: dict[str, int]  # token -> +1 (up) or -1 (down)
    figures: dict[tuple[str, ...], int]  # figure (one or more tokens) -> +1 good, -1 bad
    longest: dict[str, int]  # first token of a figure -> its longest figure's length
    arabic: bool  # words are looked up without their clitics and pronoun suffix
    forms: dict[str, str] = field(default_factory=dict)  # token -> the form listed (cache)


@cache
def _words(language: str, tokens: Callable[[str], list[str]]) -> _Words | None:
    """The language's lists, tokenised by the caller's tokeniser (so folded the same way)."""
    text = resources.files("ereputation").joinpath("data/sentiment/trend.txt").read_text("utf-8")
    directions: dict[str, int] = {}
    figures: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        found = _LINE.match(line)
        if found is None:
            raise ValueError(f"trend.txt line {number}: expected '<language> <kind>: words'")
        if found.group(1) != language:
            continue
        kind = found.group(2)
        for entry in found.group(3).split(","):
            key = tuple(tokens(entry.strip()))
            if not key:
                continue
            if kind in ("up", "down"):
                if len(key) > 1:  # "s'envole" would make every "s'" a movement
                    raise ValueError(f"trend.txt line {number}: {entry.strip()!r} is not one word")
                directions[key[0]] = 1 if kind == "up" else -1
            else:
                figures[key] = 1 if kind == "good" else -1
    if not directions:
        return None
    longest: dict[str, int] = {}
    for key in figures:
        longest[key[0]] = max(longest.get(key[0], 0), len(key))
    return _Words(directions, figures, longest, language == "ar")


def _form(words: _Words, token: str) -> str:
    """The listed form of ``token``: itself, or an Arabic word without its clitics and suffix."""
    found = words.forms.get(token)
    if found is not None:
        return found
    form = token
    if token not in words.directions and token not in words.longest:
        for stem in [token, *without_clitics(token)]:
            candidates = [stem] + [stem[: -len(s)] for s in _AR_SUFFIXES
                                   if stem.endswith(s) and len(stem) - len(s) >= 2]  # fmt: skip
            hit = next((c for c in candidates if c in words.directions or c in words.longest), None)
            if hit is not None:
                form = hit
                break
    if len(words.forms) < _CACHE_LIMIT:
        words.forms[token] = form
    return form


_LINKERS = frozenset("of the de des du d' la le les l' من".split())


def _apart(a: int, b: int, ends: Sequence[int]) -> bool:
    """Whether tokens ``a`` < ``b`` are in different clauses (``ends``: see ``movements``)."""
    return any(a < e <= b for e in ends)


def _noun_phrases(
    spans: list[tuple[int, int, int]], tokens: Sequence[str], language: str, ends: Sequence[int]
) -> list[tuple[int, int, int]]:
    """Figures that make one noun phrase, as one figure worth what its head is worth.

    "plaintes des clients" and "شكايات الزبناء" are complaints (the head comes first), and so
    are "complaints of customers"; "customer complaints" too (an English compound's head is
    its last noun).
    """
    merged = [spans[0]]
    for start, end, worth in spans[1:]:
        first_start, first_end, first_worth = merged[-1]
        between = tokens[first_end:start]
        if (
            len(between) <= 2
            and all(t in _LINKERS for t in between)
            and not _apart(first_end - 1, start, ends)
        ):
            head = worth if language == "en" and not between else first_worth
            merged[-1] = (first_start, end, head)
        else:
            merged.append((start, end, worth))
    return merged


# Words of an amount, not counted in a movement's distance to its figure (after folding).
_AMOUNT_WORDS = frozenset(
    "million millions milliard milliards billion billions thousand thousands mille mrd mds dh dhs"
    " mad usd eur dirhams dirham euros euro dollars dollars per cent percent pour"
    " مليون ملايين مليار مليارات الف الاف درهم دراهم دولار اورو".split()
)


# Auxiliaries and reflexive pronouns, not counted either: « les pertes se sont nettement
# réduites », "costs have been cut" (negations still count: they are read).
_AUXILIARIES = frozenset(
    "a ont est sont ete se s' avait avaient etait etaient sera seront"
    " has have had been was were is are be".split()
)
_UNCOUNTED = _AMOUNT_WORDS | _AUXILIARIES


def _word_ranks(tokens: Sequence[str]) -> list[int]:
    """Per token, how many tokens before it are words and neither part of an amount nor an
    auxiliary."""
    ranks = []
    count = 0
    for token in tokens:
        ranks.append(count)
        if not (token.isdigit() or token in _UNCOUNTED):
            count += 1
    return ranks


# Words between an English verb and its object: "suspended its dividend", "cut the fees".
_DETERMINERS = frozenset("its their the a an his her our".split())


def _object(tokens: Sequence[str], verb: int, start: int, earlier: int) -> bool:
    """On a tie between a figure before an English movement word (at ``earlier``) and one
    after it (at ``start``), whether the one after is the verb's object: only a determiner
    between, as in "posted a loss and suspended its dividend".  Otherwise the earlier stays
    ("sales rose")."""
    return earlier < verb < start and all(t in _DETERMINERS for t in tokens[verb + 1 : start])


def movements(
    tokens: Sequence[str],
    language: str,
    tokenise: Callable[[str], list[str]],
    clause_ends: Callable[[], Sequence[int]] = tuple,
) -> list[tuple[int, range, float]]:
    """(movement word's index, its figure's token indexes, value) for each movement found.

    A movement word counts ``±MOVE_VALUE``: its direction × the worth of the nearest figure
    within ``WINDOW`` words on either side and in the same clause (the earlier one on a tie,
    as in "sales rose", unless the later is its object: ``_object``).  The reader gives the
    figure's words 0, so that "losses narrowed" is not also read as "losses"; a movement with
    no figure near it is not listed, and its own lexicon value, if any, stands.
    ``clause_ends()`` gives the token indexes before which a comma or a full stop ends a
    clause ("coûts, les ventes" are two figures); it is asked only when a text has both a
    movement word and a figure.
    """
    words = _words(language, tokenise)
    if words is None:
        return []
    if words.arabic:
        known = words.forms.get
        forms: Sequence[str] = [known(t) or _form(words, t) for t in tokens]
    else:
        forms = tokens
    if words.directions.keys().isdisjoint(forms):  # most texts: no movement word at all
        return []
    spans: list[tuple[int, int, int]] = []  # (start, end, worth) of each figure
    covered: set[int] = set()
    i = 0
    while i < len(forms):
        # Not past the end: "bénéfice" ends a text and starts "bénéfice net".
        size = min(words.longest.get(forms[i], 0), len(forms) - i)
        while size:
            worth = words.figures.get(tuple(forms[i : i + size]))
            if worth is not None:
                spans.append((i, i + size, worth))
                covered.update(range(i, i + size))
                i += size
                break
            size -= 1
        else:
            i += 1
    if not spans:
        return []
    ends = clause_ends()
    spans = _noun_phrases(spans, tokens, language, ends)
    rank = _word_ranks(tokens)
    found: list[tuple[int, range, float]] = []
    for i, form in enumerate(forms):
        direction = words.directions.get(form)
        if direction is None or i in covered:
            continue
        best: tuple[int, int, int, int] | None = None  # (distance, start, end, worth)
        for start, end, worth in spans:
            # In words: an amount between them does not count ("a record 4.2 million passengers").
            distance = rank[start] - rank[i] if start > i else rank[i] - rank[end - 1]
            if distance > WINDOW or _apart(min(i, start), max(i, end - 1), ends):
                continue
            if (
                best is None
                or distance < best[0]
                or (distance == best[0] and language == "en" and _object(tokens, i, start, best[1]))
            ):
                best = (distance, start, end, worth)
        if best is not None:
            found.append((i, range(best[1], best[2]), direction * best[3] * MOVE_VALUE))
    return found
