"""bench/timeline.py, the CPU timeline of a first pass: run on a few generated feeds, it
finds the daemon's feed reader and prints each part's share and its total CPU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_timeline_samples_the_daemon_and_its_feed_reader() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "timeline.py"), "--feeds", "12", "--step", "0.1",
         "--fail-share", "0", "--parse-processes", "1"],  # a reader even on one core
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("12 feeds, latency 0 ms: first pass ")
    totals = dict(re.findall(r"(main|threads|reader) ([0-9.]+)", lines[-1]))
    assert set(totals) == {"main", "threads", "reader"}
    # Twelve feeds of 20-100 items are parsed in the reader: its interpreter alone takes CPU.
    assert float(totals["reader"]) > 0.05
    assert float(totals["main"]) > 0.05
    rows = [line.split() for line in lines[2:-1]]
    assert rows and all(len(row) == 4 for row in rows)
    assert all(float(share) >= 0 for row in rows for share in row[1:])
