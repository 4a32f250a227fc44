"""Brand matching that francophone and arabophone users can trust."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ereputation.config import Brand
from ereputation.match import (
    _FOLDS_DIFFER,
    _TABLES,
    BrandMatcher,
    Hit,
    _fold_char,
    _plain,
    fold_text,
    make_snippet,
    mention_context,
    sentiment_context,
)

FOLD_TABLE = _TABLES[True]

ATLAS = Brand(
    "Atlas Télécom",
    aliases=("Atlas Telecom", "اتصالات الأطلس", "الأطلس تيليكوم"),
    exclude=("Atlas Mountains",),
)


def matched(brands: list[Brand], text: str) -> list[str]:
    return [h.matched for h in BrandMatcher(brands).find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Selon d’Atlas Télécom, la panne est réparée.", ["Atlas Télécom"]),
        ("ATLAS TELECOM augmente ses prix", ["ATLAS TELECOM"]),
        ("l'Atlas Telecom et l‘atlas télécom", ["Atlas Telecom", "atlas télécom"]),
        (
            "Atlas  Télécom, Atlas-Télécom et Atlas\nTelecom",
            ["Atlas  Télécom", "Atlas-Télécom", "Atlas\nTelecom"],
        ),
        ("ATLAS TÉLÉCOM", ["ATLAS TÉLÉCOM"]),
        ("Atlas Te\u0301le\u0301com (NFD accents)", ["Atlas Te\u0301le\u0301com"]),
        ("AtlasTelecom ou Atlas Télécoms", []),
    ],
)
def test_case_accents_apostrophes_spaces_never_matter(text: str, expected: list[str]) -> None:
    assert matched([ATLAS], text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('@AtlasTelecom 3 jours sans réseau "réessayez plus tard" 🤡', ["@AtlasTelecom"]),
        ("RT @atlastelecom: panne réparée", ["@atlastelecom"]),
        ("#AtlasTélécom #Atlas_Telecom", ["#AtlasTélécom", "Atlas_Telecom"]),
        ("#اتصالات_الأطلس كتقطع", ["اتصالات_الأطلس"]),
        # Glued without a sign it is another word; a longer handle is another account.
        ("AtlasTelecom, @AtlasTelecomFans, #AtlasTelecoms, @Atlas", []),
    ],
)
def test_handles_and_hashtags_name_the_brand(text: str, expected: list[str]) -> None:
    assert matched([ATLAS], text) == expected


def test_offsets_point_into_the_original_text() -> None:
    text = "Œuvre — d’ATLAS TELECOM"
    (hit,) = BrandMatcher([ATLAS]).find(text)
    assert hit == Hit("Atlas Télécom", 10, 23, "ATLAS TELECOM", "Atlas Télécom")
    assert text[hit.start : hit.end] == hit.matched


def test_ligatures() -> None:
    brand = Brand("Cœur de Lion", aliases=("Æther",))
    assert matched([brand], "COEUR DE LION et coeur de lion") == ["COEUR DE LION", "coeur de lion"]
    assert matched([Brand("Coeur de Lion")], "Le Cœur de Lion") == ["Cœur de Lion"]
    assert matched([brand], "aether et ÆTHER") == ["aether", "ÆTHER"]


@pytest.mark.parametrize(
    "text",
    [
        "أعلنت اتصالات الأطلس",
        "أعلنت اتصالات الاطلس",  # hamza dropped
        "أعلنت إتصالات الأطلس",  # hamza under alef
        "أعلنت اتّصالاتُ الأَطلسِ",  # harakat
        "أعلنت اتصـــالات الأطلس",  # tatweel
        "واتصالات الأطلس",  # و
        "فاتصالات الأطلس",  # ف
        "باتصالات الأطلس",  # ب
        "لاتصالات الأطلس",  # ل
        "والاتصالات الأطلس",  # وال
        "بالاتصالات الأطلس",  # بال
    ],
)
def test_arabic_normalisation_and_clitics(text: str) -> None:
    hits = BrandMatcher([ATLAS]).find(text)
    assert [h.term for h in hits] == ["اتصالات الأطلس"]
    assert fold_text(hits[0].matched) == "اتصالات الاطلس"


def test_arabic_article_forms_of_a_term_that_starts_with_al() -> None:
    for text in ("الأطلس تيليكوم", "للأطلس تيليكوم", "وللأطلس تيليكوم", "بالأطلس تيليكوم",
                 "والاطلس تيليكوم", "أطلس تيليكوم"):  # fmt: skip
        assert [h.term for h in BrandMatcher([ATLAS]).find(text)] == ["الأطلس تيليكوم"], text


def test_a_hit_of_a_term_that_starts_with_al_keeps_its_article() -> None:
    """What `analyze` shows and the mentions table stores is the name as written, with ال."""
    for text, want in (
        ("أعلنت الأطلس تيليكوم", "الأطلس تيليكوم"),
        ("وبالأطلس تيليكوم", "الأطلس تيليكوم"),  # و ب clitics before the article
        ("للأطلس تيليكوم", "أطلس تيليكوم"),  # ل + elided article: nothing to take back
        ("أطلس تيليكوم", "أطلس تيليكوم"),
    ):
        (hit,) = BrandMatcher([ATLAS]).find(text)
        assert (hit.matched, text[hit.start : hit.end]) == (want, want), text


def test_alef_maqsura_and_ta_marbuta() -> None:
    brand = Brand("Maroc Telecom", aliases=("مستشفى الرحمة",))
    assert matched([brand], "زار مستشفي الرحمه أمس") == ["مستشفي الرحمه"]


def test_a_final_hamza_left_out() -> None:
    brand = Brand("Assafa", aliases=("الصفاء للأغذية",))
    texts = {
        "تأسست الصفا للأغذية سنة 1987": "الصفا للأغذية",
        "أعلنت الصفاء للأغذية": "الصفاء للأغذية",
        "وقالت والصفا للأغذية": "الصفا للأغذية",
        "الصَّفا للأغذية": "الصَّفا للأغذية",  # harakat: the slow path
    }
    for text, want in texts.items():
        assert matched([brand], text) == [want], text
    assert matched([brand], "الصفاءات للأغذية") == []
    # A one-word name keeps its hamza: "بناء" must not find "بنا" ("with us").
    assert matched([Brand("x", aliases=("بناء",))], "جاء بنا إلى هنا") == []


def test_no_hit_inside_another_word_in_any_script() -> None:
    orange = Brand("Orange")
    assert matched([orange], "Une orangeade, des oranges, Orange.") == ["Orange"]
    assert matched([orange], "orangeade") == []
    assert matched([orange], "L'Orange") == ["Orange"]
    arabic = Brand("x", aliases=("اورنج",))
    assert matched([arabic], "شركة اورنج") == ["اورنج"]
    assert matched([arabic], "شركةاورنج") == []
    assert matched([arabic], "اورنجات") == []
    # a Latin letter is never a clitic ("w" of "winwi" is not Arabic "و")
    assert matched([Brand("Inwi")], "winwi inwi2 Inwi") == ["Inwi"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ترفع تصنيف لـVolubilis Assurance من "BBB"', ["Volubilis Assurance"]),  # ل + tatweel
        ("ترفع تصنيف لVolubilis Assurance", ["Volubilis Assurance"]),  # fast path
        ("وOCP وبـOCP والـOCP وللـOCP", ["OCP", "OCP", "OCP", "OCP"]),
        ("بـOrange وorange وOranges", ["Orange"]),  # case-sensitive, still a whole word
        ("xOCP مثلOCP", []),  # a Latin letter or a longer Arabic word is not a clitic
        ("وYahoo! وE.Leclerc", ["Yahoo!", "E.Leclerc"]),
    ],
)
def test_arabic_clitics_glued_to_a_latin_name(text: str, expected: list[str]) -> None:
    brands = [
        Brand("Volubilis Assurance"),
        Brand("OCP"),
        Brand("Orange", case_sensitive=True),
        Brand("Yahoo!"),
        Brand("E.Leclerc"),
    ]
    assert matched(brands, text) == expected
    matcher = BrandMatcher(brands)
    assert matcher.find(text) == matcher._find_exact(text)


def test_case_sensitive_brand() -> None:
    orange = Brand("Orange", case_sensitive=True)
    assert matched([orange], "Le jus d'orange et Orange Maroc, ORANGE") == ["Orange"]
    # accents and ligatures still do not matter
    assert matched([Brand("Élan", case_sensitive=True)], "Elan et élan") == ["Elan"]


def test_exclusion_is_checked_near_the_hit() -> None:
    brand = Brand("Atlas", exclude=("Atlas Mountains", "atlas routier"))
    assert matched([brand], "Hiking in the Atlas Mountains is great.") == []
    assert matched([brand], "Un atlas routier du Maroc") == []
    text = (
        "We spent a week hiking in the Atlas Mountains with friends and family last summer.\n\n"
        "Separately, Atlas announced a new fibre offer for homes in Casablanca and Rabat."
    )
    hits = BrandMatcher([brand]).find(text)
    assert [h.start for h in hits] == [text.index("Atlas announced")]


def test_query_must_hold_over_the_whole_text() -> None:
    brand = Brand("Atlas Télécom", query='"Atlas Télécom" AND (panne OR tarif) NOT recrutement')
    matcher = BrandMatcher([brand])
    assert matcher.find("Atlas Télécom: nouvelle PANNE à Rabat")
    assert matcher.find("Les tarifs changent. Ce matin, Atlas Telecom a confirmé.") == []
    assert matcher.find("Atlas Télécom: le tarif baisse")
    assert matcher.find("Atlas Télécom: panne. Offres de recrutement.") == []
    assert matcher.find("Panne générale du réseau") == []  # query true, brand absent
    assert matcher.query_terms_found(brand.name, "atlas telecom panne") == {
        "Atlas Télécom": True, "panne": True, "tarif": False, "recrutement": False}  # fmt: skip


def test_bad_query_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="missing"):
        BrandMatcher([Brand("X", query="(a OR b")])


def test_several_brands_in_text_order_with_overlaps() -> None:
    brands = [Brand("Atlas Télécom"), Brand("Atlas Group", aliases=("Atlas",)), Brand("Inwi")]
    hits = BrandMatcher(brands).find("Inwi et Atlas Télécom (groupe Atlas)")
    assert [(h.brand, h.matched) for h in hits] == [
        ("Inwi", "Inwi"),
        ("Atlas Télécom", "Atlas Télécom"),
        ("Atlas Group", "Atlas"),
        ("Atlas Group", "Atlas"),
    ]


def test_longest_term_of_a_brand_wins() -> None:
    brand = Brand("Atlas", aliases=("Atlas Télécom",))
    (hit,) = BrandMatcher([brand]).find("chez Atlas Télécom")
    assert (hit.matched, hit.term) == ("Atlas Télécom", "Atlas Télécom")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Soldes chez H&M, H & M et h &m.", ["H&M", "H & M", "h &m"]),
        ("Procter&Gamble, PROCTER  &  GAMBLE", ["Procter&Gamble", "PROCTER  &  GAMBLE"]),
        ("H&Mall, HM, H et M, H-M", []),  # inside a word, or without the ampersand
        ("Sœurs chez H & M", ["H & M"]),  # œ: the folded (not the fast) path
    ],
)
def test_spaces_around_an_ampersand_never_matter(text: str, expected: list[str]) -> None:
    brands = [Brand("H&M"), Brand("Procter & Gamble")]
    assert matched(brands, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yahoo! et Yahoo annoncent, selon Yahoo.", ["Yahoo!", "Yahoo", "Yahoo"]),
        ("YAHOO! FINANCE, Yahoo Finance", ["YAHOO! FINANCE", "Yahoo Finance"]),
        ("E.Leclerc, E. Leclerc, e.leclerc", ["E.Leclerc", "E. Leclerc", "e.leclerc"]),
        ("Yahoos, Yahooligans, Leclerc, E Leclerc", []),  # inside a word, or the dot gone
        ("Sœur de E. Leclerc chez Yahoo", ["Yahoo", "E. Leclerc"]),  # œ: the folded path
    ],
)
def test_a_names_final_punctuation_may_be_left_out_and_inner_stops_spaced(
    text: str, expected: list[str]
) -> None:
    brands = [Brand("Yahoo!", aliases=("Yahoo! Finance",)), Brand("E.Leclerc")]
    assert sorted(matched(brands, text)) == sorted(expected)


@given(st.text(max_size=80))
def test_find_never_breaks_and_offsets_are_exact(noise: str) -> None:
    text = noise + " d’ATLAS TELECOM " + noise
    hits = BrandMatcher([ATLAS]).find(text)
    assert hits
    for hit in hits:
        assert text[hit.start : hit.end] == hit.matched
        assert hit.matched.strip() == hit.matched


def test_mention_context_is_the_sentence_around_the_hit() -> None:
    text = (
        "Le marché des télécoms se porte bien cette année au Maroc. "
        "Atlas Télécom a subi une panne géante hier soir, les clients sont furieux. "
        "Par ailleurs, la météo sera ensoleillée demain sur tout le pays."
    )
    (hit,) = BrandMatcher([ATLAS]).find(text)
    assert mention_context(text, hit) == (
        "Atlas Télécom a subi une panne géante hier soir, les clients sont furieux."
    )


def test_sentiment_context_leaves_out_the_brands_own_hits_only() -> None:
    brands = [ATLAS, Brand("Orange", case_sensitive=True)]
    text = "Atlas Telecom et Orange : panne chez ATLAS TÉLÉCOM hier.\nAtlas Télécom recrute."
    hits = BrandMatcher(brands).find(text)
    atlas = next(h for h in hits if h.brand == ATLAS.name)
    assert sentiment_context(text, atlas, hits) == "et Orange : panne chez hier. recrute."
    orange = next(h for h in hits if h.brand == "Orange")
    assert "Orange" not in sentiment_context(text, orange, hits)
    assert sentiment_context(text, orange, hits).startswith("Atlas Telecom et :")


def test_mention_context_widens_a_short_sentence() -> None:
    text = (
        "Atlas Télécom. Une panne a touché tout le réseau mobile hier soir à Casablanca et Rabat."
    )
    (hit,) = BrandMatcher([ATLAS]).find(text)
    assert mention_context(text, hit) == text


def test_mention_context_does_not_cut_at_abbreviations() -> None:
    text = "Selon M. Alami, directeur d'Atlas Télécom, le réseau est rétabli depuis ce matin."
    (hit,) = BrandMatcher([ATLAS]).find(text)
    assert mention_context(text, hit) == text


def test_snippet_whole_words_and_ellipses() -> None:
    text = ("mot " * 100) + "Atlas Télécom" + (" fin" * 100)
    (hit,) = BrandMatcher([ATLAS]).find(text)
    snippet = make_snippet(text, hit, width=60)
    assert snippet.startswith("…mot ") and snippet.endswith(" fin…")
    assert "Atlas Télécom" in snippet
    assert len(snippet) <= 62
    short = "Panne chez Atlas Télécom\nhier."
    (hit,) = BrandMatcher([ATLAS]).find(short)
    assert make_snippet(short, hit) == "Panne chez Atlas Télécom hier."


# The prefilter (BrandMatcher._may_match) lets ``find`` skip the exact matcher for texts that
# cannot name a brand.  It must never drop a hit: ``find`` equals the exact matcher on texts
# built to hold brand variants in every form the matcher accepts.
PREFILTER_BRANDS = [
    ATLAS,
    Brand("Orange", case_sensitive=True),
    Brand("Élan", case_sensitive=True, aliases=("Cœur de Lion",)),
    Brand("Banque Zellige", aliases=("Zellige Bank", "بنك الزليج")),
    Brand("Coca-Cola", aliases=("مستشفى الرحمة",)),
    Brand("H&M", aliases=("Procter & Gamble",)),
    Brand("Yahoo!", aliases=("E.Leclerc",)),
]
PREFILTER = BrandMatcher(PREFILTER_BRANDS)
# What may be glued to, or slipped inside, a term's letters without changing its fold.
INSERTS = ["\u0301", "\u0651", "\u064e", "ـ", "\u200d", "\u0345", "\u00ad"]
CLITICS = ["", "و", "ف", "ب", "ل", "ال", "وال", "بال", "لل", "d’", "l'"]


@st.composite
def brand_variant(draw: st.DrawFn) -> str:
    brand = draw(st.sampled_from(PREFILTER_BRANDS))
    term = draw(st.sampled_from(brand.terms))
    if term.startswith("ال") and draw(st.booleans()):
        term = term[2:]  # an Arabic term that starts with the article also matches without it
    forms = ["same", "nfd", "wide", "insert", "insert"]
    if not brand.case_sensitive:
        forms += ["upper", "lower"]
    out = []
    for char in term:
        form = draw(st.sampled_from(forms))
        if form == "upper":
            char = char.upper()
        elif form == "lower":
            char = char.lower()
        elif form == "nfd":
            char = unicodedata.normalize("NFD", char)
        elif form == "wide" and "!" <= char <= "~":
            char = chr(ord(char) - 0x21 + 0xFF01)  # full-width form
        elif form == "insert" and out:
            char = draw(st.sampled_from(INSERTS)) + char
        elif char in " -":
            char = draw(st.sampled_from([" ", "  ", "-", "\n", "\u00a0", "–"]))
        elif char == "&":
            char = draw(st.sampled_from(["&", " & ", "& ", "\u00a0&\n"]))
        out.append(char)
    return draw(st.sampled_from(CLITICS)) + "".join(out)


@settings(max_examples=400)
@given(st.lists(st.one_of(brand_variant(), st.text(max_size=12)), min_size=1, max_size=6))
def test_prefilter_never_drops_a_hit(parts: list[str]) -> None:
    text = " ".join(parts)
    assert PREFILTER.find(text) == PREFILTER._find_exact(text)


@given(st.text(max_size=200))
def test_prefilter_agrees_on_any_text(text: str) -> None:
    assert PREFILTER.find(text) == PREFILTER._find_exact(text)


def test_prefilter_rejects_texts_without_a_brand() -> None:
    text = "Le jus de pomme, à Rabat, coûte moins cher."
    assert not PREFILTER._may_match(text, text.translate(FOLD_TABLE))
    orangeade = "une orangeade fraîche"  # passes the prefilter, not the exact matcher
    assert PREFILTER._may_match(orangeade, orangeade.translate(FOLD_TABLE))
    assert PREFILTER.find(orangeade) == []


def test_both_folds_agree_once_casefolded_outside_the_listed_characters() -> None:
    """What makes the prefilter exact for case-sensitive brands (every code point checked)."""
    differ = [
        chr(code)
        for code in range(0x110000)
        if not 0xD800 <= code < 0xE000
        and _fold_char(chr(code), True).casefold() != _fold_char(chr(code), False).casefold()
    ]
    assert differ
    assert all(_FOLDS_DIFFER.fullmatch(char) for char in differ)


# The fast path (BrandMatcher._find_plain): a text whose every character folds to exactly one
# character is matched with patterns over the text itself, no fold.  The draws below stay in
# those characters (accented Latin letters, Arabic letter forms, typographic punctuation), so
# that most texts take the fast path, and ``find`` must still equal the exact matcher.
LATIN_FORMS: dict[str, list[str]] = {}
for _code in range(0xC0, 0x250):
    _base = unicodedata.normalize("NFD", chr(_code))[0]
    if _base.isascii() and _base.isalpha():
        LATIN_FORMS.setdefault(_base, []).append(chr(_code))
ARABIC_FORMS = {"ا": ["أ", "إ", "آ", "ٱ"], "ي": ["ى", "ی"], "ه": ["ة"], "ى": ["ي"], "ة": ["ه"]}
PLAIN_SPACES = [" ", "  ", "-", "\n", "\u00a0", "–", "—", "\u2009", " - "]
PLAIN_NOISE = st.text(
    alphabet=st.one_of(
        st.characters(max_codepoint=0x24F),
        st.sampled_from("اأبتثجحخدذرزسشصضطظعغفقكلمنهويىةءئؤ’‘«»…“”€ـ"),
    ),
    max_size=12,
)


@st.composite
def plain_brand_variant(draw: st.DrawFn) -> str:
    brand = draw(st.sampled_from(PREFILTER_BRANDS))
    term = draw(st.sampled_from(brand.terms))
    if term.startswith("ال") and draw(st.booleans()):
        term = term[2:]
    out = []
    for char in term:
        forms = [char, *LATIN_FORMS.get(char, []), *ARABIC_FORMS.get(char, [])]
        if not brand.case_sensitive:
            forms += [f.upper() for f in forms] + [f.lower() for f in forms]
        if char in " -":
            forms = PLAIN_SPACES
        elif char == "&":
            forms = ["&", " & ", "&  ", "\u00a0&"]
        out.append(draw(st.sampled_from(forms)))
    before = draw(st.sampled_from(CLITICS + ["x", "_", "'", "«", "(", "é"]))
    after = draw(st.sampled_from(["", " ", ".", "s", "é", "_", "’", "ـ", "»", "ة"]))
    return before + "".join(out) + after


@settings(max_examples=600)
@given(st.lists(st.one_of(plain_brand_variant(), PLAIN_NOISE), min_size=1, max_size=6))
def test_fast_path_equals_the_exact_matcher(parts: list[str]) -> None:
    text = " ".join(parts)
    assert PREFILTER.find(text) == PREFILTER._find_exact(text)


@given(st.lists(st.one_of(plain_brand_variant(), PLAIN_NOISE), min_size=1, max_size=6))
def test_fast_path_equals_the_exact_matcher_glued(parts: list[str]) -> None:
    """No spaces between the parts: word boundaries decided by what the parts bring."""
    text = "".join(parts)
    assert PREFILTER.find(text) == PREFILTER._find_exact(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Panne chez ATLAS TÉLÉCOM à Rabat.", ["ATLAS TÉLÉCOM"]),
        ("« Atlas-Telecom » répond ; l’Orange de Élan", ["Atlas-Telecom", "Orange", "Élan"]),
        ("Atlas Télécommunications et orange, orangeade, Orangeade", []),
        ("وأعلنت واتصالات الأطلس وبالزليج عن بنك الزليج", ["اتصالات الأطلس", "بنك الزليج"]),
        ("Zellige Bank_ et Zellige_Bank et xZellige Bank", ["Zellige Bank", "Zellige_Bank"]),
        ("La banque zellige (مستشفى الرحمه) — fin", ["banque zellige", "مستشفى الرحمه"]),
    ],
)
def test_fast_path_examples(text: str, expected: list[str]) -> None:
    assert _plain().outside.search(text) is None  # these texts do take the fast path
    assert [h.matched for h in PREFILTER.find(text)] == expected
    assert PREFILTER.find(text) == PREFILTER._find_exact(text)


def test_plain_characters_fold_to_one_character_in_both_folds() -> None:
    """What makes the fast path exact: over a plain text, folded offsets are original ones."""
    plain = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    plain = [c for c in plain if _plain().outside.match(c) is None]
    assert "é" in plain and "أ" in plain and "’" in plain and "\u0301" not in plain
    assert all(len(_fold_char(c, True)) == len(_fold_char(c, False)) == 1 for c in plain)
