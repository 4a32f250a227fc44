"""Build ``ereputation/data/langid/trie.bin.gz`` and ``scores.bin.gz`` from the installed
py3langid model.

``python bench/langid_table.py`` — run it again when py3langid's model changes (the daemon
then falls back to py3langid's own, larger walk until the table matches; a test says so).
It names each state of py3langid's DFA by its string (see ``ereputation/langid_table.py``)
and checks, before writing, that the table counts exactly the features py3langid counts on
the sentiment training texts of ``../shared/train/sentiment`` (or on built-in ones).
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

from ereputation import langid_table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "ereputation" / langid_table.TABLE
SCORES_OUT = ROOT / "ereputation" / langid_table.SCORES


def texts() -> list[str]:
    shared = ROOT.parent / "shared" / "train" / "sentiment"
    found = [
        line.split("\t")[0]
        for path in sorted(shared.glob("*.tsv"))
        for line in path.read_text(encoding="utf-8").splitlines()[1:500]
    ]
    return found or ["Le réseau est en panne depuis ce matin.", "Quarterly results beat forecasts."]


def main() -> None:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    digest = langid_table.model_digest(langid_table.model_path())
    buffer = io.BytesIO()
    states = langid_table.write_table(identifier, digest, buffer)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))
    table = langid_table.read_table(digest)
    assert table is not None
    checked = texts()
    for text in checked:
        data = identifier._encode(text)
        expected = visit_counts(identifier.tk_nextmove, identifier._rowbase,
                                identifier.tk_output, data)  # fmt: skip
        if langid_table.feature_counts(table, data) != expected:
            OUT.unlink()
            sys.exit(f"the table counts other features than py3langid on: {text!r}")
    print(f"{OUT.relative_to(ROOT)}: {states} states, {OUT.stat().st_size} bytes, "
          f"same features as py3langid on {len(checked)} texts")  # fmt: skip
    # Our languages' columns of the score table, as load() would read them from the model.
    from ereputation.language import _LANGUAGES

    labels, priors, scores = langid_table.model_columns(_LANGUAGES)
    buffer = io.BytesIO()
    langid_table.write_scores(digest, _LANGUAGES, labels, priors, scores, buffer)
    SCORES_OUT.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))
    shipped = langid_table.read_scores(digest, _LANGUAGES)
    assert shipped == langid_table.Scores.from_arrays(labels, priors, scores)
    print(
        f"{SCORES_OUT.relative_to(ROOT)}: {len(labels)} languages × {scores.shape[0]} "
        f"features, {SCORES_OUT.stat().st_size} bytes, bit for bit the model's"
    )


if __name__ == "__main__":
    main()
