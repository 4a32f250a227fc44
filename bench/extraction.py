"""Measure article text and date extraction on the real pages of ../shared/corpus/real-pages.

Run from the repository root:  python bench/extraction.py [--shared ../shared]

Text: for each page with an expected text (goose3 ``cleaned_text``, newspaper ``text/*.txt``,
readability ``expected.html``), the *recall* is the share of the expected word tokens
(lower-cased ``\\w+``, counted with multiplicity) present in the extracted text; a page is
*recovered* when recall >= 0.8.  *Precision* (share of extracted tokens found in the
expected text) is reported only where the expected text is the full article (newspaper,
readability), since goose3 keeps only the opening of each article.

Dates: htmldate's ground truth (``dates-groundtruth.subset.json``) and readability's
``publishedTime``.  A date is *right* when the extracted instant falls on the expected day
in some time zone between UTC-12 and UTC+14 (pages declare local days, we store UTC),
*wrong* when it is elsewhere, *missing* when None.  Wrong is worse than missing for users.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bs4 import BeautifulSoup

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ereputation.article import baseline_text, extract_article, parse_date  # noqa: E402

TOKEN_RE = re.compile(r"\w+")
RECOVERED = 0.8


def tokens(text: str) -> Counter[str]:
    return Counter(TOKEN_RE.findall(text.lower()))


def overlap(part: Counter[str], whole: Counter[str]) -> float:
    total = sum(part.values())
    return sum(min(n, whole[t]) for t, n in part.items()) / total if total else 0.0


def text_cases(pages: Path) -> list[tuple[str, Path, str, bool]]:
    """(name, html file, expected text, expected is the full article)."""
    cases = []
    for expected in sorted((pages / "goose3").glob("*.json")):
        text = json.loads(expected.read_text())["expected"].get("cleaned_text", "")
        if text:
            cases.append((f"goose3/{expected.stem}", expected.with_suffix(".html"), text, False))
    names = {
        "arabic": "arabic_article",
        "chinese": "chinese_article",
        "cnn": "cnn_article",
        "spanish": "spanish_article",
    }
    for expected in sorted((pages / "newspaper" / "text").glob("*.txt")):
        html = pages / "newspaper" / "html" / f"{names.get(expected.stem, expected.stem)}.html"
        if html.exists():
            cases.append((f"newspaper/{expected.stem}", html, expected.read_text(), True))
    for expected in sorted((pages / "readability").glob("*/expected.html")):
        text = BeautifulSoup(expected.read_bytes(), "lxml").get_text(" ")
        cases.append((f"readability/{expected.parent.name}", expected.parent / "source.html",
                      text, True))  # fmt: skip
    return cases


def date_cases(pages: Path) -> list[tuple[str, Path, str, str]]:
    """(name, html file, url, expected day YYYY-MM-DD)."""
    cases = []
    truth = json.loads((pages / "htmldate" / "dates-groundtruth.subset.json").read_text())
    for url, entry in truth.items():
        hits = list((pages / "htmldate").rglob(entry["file"]))
        if hits:
            cases.append((f"htmldate/{entry['file']}", hits[0], url, entry["date"]))
    for meta in sorted((pages / "readability").glob("*/expected-metadata.json")):
        published = json.loads(meta.read_text()).get("publishedTime")
        if published:
            name = meta.parent.name
            cases.append((f"readability/{name}", meta.parent / "source.html", "", published[:10]))
    return cases


def day_matches(found: datetime | None, day: str) -> str:
    if found is None:
        return "missing"
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    lo, hi = start - timedelta(hours=14), start + timedelta(days=1, hours=12)
    return "right" if lo <= found < hi else "wrong"


def trafilatura_text(html: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url or None, include_comments=False) or ""


def soup_text(html: bytes, url: str) -> str:
    return baseline_text(BeautifulSoup(html, "lxml"))


def ours_text(html: bytes, url: str) -> str:
    return extract_article(html, url).text


def ours_date(html: bytes, url: str) -> datetime | None:
    return extract_article(html, url).published_at


def htmldate_date(extensive: bool) -> Callable[[bytes, str], datetime | None]:
    def run(html: bytes, url: str) -> datetime | None:
        from htmldate import find_date

        found = find_date(html, extensive_search=extensive, original_date=True, url=url or None)
        return parse_date(found) if found else None

    return run


def trafilatura_date(html: bytes, url: str) -> datetime | None:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True)
    date = getattr(doc, "date", None) if doc is not None else None
    return parse_date(date) if date else None


def soup_date(html: bytes, url: str) -> datetime | None:
    """Baseline: article:published_time, else the first <time datetime>."""
    soup = BeautifulSoup(html, "lxml")
    meta = soup.find("meta", property="article:published_time")
    if meta is not None and meta.get("content"):
        return parse_date(str(meta["content"]))
    tag = soup.find("time", datetime=True)
    return parse_date(str(tag["datetime"])) if tag is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared"
    parser.add_argument("--shared", type=Path, default=default)
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per page")
    args = parser.parse_args()
    pages = args.shared / "corpus" / "real-pages"

    cases = text_cases(pages)
    print(f"TEXT: {len(cases)} pages with an expected text (recovered = recall >= {RECOVERED})")
    for label, extract in (
        ("extract_article", ours_text),
        ("trafilatura alone", trafilatura_text),
        ("BeautifulSoup baseline", soup_text),
    ):
        recovered, precisions, seconds = 0, [], 0.0
        for name, html_path, expected, full in cases:
            html = html_path.read_bytes()
            started = time.perf_counter()
            got = extract(html, "")
            seconds += time.perf_counter() - started
            recall = overlap(tokens(expected), tokens(got))
            recovered += recall >= RECOVERED
            if full:
                precisions.append(overlap(tokens(got), tokens(expected)))
            if args.verbose:
                print(f"    {name:32} recall {recall:.2f}")
        precision = sum(precisions) / len(precisions) if precisions else 0.0
        print(
            f"  {label:24} recovered {recovered}/{len(cases)} ({recovered / len(cases):.0%})"
            f"  mean precision (full texts) {precision:.2f}"
            f"  {seconds / len(cases) * 1000:.0f} ms/page"
        )

    dcases = date_cases(pages)
    print(f"DATES: {len(dcases)} pages with a known publication day")
    for label, find in (
        ("extract_article", ours_date),
        ("htmldate extensive", htmldate_date(True)),
        ("htmldate markup only", htmldate_date(False)),
        ("trafilatura metadata", trafilatura_date),
        ("BeautifulSoup baseline", soup_date),
    ):
        outcome: Counter[str] = Counter()
        for name, html_path, url, day in dcases:
            try:
                found = find(html_path.read_bytes(), url)
            except Exception as exc:  # a crash counts as missing, and is shown
                print(f"    {name}: {type(exc).__name__}: {exc}")
                found = None
            result = day_matches(found, day)
            outcome[result] += 1
            if args.verbose and result != "right":
                print(f"    {name:40} expected {day} got {found} ({result})")
        n = len(dcases)
        print(
            f"  {label:24} right {outcome['right']}/{n} ({outcome['right'] / n:.0%})"
            f"  wrong {outcome['wrong']}  missing {outcome['missing']}"
        )

    stories_report(Path(__file__).resolve().parents[1] / "tests" / "data" / "stories")


def stories_report(folder: Path) -> None:
    """Precision and recall of same_story over all pairs of the evaluation set."""
    import itertools

    from ereputation.stories import same_story, story_fingerprint, story_similarity

    items = json.loads((folder / "articles.json").read_text())
    fps = [story_fingerprint(item["title"], item["text"]) for item in items]
    tp = fp = fn = tn = 0
    same, other = [], []
    for (i, a), (j, b) in itertools.combinations(enumerate(items), 2):
        predicted, actual = same_story(fps[i], fps[j]), a["story"] == b["story"]
        (same if actual else other).append(story_similarity(fps[i], fps[j]))
        tp, fp = tp + (predicted and actual), fp + (predicted and not actual)
        fn, tn = fn + (actual and not predicted), tn + (not actual and not predicted)
    print(f"STORIES: {len(items)} items, {tp + fn} same-story pairs, {fp + tn} other pairs")
    print(
        f"  same_story               precision {tp / max(tp + fp, 1):.2f}"
        f"  recall {tp / max(tp + fn, 1):.2f}  (tp {tp} fp {fp} fn {fn})"
        f"  similarity: same-story min {min(same):.2f}, other pairs max {max(other):.2f}"
    )


if __name__ == "__main__":
    main()
