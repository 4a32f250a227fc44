"""Figures that moved: the direction times what the figure is worth, in three languages."""

from __future__ import annotations

import pytest

from ereputation.sentiment import _clause_ends, _tokens, figures_moved, lexicon_scores
from ereputation.trend import MOVE_VALUE, WINDOW, movements


def by_index(text: str, language: str, ends: bool = False) -> dict[int, float]:
    """What the lexicon reads per token index: a movement word's value, its figure's words 0
    (``ends``: with the text's clause ends)."""
    tokens = _tokens(text)
    clause_ends = (lambda: _clause_ends(text)) if ends else tuple
    out: dict[int, float] = {}
    for at, figure, value in movements(tokens, language, _tokens, clause_ends):
        out[at] = value
        out.update(dict.fromkeys(figure, 0.0))
    return out


def moved(text: str, language: str) -> dict[str, float]:
    """Each moved token's value, by the token."""
    tokens = _tokens(text)
    return {tokens[i]: v for i, v in by_index(text, language).items()}


@pytest.mark.parametrize(
    ("text", "language", "word", "sign"),
    [
        ("Quarterly profits rose 12%", "en", "rose", 1),
        ("Complaints fell by 40% last year", "en", "fell", 1),
        ("The operator raised its prices again", "en", "raised", -1),
        ("The bank cuts mortgage rates by half a point", "en", "cuts", 1),
        ("The group will cut 300 jobs", "en", "cut", -1),
        ("Its share price jumped 8%", "en", "jumped", 1),
        ("Deliveries beat analyst forecasts", "en", "beat", 1),
        ("Le bénéfice net a progressé de 18 %", "fr", "progresse", 1),
        ("Les plaintes des clients ont reculé", "fr", "recule", 1),
        ("Les tarifs des forfaits augmentent de 15 %", "fr", "augmentent", -1),
        ("ارتفعت أرباحها بنسبة 12 في المائة", "ar", "ارتفعت", 1),
        ("وانخفضت الشكايات هذا العام", "ar", "وانخفضت", 1),
        ("رفعت الشركة أسعار الاشتراك", "ar", "رفعت", -1),
        ("تراجع عدد مشتركيها", "ar", "تراجع", -1),
        # Jobs in the singular that Arabic uses after 11 and more, created or cut.
        ("أعلنت الشركة عن خطة لإلغاء 600 منصب شغل", "ar", "لالغاء", -1),
        ("ستخلق المجموعة 500 فرصة عمل في طنجة", "ar", "ستخلق", 1),
        ("قررت حذف 120 منصبا", "ar", "حذف", -1),
        # French jobs created or cut; fees cut are good news.
        ("Le groupe annonce la création de 800 emplois directs", "fr", "creation", 1),
        ("L'opérateur va supprimer 600 emplois", "fr", "supprimer", -1),
        ("La banque supprime les frais de tenue de compte", "fr", "supprime", 1),
        # A rate is what it measures; participles agree; a price target is not a price.
        ("Un taux d'occupation record de 84 %", "fr", "record", 1),
        ("Le taux de fraude est tombé à 0,02 %", "fr", "tombe", 1),
        ("Le taux d'intérêt a augmenté", "fr", "augmente", -1),
        ("Les pertes se sont réduites", "fr", "reduites", 1),
        ("Analysts raised their price target on the stock", "en", "raised", 1),
        ("The hospital halves emergency waiting times", "en", "halves", 1),
        ("Mortality in the cages dropped to 4%", "en", "dropped", 1),
        ("Power cuts fell by half this year", "en", "fell", 1),
        ("Les coupures ont diminué de moitié", "fr", "diminue", 1),
        # A court or a regulator ends a sanction: good news; a dividend suspended: bad.
        ("An appeals court cancelled the customs fine", "en", "cancelled", 1),
        ("A court threw out the villagers' lawsuit", "en", "threw", 1),
        ("The board suspended its dividend", "en", "suspended", -1),
        ("Le tribunal a annulé l'amende infligée par le Conseil", "fr", "annule", 1),
        ("ألغت المحكمة الغرامة المفروضة على الشركة", "ar", "الغت", 1),
        # An insurer's claims that surge are bad news; sales that stall too.
        ("Motor claims rose faster than premiums", "en", "rose", -1),
        ("Insurance Claims Surge After Floods", "en", "surge", -1),
        ("Claims against the insurer fell by a third", "en", "fell", 1),
        ("Sales stalled in the second quarter", "en", "stalled", -1),
        # French profits that melt away, or are multiplied.
        ("Le bénéfice a fondu de 40 %", "fr", "fondu", -1),
        ("Les plaintes ont fondu cette année", "fr", "fondu", 1),
        ("Le bénéfice a été multiplié par trois", "fr", "multiplie", 1),
        # Auxiliaries and reflexives are not counted in the distance.
        ("Les pertes du groupe se sont nettement réduites", "fr", "reduites", 1),
        ("Delays have since been sharply reduced", "en", "reduced", 1),
        # Arabic shares that plunge; delays or costs cut.
        ("هوى سهم الشركة بنسبة 9 في المائة", "ar", "هوي", -1),
        ("تهاوى سهم المجموعة في البورصة", "ar", "تهاوي", -1),
        ("قلصت الشركة تكاليف الإنتاج", "ar", "قلصت", 1),
    ],
)
def test_direction_times_worth(text: str, language: str, word: str, sign: int) -> None:
    found = moved(text, language)
    assert found[word] == sign * MOVE_VALUE
    # The figure's own words count for nothing: "complaints" is not also read as a complaint.
    assert sorted(v for v in found.values() if v) == [sign * MOVE_VALUE]


@pytest.mark.parametrize(
    ("text", "moved_word", "figure", "sign"),
    [
        # A tie: the figure after a verb is its object when only a determiner is between.
        ("It posted a loss and suspended its dividend", "suspended", "dividend", -1),
        ("Costs rose and cut the margin", "cut", "margin", -1),
        # Else the figure before stays, as in "sales rose".
        ("Sales rose and deliveries too", "rose", "sales", 1),
        ("Sales then rose on prices", "rose", "sales", 1),
    ],
)
def test_a_verb_takes_its_object_on_a_tie(
    text: str, moved_word: str, figure: str, sign: int
) -> None:
    tokens = _tokens(text)
    found = {
        tokens[at]: (tokens[span.start], value)
        for at, span, value in movements(tokens, "en", _tokens)
    }
    assert found[moved_word] == (figure, sign * MOVE_VALUE)


def test_no_figure_no_movement() -> None:
    assert moved("The river rose overnight and fell again", "en") == {}
    assert moved("The airline cancelled 40 flights", "en") == {}  # flights are no figure
    # علق is "suspended" and far more often "commented": not a movement at all
    assert moved("علق المدير على ارتفاع الأرباح", "ar") == {"ارتفاع": MOVE_VALUE, "الارباح": 0.0}
    assert moved("Le prix a été remis au lauréat", "fr") == {}


def test_a_figure_too_far_is_not_the_one_that_moved() -> None:
    far = "profits " + "x " * WINDOW + "rose"
    near = "profits " + "x " * (WINDOW - 1) + "rose"
    assert moved(far, "en") == {}
    assert moved(near, "en")["rose"] == MOVE_VALUE


def test_a_word_inside_a_figure_is_not_a_movement() -> None:
    # "job cuts" is a figure: its "cuts" does not pair with it.
    assert moved("The firm announced 500 job cuts", "en") == {}
    assert moved("Job cuts rose sharply", "en")["rose"] == -MOVE_VALUE


def test_negation_flips_a_movement() -> None:
    positive, negative, _ = lexicon_scores("The company did not raise its prices", "en")
    assert positive > 0 and negative == 0
    positive, negative, _ = lexicon_scores("Sahara Lait n'a pas augmenté ses prix", "fr")
    assert positive > 0 and negative == 0
    positive, negative, _ = lexicon_scores("لم ترفع الشركة أسعارها", "ar")
    assert positive > 0 and negative == 0


def test_losses_that_narrow_are_good_news() -> None:
    positive, negative, _ = lexicon_scores("Net losses narrowed in the second half", "en")
    assert positive == MOVE_VALUE and negative == 0


def test_an_elided_pronoun_is_not_a_movement() -> None:
    # "s'envole" was once listed whole, and made every "s'" (s'est, s'il) a rise.
    assert moved("Le chiffre d'affaires s'est stabilisé", "fr") == {}
    assert moved("Les ventes s'effondrent de 35 %", "fr")["effondrent"] == -MOVE_VALUE


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Malgré la hausse des coûts, les ventes ont progressé de 9 %", "fr"),
        ("Les ventes ont progressé de 9 % malgré la hausse des coûts", "fr"),
        ("Despite higher costs, sales rose by 9%", "en"),
        ("رغم ارتفاع التكاليف، ارتفعت المبيعات بنسبة 9 في المائة", "ar"),
        # Markers of two words, and the "bien" of "bien que", which is not praise.
        ("Bien que les coûts aient augmenté, les ventes ont progressé de 9 %", "fr"),
        ("Même si les coûts ont augmenté, les ventes ont progressé de 9 %", "fr"),
    ],
)
def test_a_concession_counts_half(text: str, language: str) -> None:
    positive, negative, _ = lexicon_scores(text, language)
    assert (positive, negative) == (MOVE_VALUE, MOVE_VALUE / 2)


def test_an_amount_between_a_movement_and_its_figure_does_not_count() -> None:
    text = "La compagnie a transporté le nombre record de 4,2 millions de passagers en 2023."
    # "4,2" is a number, not two clauses, and its words are not counted in the distance.
    assert _clause_ends(text) == [len(_tokens(text))]
    found = by_index(text, "fr", ends=True)
    assert sorted(v for v in found.values() if v) == [MOVE_VALUE]
    assert moved("a record 4 200 000 000 passengers", "en")["record"] == MOVE_VALUE
    assert "record" not in moved("a record year for some new long haul passengers", "en")


@pytest.mark.parametrize(
    ("text", "language"),
    [("Hausse du bénéfice", "fr"), ("Record profit", "en"), ("قررت حذف 120 منصب", "ar")],
)
def test_a_figure_that_ends_the_text_and_starts_a_longer_one(text: str, language: str) -> None:
    # Its figure is the last word, not a span past the end (analyze printed it, and crashed).
    for _, figure, _ in movements(_tokens(text), language, _tokens):
        assert figure == range(len(_tokens(text)) - 1, len(_tokens(text)))
    assert figures_moved(text, language)
