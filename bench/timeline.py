"""Where a first pass waits: the CPU of the daemon's threads and of its feed reader, over time.

    python bench/timeline.py --feeds 1000
    python bench/timeline.py --feeds 10000 --latency 0.05 --step 5

One ``ereputation run --once`` first pass over bench/scale.py's generated corpus, served the
same way, with the CPU time of three parts sampled every 0.05 s from /proc:

- **main**: the daemon's main thread, which fetches every feed and stores every outcome (so
  story lookups and SQLite are here);
- **threads**: the daemon's other threads (the workers that hand bodies to the reader and
  fingerprint stories, the reader's answer collector);
- **reader**: the feed reader process (parsing, matching, judging).

It prints, per ``--step`` seconds, each part's share of one core (100 % = one core busy all
the step), then the totals.  The part that stays near 100 % while the others idle is the one
that sets the pace: the feed reader at 1,000 feeds, the main thread at 10,000
(docs/benchmarks.md, nineteenth session).  Python threads share one core through the GIL, so
main + threads cannot pass ~100 % for long.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import make_corpus
from scale import _children, daemon_env, write_config
from server import FeedServer

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(stat_path: str) -> float | None:
    """utime + stime of a process or thread, in seconds (None once it is gone)."""
    try:
        with open(stat_path) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


class _Parts:
    """The CPU seconds of main, threads and reader so far (each part keeps its last value
    once it is gone: a finished thread's time stays in the process's total)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.reader: int | None = None
        self.last = {"main": 0.0, "threads": 0.0, "reader": 0.0}

    def sample(self) -> dict[str, float]:
        main = _cpu(f"/proc/{self.pid}/task/{self.pid}/stat")
        process = _cpu(f"/proc/{self.pid}/stat")
        if main is not None and process is not None:
            self.last["main"] = main
            self.last["threads"] = max(self.last["threads"], process - main)
        if self.reader is None:
            children = _children(self.pid)
            self.reader = children[0] if children else None
        if self.reader is not None and (reader := _cpu(f"/proc/{self.reader}/stat")) is not None:
            self.last["reader"] = reader
        return dict(self.last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--fail-share", type=float, default=0.03)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--step", type=float, default=0.5, help="seconds per printed line")
    parser.add_argument(
        "--parse-processes", type=int, default=None,
        help="the daemon's feed reader processes (default: its own default; 0: none)",
    )  # fmt: skip
    args = parser.parse_args()

    corpus = make_corpus(args.feeds, args.seed, fail_share=args.fail_share)
    env = daemon_env()
    with FeedServer(corpus, latency=args.latency, hang=10.0) as server:
        with tempfile.TemporaryDirectory(prefix="ereputation-timeline-") as tmp:
            folder = Path(tmp)
            config = write_config(
                folder, server.base_url, corpus, args.concurrency, args.parse_processes
            )
            command = [sys.executable, "-m", "ereputation.cli", "run", "--once", "-c", str(config)]
            start = time.perf_counter()
            daemon = subprocess.Popen(
                command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            parts = _Parts(daemon.pid)
            samples = [(0.0, parts.sample())]
            while daemon.poll() is None:
                time.sleep(0.05)
                samples.append((time.perf_counter() - start, parts.sample()))
            errors = daemon.stderr.read().decode("utf-8", "replace") if daemon.stderr else ""
            if daemon.returncode != 0:
                raise SystemExit(f"the daemon failed ({daemon.returncode}):\n{errors[-3000:]}")
    print(f"{len(corpus.feeds)} feeds, latency {args.latency * 1000:.0f} ms: "
          f"first pass {samples[-1][0]:.2f} s")  # fmt: skip
    print(f"{'s':>7} {'main':>6} {'threads':>8} {'reader':>7}   (% of one core)")
    shown = samples[0]
    for moment, cpu in samples[1:]:
        if moment - shown[0] >= args.step or (moment, cpu) == samples[-1]:
            span = moment - shown[0]
            shares = [100 * (cpu[part] - shown[1][part]) / span for part in shown[1]]
            print(f"{moment:7.2f} " + " ".join(f"{share:{w}.0f}" for share, w in
                                              zip(shares, (6, 8, 7), strict=True)))  # fmt: skip
            shown = (moment, cpu)
    total = samples[-1][1]
    print("CPU seconds: " + ", ".join(f"{part} {seconds:.2f}" for part, seconds in total.items()))


if __name__ == "__main__":
    main()
