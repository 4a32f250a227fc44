"""Answers per whitespace-separated token, kept for the next text that has the same token.

Some steps read a text one token at a time because no step of theirs sees across whitespace:
the words of a story fingerprint (``stories.normalise_words``) and the stop words, Darija clues
and Arabic letters that language detection counts in every text (``language._signs``).
Tokens recur from article to article, so each token's answer is kept.  Long tokens are rare
and rarely seen twice, so they are not; and a full memo starts again rather than track what
was used least: a daemon runs for months.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["TokenMemo"]

V = TypeVar("V")


class TokenMemo(dict[str, V]):
    """``memo[token]``: ``answer(token)``, computed once while it is kept."""

    def __init__(self, answer: Callable[[str], V], kept: int = 1 << 16, longest: int = 40) -> None:
        super().__init__()
        self._answer = answer
        self._kept = kept
        self._longest = longest

    def __missing__(self, token: str) -> V:
        value = self._answer(token)
        if len(token) <= self._longest:
            if len(self) >= self._kept:
                self.clear()
            self[token] = value
        return value
