"""Scale benchmark: ``ereputation run --once`` over N generated feeds, against a naive baseline.

    python bench/scale.py --feeds 1000 --runs 3
    python bench/scale.py --feeds 10000 --latency 0.05 --runs 1 --no-baseline

A seeded corpus (bench/corpus.py) is served on 127.0.0.1 (bench/server.py).  Each run uses a
fresh database: a first pass (everything new), then a second pass (every feed answers 304 or
fails again), then a changed pass, the daily case (``--changed-share`` of the feeds have
published ``--changed-items`` new items since: their other items are ones already read), each
as a separate ``ereputation`` process, then the baseline
(bench/baseline.py) as a process too.  For each process: wall and CPU seconds and peak memory
(CPU from ``wait4``, children included; peak memory from bench/peak.py: the process's own
plus its feed reader's, not this script or the server; and the highest sampled sum of their
PSS, where a shared library's pages are split between the processes that map them, this
script among them); items/s
and feeds/s; and what was stored against the corpus's truth: precision and recall of the
(article URL, brand) pairs.  Medians over ``--runs``.

The generated feeds.yaml lifts the per-host politeness (``per_host: 32, host_delay: 0``):
every feed is on 127.0.0.1, and the default (2 at a time, 1 s apart) would measure the
politeness, not the daemon.
"""

from __future__ import annotations

import argparse
import compileall
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from corpus import BRANDS_YAML, Corpus, make_corpus
from server import FeedServer

from ereputation.canonical import canonical_url

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass(frozen=True)
class Measure:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process
    peak_mb: float  # maximum resident set size: the process's, plus its largest child's
    child_mb: float  # the largest child's (the daemon's feed reader), included in peak_mb
    pss_mb: float  # the highest sampled sum of the process's and its children's PSS
    output: str

    @staticmethod
    def of(command: list[str], cwd: Path, env: dict[str, str]) -> Measure:
        """Run ``command`` ([python, script or -m module, args…]) and measure that process.

        Peak memory comes from bench/peak.py (the program's own VmHWM): ``wait4``'s
        ``ru_maxrss`` would include this script's memory (the corpus), which Linux carries
        over vfork and exec into the child.
        """
        peak_file = cwd / ".peak-kb"
        peak_file.unlink(missing_ok=True)
        command = [command[0], str(HERE / "peak.py"), str(peak_file), *command[1:]]
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        sampler = _PssSampler(process.pid)
        output = process.stdout.read().decode("utf-8", "replace")
        sampler.stop()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            raise SystemExit(f"{command[2:4]} failed ({process.returncode}):\n{output[-3000:]}")
        own_kb, child_kb = (int(kb) for kb in peak_file.read_text().split())
        # The sum of the two peaks: an upper bound of the peak of the sum, never less.
        peak_mb = (own_kb + child_kb) / 1024
        cpu = usage.ru_utime + usage.ru_stime
        return Measure(wall, cpu, peak_mb, child_kb / 1024, sampler.peak_mb, output)


class _PssSampler:
    """The highest sum of PSS (proportional set size) over a process and its children, every
    50 ms: what two processes of the daemon hold together, their shared libraries counted
    once (split between them, and with any other process mapping them, such as this script)
    rather than once each as the sum of their RSS does.  Sampling may miss a peak shorter
    than 50 ms."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(0.05):
            pids = [self._pid, *_children(self._pid)]
            self.peak_mb = max(self.peak_mb, sum(_pss_kb(pid) for pid in pids) / 1024)


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    except OSError:  # it ended meanwhile
        pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    stored: int


def quality(found: set[tuple[str, str]], truth: frozenset[tuple[str, str]]) -> Quality:
    right = len(found & truth)
    return Quality(right / len(found) if found else 1.0, right / len(truth) if truth else 1.0,
                   len(found))  # fmt: skip


def write_config(
    folder: Path, base_url: str, corpus: Corpus, concurrency: int, readers: int | None = None
) -> Path:
    """``readers``: ``fetch.parse_processes`` (None: the daemon's default)."""
    sources = "\n".join(
        f'  - {{name: "feed {i}", url: "{base_url}{feed.path}", full_text: never}}'
        for i, feed in enumerate(corpus.feeds)
    )
    config = folder / "feeds.yaml"
    config.write_text(
        f"database: bench.db\n{BRANDS_YAML}sources:\n{sources}\n"
        f"fetch: {{concurrency: {concurrency}, per_host: {min(32, concurrency)}, "
        "host_delay: 0s, timeout: 3s"
        + ("" if readers is None else f", parse_processes: {readers}")
        + "}\n"
        "email: {outbox: outbox}\n",
        encoding="utf-8",
    )
    return config


def stored_pairs(database: Path, sql: str) -> set[tuple[str, str]]:
    with sqlite3.connect(database) as conn:
        return {(canonical_url(url) or url, brand) for url, brand in conn.execute(sql)}


def daemon_env() -> dict[str, str]:
    """The environment the daemon runs in here: this checkout's ``ereputation``, no
    ``EREPUTATION_*`` setting of the caller's, warnings only in its log.

    Its modules are compiled first.  An installed package runs from bytecode compiled at
    install time (pip does it); a source tree under PYTHONDONTWRITEBYTECODE would compile
    every module on every run instead (~0.07 s of CPU per run, measured), which no deployment
    pays.
    """
    compileall.compile_dir(REPO / "ereputation", quiet=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["EREPUTATION_LOG_LEVEL"] = "WARNING"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--fail-share", type=float, default=0.03)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--changed-share",
        type=float,
        default=0.2,
        help="share of the readable feeds with new items in the changed pass",
    )
    parser.add_argument(
        "--changed-items",
        type=int,
        default=2,
        help="new items in each of them (0: no changed pass)",
    )
    parser.add_argument(
        "--parse-processes", type=int, default=None,
        help="the daemon's feed reader processes (default: its own default; 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--templated", action="store_true",
        help="the corpus of the rounds before 2026-11-26 (template sentences, ~12 stories)",
    )  # fmt: skip
    args = parser.parse_args()

    corpus = make_corpus(
        args.feeds, args.seed, fail_share=args.fail_share, stories=not args.templated,
        changed_share=args.changed_share, changed_items=args.changed_items,
    )  # fmt: skip
    truth = frozenset((canonical_url(url) or url, brand) for url, brand in corpus.truth)
    later_truth = truth | {(canonical_url(url) or url, brand) for url, brand in corpus.later_truth}
    changed = sum(a.body != b.body for a, b in zip(corpus.feeds, corpus.later, strict=True))
    print(f"corpus: {len(corpus.feeds)} feeds, {corpus.items} items in readable feeds, "
          f"{len(truth)} true (article, brand) pairs, "
          f"{sum(f.kind != 'ok' for f in corpus.feeds)} failing feeds; "
          f"changed pass: {changed} feeds with {args.changed_items} new items each, "
          f"{len(later_truth) - len(truth)} more true pairs; "
          f"latency {args.latency * 1000:.0f} ms")  # fmt: skip
    env = daemon_env()
    daemon = [sys.executable, "-m", "ereputation.cli", "run", "--once", "-c"]
    rows: dict[str, list[tuple[Measure, Quality | None]]] = {}
    with FeedServer(corpus, latency=args.latency, hang=10.0) as server:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="ereputation-bench-") as tmp:
                folder = Path(tmp)
                config = write_config(
                    folder, server.base_url, corpus, args.concurrency, args.parse_processes
                )
                first = Measure.of([*daemon, str(config)], folder, env)
                sql = "SELECT a.url, m.brand FROM mentions m JOIN articles a ON a.id = m.article_id"
                found = stored_pairs(folder / "bench.db", sql)
                rows.setdefault("daemon, first pass", []).append((first, quality(found, truth)))
                second = Measure.of([*daemon, str(config)], folder, env)
                rows.setdefault("daemon, second pass", []).append((second, None))
                if changed:
                    server.serve(corpus.later)
                    third = Measure.of([*daemon, str(config)], folder, env)
                    server.serve(corpus.feeds)
                    found = stored_pairs(folder / "bench.db", sql)
                    rows.setdefault("daemon, changed pass", []).append(
                        (third, quality(found, later_truth))
                    )
                if not args.no_baseline:
                    urls = folder / "urls.txt"
                    urls.write_text("\n".join(server.base_url + f.path for f in corpus.feeds))
                    base = Measure.of(
                        [sys.executable, str(HERE / "baseline.py"), str(urls), "baseline.db"],
                        folder, env,
                    )  # fmt: skip
                    found = stored_pairs(folder / "baseline.db", "SELECT url, brand FROM mentions")
                    rows.setdefault("naive baseline", []).append((base, quality(found, truth)))
            print(f"run {run + 1}: " + "; ".join(
                f"{name} {m[-1][0].wall:.2f} s" for name, m in rows.items()))  # fmt: skip
    print(first.output.strip().splitlines()[-1] if first.output.strip() else "")
    report(rows, corpus)


def report(rows: dict[str, list[tuple[Measure, Quality | None]]], corpus: Corpus) -> None:
    feeds = len(corpus.feeds)
    print(f"\nmedians of {len(next(iter(rows.values())))} runs")
    print(f"{'':22} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'(reader)':>8} {'PSS MB':>7} "
          f"{'items/s':>9} {'feeds/s':>8} {'precision':>9} {'recall':>7}")  # fmt: skip
    walls = {}
    for name, results in rows.items():
        wall = statistics.median(m.wall for m, _ in results)
        cpu = statistics.median(m.cpu for m, _ in results)
        peak = max(m.peak_mb for m, _ in results)
        child = max(m.child_mb for m, _ in results)
        pss = max(m.pss_mb for m, _ in results)
        walls[name] = wall
        qualities = [q for _, q in results if q is not None]
        precision = f"{statistics.median(q.precision for q in qualities):9.4f}" if qualities else ""
        recall = f"{statistics.median(q.recall for q in qualities):7.4f}" if qualities else ""
        rates = f"{corpus.items / wall:9.0f} {feeds / wall:8.1f}"
        print(f"{name:22} {wall:8.2f} {cpu:8.2f} {peak:8.1f} {child:8.1f} {pss:7.1f} {rates} "
              f"{precision:>9} {recall:>7}")  # fmt: skip
    if "naive baseline" in walls:
        ratio = walls["naive baseline"] / walls["daemon, first pass"]
        print(f"\nfirst pass vs naive baseline (wall): {ratio:.1f}x faster")
        # Run by run too: a shared host's speed drifts between runs, less within one.
        pairs = zip(rows["naive baseline"], rows["daemon, first pass"], strict=True)
        ratios = ", ".join(f"{base.wall / first.wall:.1f}x" for (base, _), (first, _) in pairs)
        print(f"  run by run (baseline and first pass of the same run): {ratios}")


if __name__ == "__main__":
    main()
