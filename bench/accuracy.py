"""Sentiment accuracy of the project's scorer next to vaderSentiment, per evaluation set.

    python bench/accuracy.py [--shared ../shared]

Reads ``shared/eval/sentiment/*.tsv`` (evaluation only: nothing here trains).  For each set it
prints accuracy and macro-F1 of ``ereputation.sentiment.score_sentiment`` (told the set's
language, as the pipeline tells it the detected one) and of VADER's compound with its usual
±0.05 thresholds, with texts per second.  Macro-F1 is averaged over the labels the set has
(a "neutral" answer on a positive/negative set counts as a miss, not as a third class); an
unscored text (None) counts as a miss too.

It times ``score_sentiment`` per call on contexts of ~250 characters, first while the
per-word caches have not seen their words, then again with the caches filled; and the whole
analysis step as the pipeline runs it on a mention — language detection, brand matching,
context, sentiment — over every evaluation text with a brand spliced into it, in mentions
per second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ereputation.config import Brand  # noqa: E402
from ereputation.language import detect_language  # noqa: E402
from ereputation.match import BrandMatcher, mention_context  # noqa: E402
from ereputation.sentiment import score_sentiment  # noqa: E402

SETS = {  # file -> (language, macro-F1 target from issue 3, or None)
    "en_vader_nyt": ("en", 0.62),
    "en_vader_tweets": ("en", 0.70),
    "en_vader_movies": ("en", None),
    "en_vader_amazon": ("en", None),
    "fr_deft2017_tweets": ("fr", 0.62),
    "fr_allocine_reviews": ("fr", 0.75),
    "ar_semeval2017_tweets": ("ar", 0.55),
    "ar_mac_msa": ("ar", 0.60),
    "ar_mac_darija": ("ar", 0.60),
    "ar_elecmorocco2016_fb": ("ar", 0.70),
    "ar_myc_arabizi": ("arabizi", 0.80),
}


def read_rows(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text("utf-8").splitlines()[1:]:
        text, _, label = line.rpartition("\t")
        rows.append((text, label))
    return rows


def scores(gold: list[str], predicted: list[str | None]) -> tuple[float, float]:
    """(accuracy, macro-F1 over the gold labels)."""
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    f1s = []
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return accuracy, sum(f1s) / len(f1s)


def vader_label(analyzer, text: str) -> str:  # type: ignore[no-untyped-def]
    compound = analyzer.polarity_scores(text)["compound"]
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def timed(fn, items):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    out = [fn(item) for item in items]
    return out, len(items) / (time.perf_counter() - started)


def per_call_contexts(shared: Path) -> dict[str, list[str]]:
    """Per language, contexts of ~250 characters made of consecutive evaluation texts.

    A mention's context is a sentence or two (``match.mention_context``); tweets are shorter,
    so consecutive texts are joined until 250 characters, then cut there.
    """
    out: dict[str, list[str]] = {}
    for name, (language, _) in SETS.items():
        buffer = ""
        for text, _ in read_rows(shared / "eval" / "sentiment" / f"{name}.tsv"):
            buffer += text + " "
            if len(buffer) >= 250:
                out.setdefault(language, []).append(buffer[:250])
                buffer = ""
    return out


def time_per_call(texts: list[str], language: str) -> tuple[float, float]:
    """(wall, CPU) milliseconds per ``score_sentiment`` call over ``texts``.

    CPU time is given too because the machine is shared with other jobs.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        score_sentiment(text, language)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall * 1000 / len(texts), cpu * 1000 / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    for language in ("en", "fr", "ar", "arabizi"):
        score_sentiment("warm-up", language)  # load models and lexicons outside the timings
    # Timed first, while the words of the evaluation texts are new to the per-word caches.
    contexts = per_call_contexts(args.shared)
    cold = {language: time_per_call(texts, language) for language, texts in contexts.items()}
    warm = {language: time_per_call(texts, language) for language, texts in contexts.items()}
    print("| eval set | lang | rows | ereputation acc / macro-F1 | texts/s | target | "
          "VADER acc / macro-F1 | texts/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    all_texts: list[str] = []
    for name, (language, target) in SETS.items():
        rows = read_rows(args.shared / "eval" / "sentiment" / f"{name}.tsv")
        texts = [t for t, _ in rows]
        gold = [g for _, g in rows]
        all_texts += texts
        ours, our_rate = timed(lambda t: score_sentiment(t, language), texts)  # noqa: B023
        our_labels = [s.label if s else None for s in ours]
        theirs, their_rate = timed(lambda t: vader_label(vader, t), texts)
        acc, f1 = scores(gold, our_labels)
        vacc, vf1 = scores(gold, theirs)  # type: ignore[arg-type]
        met = "" if target is None else f"≥ {target:.2f} {'✓' if f1 >= target else '✗'}"
        print(f"| {name} | {language} | {len(rows)} | {acc:.3f} / **{f1:.3f}** | {our_rate:,.0f} "
              f"| {met} | {vacc:.3f} / {vf1:.3f} | {their_rate:,.0f} |", flush=True)  # fmt: skip

    print()
    print("score_sentiment per call on contexts of ~250 characters (target ≤ 0.25 ms):")
    for language, texts in contexts.items():
        print(f"  {language}, {len(texts):,} contexts: words never seen before "
              f"{cold[language][0]:.3f} ms wall / {cold[language][1]:.3f} ms CPU; "
              f"the same contexts again (per-word caches filled, as in a running daemon) "
              f"{warm[language][0]:.3f} ms wall / {warm[language][1]:.3f} ms CPU")  # fmt: skip

    matcher = BrandMatcher([Brand("Atlas Télécom", aliases=("اتصالات الأطلس", "Atlas Telecom"))])
    mentions = [f"Atlas Télécom: {t}" if i % 2 else f"{t} اتصالات الأطلس"
                for i, t in enumerate(all_texts)]  # fmt: skip

    def analyse(text: str) -> object:
        language = detect_language(text)
        return [score_sentiment(mention_context(text, h), language) for h in matcher.find(text)]

    _, rate = timed(analyse, mentions)
    print(f"\nAnalysis step (language + match + context + sentiment) over {len(mentions):,} "
          f"mentions: {rate:,.0f} mentions/s (target ≥ 500)")  # fmt: skip


if __name__ == "__main__":
    main()
