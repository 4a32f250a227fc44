"""Story grouping speed: ``story_fingerprint`` per article, and the index's find+add per
article as it grows to 10,000, 30,000 and 70,000 stories (a first pass over 10,000 feeds
holds ~70,000).

    python bench/stories_speed.py [--sizes 10000,30000,70000] [--window 2000]

Articles are made as bench/corpus.py makes its items (made-up story words in the title and
lead, template sentences after them, ``SYNDICATED_SHARE`` copies of an earlier story in
another feed), as text, plus ``REWRITE_SHARE`` rewrites of an earlier article: up to 40 % of
its words replaced, its end cut.  Each article is fingerprinted, then the index is asked
for its story (``find``); when there is none, the article starts one (``add``), as
``store.record`` does.  Once the index holds each size, the next ``--window`` articles are
timed (find+add, µs an article) and checked against the rule the index implements: the
stored story whose signature has the highest estimated Jaccard at or above THRESHOLD (the
newest of those), found by comparing with every stored signature.  *Recall* is the share
of articles having such a story for which ``find`` returned exactly it.

CPU time (``time.process_time``): the machine is shared.  Which ``ereputation`` is measured
is printed: run with ``PYTHONPATH`` set to compare two checkouts with one script.
"""

from __future__ import annotations

import argparse
import html
import random
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # after PYTHONPATH: see above

import corpus  # noqa: E402

import ereputation  # noqa: E402
from ereputation.stories import (  # noqa: E402
    PERMUTATIONS,
    THRESHOLD,
    SignatureIndex,
    story_fingerprint,
    story_signature,
)

REWRITE_SHARE = 0.10


def make_articles(count: int, seed: int = 7) -> tuple[list[tuple[str, str]], list[bool]]:
    """``count`` (title, text) pairs, as the daemon gets them from bench/corpus.py's feeds, and
    whether each is a copy or rewrite of an earlier one (same story words in its title)."""
    rng = random.Random(seed)
    told = corpus._Stories(random.Random(seed + 1))
    now = datetime(2026, 11, 26, tzinfo=UTC)
    articles: list[tuple[str, str]] = []
    related: list[bool] = []
    titles: set[str] = set()
    feed = 0
    while len(articles) < count:
        language = rng.choices(("fr", "en", "ar"), weights=(6, 2.5, 1.5))[0]
        for number in range(rng.randint(20, 100)):
            if articles and rng.random() < REWRITE_SHARE:
                articles.append(_rewrite(rng, rng.choice(articles[-5000:]), told))
                related.append(True)
                continue
            _, title, body, _, _ = corpus._item(rng, told, feed, number, language, now)
            articles.append((title, html.unescape(re.sub(r"<[^>]+>", " ", body)).strip()))
            story_title = title.split(" : ")[0]  # the story's own words: a copy has the same
            related.append(story_title in titles)
            titles.add(story_title)
        feed += 1
    return articles[:count], related[:count]


def _rewrite(
    rng: random.Random, article: tuple[str, str], told: corpus._Stories
) -> tuple[str, str]:
    title, text = article
    words = text.split()
    script = "ar" if re.search("[\u0600-\u06ff]", text) else "latin"
    for _ in range(int(len(words) * rng.uniform(0, 0.4))):
        words[rng.randrange(len(words))] = rng.choice(told.words[script])
    words = words[: max(1, int(len(words) * rng.uniform(0.7, 1.0)))]
    return title, " ".join(words)


def time_fingerprints(articles: list[tuple[str, str]]) -> tuple[list[str], float]:
    start = time.process_time()
    fingerprints = [story_fingerprint(title, text) for title, text in articles]
    return fingerprints, (time.process_time() - start) / len(articles) * 1e6


def index_bytes(index: SignatureIndex) -> int:
    """The index's numpy arrays and its dicts of recent keys, roughly."""
    total = 0
    for value in vars(index).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, dict):
            total += sys.getsizeof(value) + sum(
                sys.getsizeof(v) + 8 * len(v) if isinstance(v, list) else 0
                for v in value.values()
            ) + 32 * len(value)  # fmt: skip
    return total


def run_index(
    signatures: list[np.ndarray], related: list[bool], sizes: list[int], window: int
) -> None:
    """Find, and add when not found, every signature in turn; report each size's window.

    The rule's answers are computed after the window (the stored signatures only grow, so
    the ones a query saw are a prefix): comparing with every story between two lookups
    would leave the caches cold for the next one.
    """
    index = SignatureIndex()
    stored = np.empty((len(signatures), PERMUTATIONS), dtype=">u4")
    stored_ids = np.empty(len(signatures), dtype=np.int64)
    count = 0
    pending = sorted(sizes)
    window_of: list[tuple[int, int, int | None]] = []  # (number, stories then, found)
    elapsed = 0.0
    build_start = time.process_time()
    for number, signature in enumerate(signatures, start=1):
        measuring = bool(pending) and count >= pending[0]
        start = time.process_time()
        found = index.find(signature)
        if found is None:
            index.add(number, signature)
        if measuring:
            elapsed += time.process_time() - start
            window_of.append((number, count, found))
        if found is None:
            stored[count] = signature
            stored_ids[count] = number
            count += 1
        if len(window_of) == window:
            size = pending.pop(0)
            _report(size, elapsed, window_of, signatures, related, stored, stored_ids, index)
            window_of, elapsed = [], 0.0
            if not pending:
                break
    print(f"  build and measurement: {time.process_time() - build_start:.1f} s CPU")


def _report(
    size: int,
    elapsed: float,
    window_of: list[tuple[int, int, int | None]],
    signatures: list[np.ndarray],
    related: list[bool],
    stored: np.ndarray,
    stored_ids: np.ndarray,
    index: SignatureIndex,
) -> None:
    needed = int(np.ceil(THRESHOLD * PERMUTATIONS - 1e-9))  # equal slots for same_story
    exact_total = exact_found = any_found = copies_total = copies_found = 0
    for number, stories_then, found in window_of:
        equal = np.count_nonzero(stored[:stories_then] == signatures[number - 1], axis=1)
        passing = equal >= needed
        if not passing.any():
            continue
        exact = max(zip(equal[passing], stored_ids[:stories_then][passing], strict=True))[1]
        exact_total += 1
        exact_found += found == exact
        any_found += found is not None
        if related[number - 1]:
            copies_total += 1
            copies_found += found == exact
    joined = sum(found is not None for _, _, found in window_of)
    stories_now = window_of[-1][1]
    print(
        f"  {size:>6,} stories: find+add {elapsed / len(window_of) * 1e6:6.1f} µs an article;"
        f" {joined}/{len(window_of)} joined a story; the rule's story found:"
        f" copies and rewrites {copies_found}/{copies_total}"
        f" = {copies_found / max(copies_total, 1):.4f}, all {exact_found}/{exact_total}"
        f" = {exact_found / max(exact_total, 1):.4f}"
        f" (some story: {any_found / max(exact_total, 1):.4f});"
        f" index {index_bytes(index) / max(stories_now, 1):.0f} bytes a story"
    )


def real_text_report(shared: Path) -> None:
    """Pairs of real items from different feeds (mostly unrelated stories): how many share a
    band key (candidates), and their estimated Jaccard, to compare with the generated corpus."""
    from ereputation.extract import parse_feed
    from ereputation.stories import band_keys

    corpus_dir = shared / "corpus"
    files = sorted((corpus_dir / "real-feeds" / "fastfeedparser-benchmark").glob("*.xml"))
    files += [corpus_dir / "feed-suites" / "prof18-rssparser" / "feed-test-source.xml"]
    suite = corpus_dir / "feed-suites" / "rbren-rss-parser"
    files += [suite / name for name in ("guardian.rss", "heraldsun.rss", "uolNoticias.rss")]
    signatures, feeds = [], []
    for number, path in enumerate(files):
        if not path.exists():
            continue
        for item in parse_feed(path.read_bytes(), f"https://feed{number}.example/").items:
            fingerprint = story_fingerprint(item.title, item.content or item.summary)
            signature = story_signature(fingerprint)
            if signature is not None:
                signatures.append(signature)
                feeds.append(number)
    matrix = np.array(signatures)
    keys = np.array([band_keys(signature) for signature in signatures])
    feed_of = np.array(feeds)
    similarities: list[np.ndarray] = []
    candidates = pairs = 0
    for row in range(len(matrix)):
        other = feed_of[row + 1 :] != feed_of[row]
        equal = np.count_nonzero(matrix[row + 1 :][other] == matrix[row], axis=1)
        similarities.append(equal / PERMUTATIONS)
        candidates += int(np.count_nonzero((keys[row + 1 :][other] == keys[row]).any(axis=1)))
        pairs += int(np.count_nonzero(other))
    similarity = np.concatenate(similarities)
    print(f"real items: {len(matrix)} from {len(set(feeds))} feeds, {pairs:,} pairs across feeds")
    _print_similarities(similarity, candidates / pairs)


def generated_pairs_report(signatures: list[np.ndarray], count: int = 3000) -> None:
    """The same figures for the first ``count`` generated articles (copies included)."""
    from ereputation.stories import band_keys

    matrix = np.array(signatures[:count])
    keys = np.array([band_keys(signature) for signature in signatures[:count]])
    similarities, candidates = [], 0
    for row in range(len(matrix) - 1):
        similarities.append(
            np.count_nonzero(matrix[row + 1 :] == matrix[row], axis=1) / PERMUTATIONS
        )
        candidates += int(np.count_nonzero((keys[row + 1 :] == keys[row]).any(axis=1)))
    similarity = np.concatenate(similarities)
    print(f"generated articles: {count}, {len(similarity):,} pairs")
    _print_similarities(similarity, candidates / len(similarity))


def _print_similarities(similarity: np.ndarray, candidate_share: float) -> None:
    print(f"  sharing a band key (candidates): {candidate_share:.4f}")
    for quantile in (0.5, 0.9, 0.99, 0.999):
        print(
            f"  estimated Jaccard, {quantile:.1%} quantile: {np.quantile(similarity, quantile):.3f}"
        )
    print(
        f"  mean {similarity.mean():.4f};"
        f" pairs >= {THRESHOLD}: {np.count_nonzero(similarity >= THRESHOLD)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000,70000")
    parser.add_argument("--window", type=int, default=2000)
    parser.add_argument("--articles", type=int, default=0, help="default: enough for --sizes")
    parser.add_argument(
        "--real", type=Path, help="the shared folder: report real feeds' pairs only"
    )
    args = parser.parse_args()
    if args.real:
        real_text_report(args.real)
        generated_pairs_report(
            [story_signature(story_fingerprint(*a)) for a in make_articles(3000)[0]]
        )
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    count = args.articles or int(max(sizes) * 1.5) + 3 * args.window
    print(f"ereputation from {Path(ereputation.__file__).parent}")
    articles, related = make_articles(count)
    fingerprints, per_article = time_fingerprints(articles[:10_000])
    print(f"story_fingerprint: {per_article:.1f} µs an article (CPU, {len(fingerprints)} articles)")
    fingerprints += [story_fingerprint(title, text) for title, text in articles[10_000:]]
    signatures = [story_signature(fp) for fp in fingerprints]
    print(f"index over {len(articles):,} articles ({sum(related):,} copies or rewrites):")
    kept = [number for number, signature in enumerate(signatures) if signature is not None]
    run_index([signatures[n] for n in kept], [related[n] for n in kept], sizes, args.window)


if __name__ == "__main__":
    main()
