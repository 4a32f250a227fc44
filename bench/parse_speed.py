"""CPU per item of ``extract.parse_feed`` on the generated scale corpus, before and after.

Run from the repository root::

    python bench/parse_speed.py                      # this tree against the --before revision
    python bench/parse_speed.py --before none        # this tree only
    python bench/parse_speed.py --profile            # cProfile of this tree's pass, top 25

It builds ``bench/corpus.make_corpus(1000, 7, fail_share=0.03)`` (the corpus of
``bench/scale.py``, 58,751 items in readable feeds), then calls ``parse_feed`` on every
non-empty body, in this process, on one thread, timed with ``time.process_time`` (CPU, not
wall: the machine is shared).  Each pass is repeated ``--repeat`` times and the fastest is
kept, since other jobs only ever add time.

``--before REV`` loads ``ereputation/extract.py`` as it was at git revision REV (default: the
commit before issue #7's parse work) into a separate module and times it on the same bodies,
then checks that both give the same ``ParsedFeed`` for every body: the speed-up must not
change a single item.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import make_corpus  # noqa: E402

from ereputation import extract  # noqa: E402

# The last commit before this work on parse_feed (issue #7): "before" in the report.
BEFORE = "bab27bb"
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def load_revision(revision: str) -> ModuleType:
    """``ereputation/extract.py`` as of ``revision``, imported under another module name."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:ereputation/extract.py"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.NamedTemporaryFile(suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(f"extract_{revision}", handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def time_pass(parse: Callable[..., Any], bodies: list[tuple[str, bytes]], repeat: int) -> float:
    """Fastest CPU seconds of ``repeat`` passes of ``parse`` over every body."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for url, body in bodies:
            parse(body, url, NOW)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--feeds", type=int, default=1000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument("--repeat", type=int, default=3, help="passes per parser; best kept")
    options.add_argument("--before", default=BEFORE, help="git revision to compare, or 'none'")
    options.add_argument("--profile", action="store_true", help="cProfile this tree's pass")
    args = options.parse_args()

    corpus = make_corpus(args.feeds, args.seed, fail_share=0.03, now=NOW)
    bodies = [(f"http://127.0.0.1{feed.path}", feed.body) for feed in corpus.feeds if feed.body]
    after = [extract.parse_feed(body, url, NOW) for url, body in bodies]  # also warms imports
    items = sum(len(parsed.items) for parsed in after)
    print(f"corpus: {args.feeds} feeds, {len(bodies)} bodies, {items} items parsed")
    assert items == corpus.items, f"{items} items parsed, the corpus holds {corpus.items}"

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for url, body in bodies:
            extract.parse_feed(body, url, NOW)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    rows = []
    if args.before != "none":
        old = load_revision(args.before)
        differ = [
            url
            for (url, body), new in zip(bodies, after, strict=True)
            if _comparable(old.parse_feed(body, url, NOW)) != _comparable(new)
        ]
        print(f"same ParsedFeed as {args.before} for {len(bodies) - len(differ)} of {len(bodies)}")
        assert not differ, f"different items for {differ[:5]}"
        rows.append((f"before ({args.before})", time_pass(old.parse_feed, bodies, args.repeat)))
    rows.append(("after (this tree)", time_pass(extract.parse_feed, bodies, args.repeat)))
    print(f"{'':24}{'CPU s':>8}{'µs/item':>10}")
    for name, seconds in rows:
        print(f"{name:24}{seconds:8.3f}{seconds / items * 1e6:10.1f}")
    if len(rows) == 2:
        print(f"speed-up: {rows[0][1] / rows[1][1]:.1f}x")


def _comparable(parsed: Any) -> tuple[Any, ...]:
    """A ParsedFeed as plain values: the two modules' dataclasses are different classes."""
    items = tuple(tuple(vars(item).values()) for item in parsed.items)
    return parsed.title, items, parsed.problem


if __name__ == "__main__":
    main()
