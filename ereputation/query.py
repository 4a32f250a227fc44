"""Boolean brand queries, as users know them from Google Alerts and Talkwalker.

Grammar (operators are UPPER-CASE words, as in Google Alerts; lower-case ``and``/``or``/``not``
are ordinary words to search for)::

    query   := or
    or      := and ("OR" and)*             # "|" is accepted for OR
    and     := unary (["AND"] unary)*      # two terms side by side mean AND
    unary   := ("NOT" | "-") unary | atom  # "-word" right before a term means NOT
    atom    := "(" query ")" | '"exact phrase"' | word

``NOT`` binds tighter than ``AND``, which binds tighter than ``OR``:
``a OR b c NOT d`` reads ``a OR (b AND c AND (NOT d))``.

This module only parses and evaluates; what "the text contains a term" means (accents, case,
apostrophes, Arabic forms, whole words) is decided by the caller — ``match.BrandMatcher`` —
which passes a predicate to :meth:`Query.evaluate`.  That keeps one notion of "contains" for
brand names, exclusions and queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["And", "Not", "Or", "Query", "Term", "parse_query"]


@dataclass(frozen=True)
class Term:
    """A word or an exact phrase (from quotes); it is true when the text contains it."""

    text: str

    def evaluate(self, contains: Callable[[str], bool]) -> bool:
        return contains(self.text)

    def terms(self) -> tuple[str, ...]:
        return (self.text,)

    def __str__(self) -> str:
        return f'"{self.text}"' if " " in self.text else self.text


@dataclass(frozen=True)
class Not:
    part: Query

    def evaluate(self, contains: Callable[[str], bool]) -> bool:
        return not self.part.evaluate(contains)

    def terms(self) -> tuple[str, ...]:
        return self.part.terms()

    def __str__(self) -> str:
        return f"NOT {self.part}"


@dataclass(frozen=True)
class And:
    parts: tuple[Query, ...]

    def evaluate(self, contains: Callable[[str], bool]) -> bool:
        return all(part.evaluate(contains) for part in self.parts)

    def terms(self) -> tuple[str, ...]:
        return tuple(t for part in self.parts for t in part.terms())

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.parts)) + ")"


@dataclass(frozen=True)
class Or:
    parts: tuple[Query, ...]

    def evaluate(self, contains: Callable[[str], bool]) -> bool:
        return any(part.evaluate(contains) for part in self.parts)

    def terms(self) -> tuple[str, ...]:
        return tuple(t for part in self.parts for t in part.terms())

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.parts)) + ")"


Query = Term | Not | And | Or

# A token: a quoted phrase (maybe unterminated, reported below), a parenthesis, "|", a "-" that
# negates the term glued to it, or a run of anything else up to whitespace/parenthesis/quote.
_TOKEN = re.compile(
    r'\s*(?:(?P<phrase>"[^"]*"?)|(?P<punct>[()|])|(?P<neg>-(?=[^\s()|-]))|(?P<word>[^\s()"|]+))'
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "«": '"', "»": '"', "„": '"'})


@dataclass(frozen=True)
class _Token:
    kind: str  # phrase | word | ( | ) | OR | AND | NOT | end
    text: str
    at: int  # character offset in the query, for error messages


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    query = query.translate(_QUOTES)
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        m = _TOKEN.match(query, pos)
        if m is None:  # pragma: no cover - every non-space character starts some token
            raise ValueError(f"cannot read the query at character {pos + 1}")
        at = m.start(m.lastgroup or 0)
        if m["phrase"] is not None:
            raw = m["phrase"]
            if len(raw) < 2 or not raw.endswith('"'):
                raise ValueError(f'unterminated quote at character {at + 1}: add the closing "')
            phrase = " ".join(raw[1:-1].split())
            if not phrase:
                raise ValueError(f'empty phrase "" at character {at + 1}')
            tokens.append(_Token("phrase", phrase, at))
        elif m["punct"] is not None:
            kind = "OR" if m["punct"] == "|" else m["punct"]
            tokens.append(_Token(kind, m["punct"], at))
        elif m["neg"] is not None:
            tokens.append(_Token("NOT", "-", at))
        else:
            word = m["word"]
            kind = word if word in ("AND", "OR", "NOT") else "word"
            tokens.append(_Token(kind, word, at))
        pos = m.end()
    tokens.append(_Token("end", "", len(query)))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_or(self) -> Query:
        parts = [self.parse_and()]
        while self.peek().kind == "OR":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Query:
        parts = [self.parse_unary()]
        while True:
            token = self.peek()
            if token.kind == "AND":
                self.take()
                parts.append(self.parse_unary())
            elif token.kind in ("word", "phrase", "(", "NOT"):
                parts.append(self.parse_unary())  # implicit AND
            else:
                break
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_unary(self) -> Query:
        if self.peek().kind == "NOT":
            self.take()
            return Not(self.parse_unary())
        return self.parse_atom()

    def parse_atom(self) -> Query:
        token = self.take()
        if token.kind in ("word", "phrase"):
            return Term(token.text)
        if token.kind == "(":
            inner = self.parse_or()
            closing = self.take()
            if closing.kind != ")":
                raise ValueError(
                    f"missing ')' for the '(' at character {token.at + 1}"
                    if closing.kind == "end"
                    else f"expected ')' at character {closing.at + 1}, found {closing.text!r}"
                )
            return inner
        if token.kind == "end":
            raise ValueError("the query ends where a term was expected (after AND, OR or NOT?)")
        if token.kind == ")":
            raise ValueError(f"unexpected ')' at character {token.at + 1}")
        raise ValueError(
            f"{token.text!r} at character {token.at + 1} needs a term before it"
            if token.kind in ("AND", "OR")
            else f"unexpected {token.text!r} at character {token.at + 1}"
        )


def parse_query(query: str) -> Query:
    """Parse a Boolean query; raise ``ValueError`` saying what is wrong and where.

    The message is written to follow a config place, as in ``brands[0].query: <message>``.
    A query made only of negations (``NOT recrutement``) is allowed: with a brand query it
    means "the brand, but not in texts about recruitment".
    """
    if not query or not query.strip():
        raise ValueError("empty query: remove the key or write terms such as '\"Atlas\" AND panne'")
    parser = _Parser(_tokenize(query))
    result = parser.parse_or()
    rest = parser.peek()
    if rest.kind != "end":
        if rest.kind == ")":
            raise ValueError(f"unexpected ')' at character {rest.at + 1}: no '(' opens it")
        raise ValueError(f"unexpected {rest.text!r} at character {rest.at + 1}")
    return result
