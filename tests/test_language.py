"""Language of an article: en / fr / ar / arabizi / None."""

from __future__ import annotations

import array
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from ereputation import language
from ereputation.language import (
    _SIGN_CLUES,
    _count,
    _detect,
    _signs,
    _vote,
    arabizi_evidence,
    detect_language,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Atlas Télécom annonce une hausse de ses tarifs à partir du mois prochain.", "fr"),
        ("Les clients se plaignent d'une panne du réseau mobile depuis ce matin", "fr"),
        ("The operator announced record profits despite the network outage.", "en"),
        ("Customers are angry about the new prices", "en"),
        ("أعلنت اتصالات الأطلس عن ارتفاع في أسعار الإنترنت", "ar"),
        ("هاد الشركة خايبة بزاف والخدمة ديالها ماكايناش", "ar"),
        ("hadchi zwin bzaf khoya, tbarkallah 3lik", "arabizi"),
        ("wach kayn chi wa7ed 3ndo mochkil m3a reseau dyal had charika?", "arabizi"),
        ("3lach ma bghitich tjawbni", "arabizi"),
        (
            "Die Kunden beschweren sich über den Ausfall des Mobilfunknetzes seit heute Morgen.",
            None,
        ),
        ("Zara baja los precios de su colección de verano", None),  # es, sure of it
        ("", None),
        ("12345 !!! 😂", None),
        # Short headlines, where py3langid spreads its bets over Latin-script languages
        # (es .45, fr .19; ca .41, en .28): the likelier of French and English.
        ("OCP licencie 300 salariés", "fr"),
        ("3M recalls masks", "en"),
        # Arabic presentation forms (as some tweets and PDFs write it).
        ("ﺍﻵﻥ ﻳﻨﻬﺾ ﺗﺤﺪﻱ ﺟﺪﻳﺪ ﺃﻣﺎﻡ ﺍﻟﺸﺮﻛﺔ", "ar"),
    ],
)
def test_detects_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


def test_french_or_english_with_one_darija_word_stays_french_or_english() -> None:
    assert detect_language("Le ministre a dit inchallah que le projet sera fini en 2025.") == "fr"
    assert detect_language("He said wallah the new 4G network is much faster now") == "en"


def test_no_arabizi_false_alarm_on_english_and_french_sets() -> None:
    """On real English and French texts, arabizi is (almost) never claimed."""
    for name in ("en_vader_tweets.tsv", "fr_deft2017_tweets.tsv"):
        rows = (SHARED / "eval" / "sentiment" / name).read_text("utf-8").splitlines()[1:]
        found = [detect_language(r.split("\t")[0]) for r in rows]
        assert found.count("arabizi") <= len(found) // 200, name
        expected = name[:2]
        assert found.count(expected) >= 0.95 * len(found), name


# The cheap path of detect_language (the stop-word vote, and the two regexes that find where a
# Darija clue may be) must give the answers of the full detector it stands in for.
DARIJA_BITS = ["wach", "bzzzaaaf", "'zwin'", "3lach", "t7tii", "mp3", "4g", "2024", "hchouma,"]


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(DARIJA_BITS + ["le", "the", "de", "of", "et", "and", "été", "où"]),
            st.text(alphabet="abzwhcl37'’ é.,-@#:/", max_size=8),
        ),
        max_size=12,
    )
)
def test_clue_finder_agrees_with_the_word_count(parts: list[str]) -> None:
    text = " ".join(parts)
    assert (_count(_signs(text), _SIGN_CLUES) > 0) == (arabizi_evidence(text)[0] > 0)


def test_vote_agrees_with_the_full_detector_on_the_evaluation_sets() -> None:
    """Where the vote decides, py3langid and the rest agree on (nearly) every text."""
    decided = differ = 0
    for name in ("en_vader_tweets.tsv", "fr_deft2017_tweets.tsv", "ar_myc_arabizi.tsv"):
        rows = (SHARED / "eval" / "sentiment" / name).read_text("utf-8").splitlines()[1:]
        for text in (r.split("\t")[0] for r in rows):
            assert (_count(_signs(text), _SIGN_CLUES) > 0) == (arabizi_evidence(text)[0] > 0)
            if detect_language(text) != _detect(text):
                differ += 1
            decided += _vote(_signs(text)) is not None
    assert decided > 1000
    assert differ <= 3  # py3langid said None on those; the vote says fr


def test_model_is_loaded_once_whatever_the_number_of_threads(monkeypatch) -> None:
    loads = []
    original = language._load_identifier

    def counted():  # type: ignore[no-untyped-def]
        loads.append(1)
        return original()

    monkeypatch.setattr(language, "_load_identifier", counted)
    monkeypatch.setattr(language, "_IDENTIFIER", [])
    barrier = threading.Barrier(8)

    def detect() -> str | None:
        barrier.wait()
        return detect_language("Bonjour tout le monde")  # too few stop words: the model decides

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: detect(), range(8)))
    assert loads == [1]
    assert set(results) == {"fr"}


def test_a_huge_unclear_text_is_identified_on_its_beginning(monkeypatch) -> None:
    """py3langid's walk is plain Python here (~2 µs a byte): a hostile feed's megabyte of
    letters that the stop-word vote leaves open must not cost seconds.  Its beginning
    decides, as it would for a text of that length."""
    real = language._identifier()
    read: list[int] = []

    class Spy:
        def rank(self, text: str) -> list[tuple[str, float]]:
            read.append(len(text))
            return real.rank(text)  # type: ignore[no-any-return]

    monkeypatch.setattr(language, "_IDENTIFIER", [Spy()])
    huge = "Los trabajadores de la empresa anunciaron una huelga indefinida. " * 40_000
    assert detect_language(huge) is None  # Spanish, sure of itself: not one of ours
    assert read == [language.IDENTIFIED_CHARS]
    assert detect_language(huge[: language.IDENTIFIED_CHARS]) is None


@pytest.mark.parametrize(
    ("shipped_trie", "shipped_scores"),
    [(True, True), (True, False), (False, False)],
    ids=["feature trie, shipped scores", "feature trie, the model's scores", "chunked DFA"],
)
def test_the_slim_model_answers_as_py3langid_restricted_to_the_same_languages(
    shipped_trie: bool, shipped_scores: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_load_identifier`` keeps only what our 13 languages need: the shipped feature trie
    and naive Bayes in plain Python (``langid_table.NaiveBayes``) or, when the trie was made
    from another model, py3langid's transition table read in chunks; the shipped score
    columns, or the model's own.  Either way its answers are the library's own, and its
    probabilities too, to the rounding of py3langid's single-precision sums."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from ereputation import langid_table

    read = []
    real_read_scores = langid_table.read_scores
    monkeypatch.setattr(langid_table, "read_scores", lambda *args: read.append(1) or (
        real_read_scores(*args) if shipped_scores else None))  # fmt: skip
    if not shipped_trie:
        monkeypatch.setattr(langid_table, "read_table", lambda digest: None)
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(list(language._LANGUAGES))
    slim = language._load_identifier()
    assert bool(read) is shipped_trie  # the shipped scores are only for the shipped trie
    assert isinstance(slim, langid_table.NaiveBayes) is shipped_trie
    if not shipped_trie:
        assert isinstance(slim.tk_nextmove, array.array) and len(slim.tk_nextmove) > 0
        assert slim.nb_ptc.shape[1] == len(language._LANGUAGES)
    texts = [
        line.split("\t")[0]
        for path in sorted((SHARED / "train" / "sentiment").glob("*.tsv"))
        for line in path.read_text(encoding="utf-8").splitlines()[1:400]
    ]
    assert len(texts) > 2000
    texts += ["", "   ", "OCP", "ATLAS TELECOM RECRUTE", "\udcff broken", "١٢٣ ٤٥٦"]
    for text in texts:
        ours, theirs = slim.rank(text), reference.rank(text)
        assert ours[0][0] == theirs[0][0], text
        expected = dict(theirs)
        assert len(ours) == len(expected)
        for name, probability in ours:
            assert probability == pytest.approx(expected[name], abs=3e-5), (text, name)
        assert slim.classify(text)[0] == reference.classify(text)[0], text


def test_language_detection_never_imports_numpy_nor_py3langids_module() -> None:
    """The feed reader identifies languages with the shipped table (langid_table.NaiveBayes):
    NumPy (~14 MB) is for the daemon's story index, not for every reader process."""
    script = (
        "import sys\n"
        "from ereputation import language, langid_table\n"
        "assert language.detect_language('OCP licencie 300 salariés') == 'fr'\n"
        "assert language._IDENTIFIER, 'the text was clear to the vote: py3langid not asked'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'py3langid')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_model_is_found_where_py3langid_reads_it() -> None:
    """``model_path`` finds the model without importing py3langid (which imports NumPy)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    from ereputation import langid_table

    assert langid_table.model_path() == Path(MODEL_DIR) / MODEL_FILE
    assert langid_table.model_path().is_file()


def test_the_shipped_scores_are_the_models_columns_bit_for_bit() -> None:
    """``data/langid/scores.bin.gz`` saves the reader ~0.5 s of decompressing the model at
    each start; it must be exactly what would be read from the model (else rebuild it with
    ``python bench/langid_table.py``)."""
    from ereputation import langid_table

    digest = langid_table.model_digest(langid_table.model_path())
    shipped = langid_table.read_scores(digest, language._LANGUAGES)
    assert shipped is not None
    labels, priors, scores = langid_table.model_columns(language._LANGUAGES)
    assert shipped.labels == labels
    assert shipped.priors == priors.tolist() and priors.dtype.str == "<f4"
    assert shipped.weights == scores.tobytes() and scores.dtype.str == "<f2"
    assert langid_table.read_scores("another model", language._LANGUAGES) is None
    assert langid_table.read_scores(digest, ("en", "fr")) is None
