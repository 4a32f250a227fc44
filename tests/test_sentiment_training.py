"""The training script's NBSVM-style model and blend export to the weights inference reads.

``bench/train_sentiment.py`` blends a logistic regression with per-class logistic regressions
over NB-scaled features.  Both are folded into one weight per feature and class; if the folding
were wrong (a ratio applied twice, the dense columns scaled), the shipped model would score
differently from the one cross-validation chose, and only the byte-level check at training
time would notice.  Here it is checked on a small set of real sentences, through the real
features and the real pure-Python inference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# scikit-learn (and scipy with it) is the "train" extra, not a test or runtime dependency.
pytest.importorskip("sklearn", reason="scikit-learn is in the train extras")

from scipy import sparse  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import train_sentiment  # noqa: E402

from ereputation.sentiment import (  # noqa: E402
    CLASSES,
    build_model,
    features,
    model_probabilities,
    weight_columns,
)

ROWS = [
    ("Le service est excellent, bravo à toute l'équipe", "positive"),
    ("Très bonne expérience, je recommande", "positive"),
    ("Merci pour votre aide rapide et efficace", "positive"),
    ("Un produit génial, je suis ravi", "positive"),
    ("Service nul, trois jours sans connexion", "negative"),
    ("Je suis très déçu, c'est une honte", "negative"),
    ("Encore une panne, c'est inadmissible", "negative"),
    ("Les prix augmentent et la qualité baisse, honteux", "negative"),
    ("La réunion aura lieu mardi à 10 heures", "neutral"),
    ("Le magasin ouvre de 9 heures à 19 heures", "neutral"),
    ("Le rapport sera publié le mois prochain", "neutral"),
    ("Le conseil se réunit jeudi à la mairie", "neutral"),
] * 2


def _fit(kind: str, beta: float) -> tuple[dict[str, object], train_sentiment.Linear, object]:
    feats = [features(text, "fr") for text, _ in ROWS]
    labels = np.array([CLASSES.index(label) for _, label in ROWS])
    vocab, idf = train_sentiment.fit_vocabulary(feats)
    x = train_sentiment.vectorise(feats, vocab, idf)
    weight = np.ones(len(ROWS))
    lr = train_sentiment.fit_linear("lr", x, labels, weight, 4.0, None, len(vocab))
    nb = train_sentiment.fit_linear("nb", x, labels, weight, 4.0, None, len(vocab))
    coef, intercept = {"lr": lr, "nb": nb, "blend": train_sentiment.blend(lr, nb, beta)}[kind]
    names = sorted(vocab, key=vocab.__getitem__)
    payload = {
        **weight_columns(
            {f: [float(idf[vocab[f]]), *map(float, coef[:, vocab[f]])] for f in names}
        ),
        "dense": [list(map(float, coef[:, len(vocab) + d])) for d in range(len(feats[0][1]))],
        "intercept": list(map(float, intercept)),
    }
    return payload, (coef, intercept), x


@pytest.mark.parametrize(("kind", "beta"), [("lr", 0.0), ("nb", 1.0), ("blend", 0.5)])
def test_exported_weights_give_the_trained_probabilities(kind: str, beta: float) -> None:
    payload, linear, x = _fit(kind, beta)
    expected = train_sentiment.predict(linear, x)
    model = build_model(payload)
    for row, (text, _) in enumerate(ROWS):
        got = model_probabilities(model, text, "fr")
        assert got == pytest.approx(expected[row], abs=1e-6)


def test_nbsvm_model_learns_the_labels_it_was_given() -> None:
    payload, linear, x = _fit("nb", 1.0)
    predicted = train_sentiment.predict(linear, x).argmax(axis=1)
    gold = [CLASSES.index(label) for _, label in ROWS]
    assert (predicted == np.array(gold)).mean() == 1.0


def test_nbsvm_weights_fold_the_ratios_into_the_features_weights() -> None:
    """Logits over plain features = each class's regression over ratio-scaled features."""
    payload, linear, x = _fit("nb", 1.0)
    labels = np.array([CLASSES.index(label) for _, label in ROWS])
    n_sparse = len(payload["features"])  # type: ignore[arg-type]
    ratios = train_sentiment.nb_ratios(x[:, :n_sparse], labels, np.ones(len(ROWS)))
    logits = np.asarray(x @ linear[0].T) + linear[1]
    for k in range(len(CLASSES)):
        scale = np.concatenate([ratios[k], np.ones(x.shape[1] - n_sparse)])
        model = LogisticRegression(C=4.0, max_iter=3000)
        model.fit(x @ sparse.diags(scale), (labels == k).astype(int))
        assert logits[:, k] == pytest.approx(model.decision_function(x @ sparse.diags(scale)))


def test_blend_is_the_weighted_sum_of_the_two_models_logits() -> None:
    lr = (np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]), np.array([0.5, 0.0, -0.5]))
    nb = (np.array([[3.0, 0.0], [0.0, 3.0], [0.0, 0.0]]), np.array([1.5, 0.0, 0.5]))
    coef, intercept = train_sentiment.blend(lr, nb, 0.25)
    assert coef.tolist() == [[1.5, 0.0], [0.0, 1.5], [1.5, 1.5]]
    assert intercept.tolist() == [0.75, 0.0, -0.25]


def test_keep_choices_keeps_the_shipped_regularisation() -> None:
    """``--keep-choices``: the shipped example weight and (C, class weight) pairs are used as
    they are, and only the blend and the neutral bias are chosen again."""
    shipped = train_sentiment.shipped_choice(
        ROOT / "ereputation" / "data" / "sentiment" / "model_fr.json.gz"
    )
    assert shipped.lr[0] in train_sentiment.C_GRID["lr"]["fr"]
    kept = train_sentiment.Choice(2.0, (0.125, None), (0.25, "balanced"), 0.0, (0, 0, 0), 0, {})
    feats = [features(text, "fr") for text, _ in ROWS]
    labels = np.array([CLASSES.index(label) for _, label in ROWS])
    groups = np.array(["src"] * len(ROWS))
    choice = train_sentiment.cross_validate(feats, labels, groups, "fr", {"src"}, kept)
    # 0.125 and 0.25 are in no grid: only the kept pairs were tried.
    assert (choice.example_weight, choice.lr, choice.nb) == (2.0, kept.lr, kept.nb)
    assert choice.beta in train_sentiment.BLEND_GRID
