"""Boolean brand queries: grammar, precedence and error messages."""

from __future__ import annotations

import re

import pytest

from ereputation.query import And, Not, Or, Term, parse_query


def holds(query: str, *present: str) -> bool:
    return parse_query(query).evaluate(lambda term: term in present)


def test_phrase_and_or_not_with_parentheses() -> None:
    query = '"Atlas Télécom" AND (panne OR tarif) NOT recrutement'
    assert parse_query(query) == And(
        (Term("Atlas Télécom"), Or((Term("panne"), Term("tarif"))), Not(Term("recrutement")))
    )
    assert holds(query, "Atlas Télécom", "panne")
    assert holds(query, "Atlas Télécom", "tarif")
    assert not holds(query, "Atlas Télécom")
    assert not holds(query, "Atlas Télécom", "panne", "recrutement")


def test_implicit_and_and_precedence() -> None:
    assert parse_query("panne réseau") == And((Term("panne"), Term("réseau")))
    # a OR b c  ==  a OR (b AND c)
    assert parse_query("a OR b c") == Or((Term("a"), And((Term("b"), Term("c")))))
    assert holds("a OR b c", "a")
    assert not holds("a OR b c", "b")


def test_google_style_minus_and_pipe() -> None:
    assert parse_query("panne -recrutement") == And((Term("panne"), Not(Term("recrutement"))))
    assert parse_query("panne | tarif") == Or((Term("panne"), Term("tarif")))
    assert parse_query("e-commerce") == Term("e-commerce")


def test_lowercase_operators_are_words() -> None:
    assert parse_query("panne or tarif") == And((Term("panne"), Term("or"), Term("tarif")))


def test_curly_quotes_and_arabic_terms() -> None:
    assert parse_query("“Atlas Télécom” انقطاع") == And((Term("Atlas Télécom"), Term("انقطاع")))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty query"),
        ("   ", "empty query"),
        ('"Atlas Télécom', "unterminated quote"),
        ("(panne OR tarif", "missing ')'"),
        ("panne OR tarif)", "unexpected ')'"),
        ("panne AND", "ends where a term was expected"),
        ("OR panne", "needs a term before it"),
        ("panne AND OR tarif", "needs a term before it"),
        ('""', "empty phrase"),
        ("NOT", "ends where a term was expected"),
    ],
)
def test_bad_queries_say_what_is_wrong(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_query(query)
    # the message is the place where the config loader appends it: one line, no traceback
    try:
        parse_query(query)
    except ValueError as error:
        assert "\n" not in str(error)


def test_terms_lists_every_term_once_per_occurrence() -> None:
    assert parse_query('"a b" (c OR NOT d)').terms() == ("a b", "c", "d")
