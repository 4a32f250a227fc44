"""CPU per call of the three per-item/per-mention analysis stages, on the generated corpus.

Run from the repository root:  python bench/analysis_speed.py [--feeds 1000] [--against REV]

Builds the scale benchmark's corpus (``make_corpus(N, 7, fail_share=0.03)``), parses every
feed with ``ereputation.extract.parse_feed`` (not timed), then times, with
``time.process_time`` (single thread, in-process, best of ``--repeat`` rounds):

- ``BrandMatcher.find`` over every item's text (title + body, as ``Analyzer.find`` builds it);
- ``detect_language`` over the texts with a hit (what the pipeline asks per recorded article);
- ``Analyzer._language`` over the same texts, when the pipeline still has it (the stop-word
  vote in front of ``detect_language`` that this round moved into ``detect_language``);
- ``story_fingerprint`` over the recorded articles, and over real articles of a few KB
  (the expected texts of ``../shared/corpus/real-pages``: goose3 and newspaper).

``--against REV`` also runs the same measurement on the package as it is at git revision
``REV`` (exported to a temporary folder, run in a subprocess) and prints both side by side,
with a check that both found the same hits, languages and fingerprints.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # corpus.py


def _load_items(feeds: int) -> list[tuple[str, str, str, str]]:
    """(title, summary, content, text) of every parsed item (text: as ``Analyzer.find`` has it)."""
    from corpus import make_corpus

    from ereputation.extract import parse_feed

    corpus = make_corpus(feeds, 7, fail_share=0.03)
    items = []
    for feed in corpus.feeds:
        if feed.kind != "ok":
            continue
        parsed = parse_feed(feed.body, f"http://127.0.0.1{feed.path}")
        for item in parsed.items:
            body = item.content if len(item.content) >= len(item.summary) else item.summary
            if item.title and body.startswith(item.title):
                body = body[len(item.title) :].lstrip()
            text = f"{item.title}\n{body}".strip() if item.title else body
            items.append((item.title, item.summary, item.content, text))
    return items


def _real_articles(shared: Path) -> list[tuple[str, str]]:
    """(title, text) of real articles of 1-19 KB, or none when ../shared is not there."""
    pages = shared / "corpus" / "real-pages"
    articles = []
    for path in sorted((pages / "goose3").glob("*.json")):
        expected = json.loads(path.read_text("utf-8")).get("expected", {})
        text = expected.get("cleaned_text", "")
        if len(text) >= 1000:
            articles.append((expected.get("title", "") or "", text))
    for path in sorted((pages / "newspaper" / "text").glob("*.txt")):
        title, _, text = path.read_text("utf-8").strip().partition("\n")
        articles.append((title, text))
    return articles


def _time(call: Callable[[Any], object], args: Sequence[Any], repeat: int) -> float:
    """Best µs per call over ``repeat`` rounds (process time, so other jobs count less)."""
    rounds = []
    for _ in range(repeat):
        start = time.process_time()
        for arg in args:
            call(arg)
        rounds.append(time.process_time() - start)
    return min(rounds) / max(len(args), 1) * 1e6


def _digest(values: Sequence[object]) -> str:
    return hashlib.sha256(repr(list(values)).encode()).hexdigest()[:16]


def measure(feeds: int, repeat: int, shared: Path) -> dict[str, Any]:
    """Every timing and a digest of every result (to check two versions agree)."""
    from corpus import BRANDS_YAML

    from ereputation.config import parse_config
    from ereputation.language import detect_language
    from ereputation.match import BrandMatcher
    from ereputation.stories import story_fingerprint

    sources = "sources:\n  - url: http://127.0.0.1/feed.xml\n"  # required, never fetched here
    config = parse_config(BRANDS_YAML + sources, ROOT / "bench.yaml")
    matcher = BrandMatcher(config.brands)
    items = _load_items(feeds)
    texts = [item[3] for item in items]
    hits = [matcher.find(text) for text in texts]
    hit_items = [item for item, found in zip(items, hits, strict=True) if found]
    hit_texts = [item[3] for item in hit_items]
    stories = [(title, content or summary) for title, summary, content, _ in hit_items]
    real = _real_articles(shared)

    detect_language("The warm-up: loads py3langid, once, outside the timings.")
    results: dict[str, Any] = {
        "items": len(texts),
        "hit_items": len(hit_texts),
        "real_articles": len(real),
        "real_chars": statistics.mean(len(t) for _, t in real) if real else 0,
        "story_chars": statistics.mean(len(t) for _, t in stories) if stories else 0,
        "us": {},
        "digest": {
            "find": _digest(hits),
            "language": _digest([detect_language(t) for t in hit_texts]),
            "fingerprint": _digest([story_fingerprint(t, x) for t, x in stories + real]),
        },
    }
    us = results["us"]
    us["BrandMatcher.find per item"] = _time(matcher.find, texts, repeat)
    us["detect_language per hit text"] = _time(detect_language, hit_texts, repeat)
    try:
        from ereputation.pipeline import Analyzer

        analyzer = Analyzer(config.brands)
        language = getattr(analyzer, "_language", None)
        if language is not None:
            results["digest"]["pipeline_language"] = _digest([language(t) for t in hit_texts])
            us["Analyzer._language per hit text"] = _time(language, hit_texts, repeat)
    except ImportError:  # pragma: no cover - the pipeline ships with the package
        pass
    us["story_fingerprint per generated article"] = _time(
        lambda s: story_fingerprint(*s), stories, repeat
    )
    if real:
        us["story_fingerprint per real article"] = _time(
            lambda s: story_fingerprint(*s), real, repeat
        )
    return results


def _measure_revision(rev: str, args: argparse.Namespace) -> dict[str, Any]:
    """``measure`` on the package at git revision ``rev``, in a subprocess."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "ereputation"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--json",
                "--feeds",
                str(args.feeds),
                "--repeat",
                str(args.repeat),
                "--shared",
                str(args.shared),
            ],
            check=True,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": folder, "PATH": "/usr/bin:/bin"},
        ).stdout
    return dict(json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--against", metavar="REV", help="also measure the package at REV")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.json:  # the subprocess of --against
        print(json.dumps(measure(args.feeds, args.repeat, args.shared)))
        return
    if not (ROOT / "ereputation").is_dir():
        sys.exit("run from a clone of the repository")
    sys.path.insert(0, str(ROOT))
    before = _measure_revision(args.against, args) if args.against else None
    after = measure(args.feeds, args.repeat, args.shared)
    print(
        f"{after['items']:,} items, {after['hit_items']:,} with a hit "
        f"(generated articles: {after['story_chars']:.0f} chars on average; "
        f"{after['real_articles']} real articles: {after['real_chars']:,.0f} chars)"
    )
    names = list(dict.fromkeys([*(before["us"] if before else {}), *after["us"]]))
    if before is None:
        for name in names:
            print(f"  {name:<42} {after['us'][name]:8.1f} µs")
        return
    print(f"  {'µs per call':<42} {args.against[:12]:>12} {'now':>8} {'ratio':>6}")
    for name in names:
        old, new = before["us"].get(name), after["us"].get(name)
        ratio = f"{old / new:5.1f}x" if old and new else ""
        print(
            f"  {name:<42} {'' if old is None else f'{old:.1f}':>12} "
            f"{'' if new is None else f'{new:.1f}':>8} {ratio:>6}"
        )
    for key, value in after["digest"].items():
        other = before["digest"].get(key)
        if key == "language" and "pipeline_language" in before["digest"]:
            # detect_language now includes the vote the pipeline put in front of it.
            other = before["digest"]["pipeline_language"]
        verdict = "same" if other == value else "DIFFERENT"
        print(f"  results of {key:<18} {verdict}")


if __name__ == "__main__":
    main()
