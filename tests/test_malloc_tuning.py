"""The daemon's processes give big freed blocks back to the system (ereputation.malloc_tuning)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc's malloc only",
)

# After one big block is freed, glibc serves blocks up to its size from the heap, which keeps
# their pages once they are freed: what the story index's growing arrays did at 10,000 feeds.
PROBE = """
import sys
if sys.argv[1] == "tuned":
    from ereputation.malloc_tuning import tune_malloc
    tune_malloc()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
first = bytearray(24 << 20)
del first
before = rss()
blocks = [bytearray(3 << 20) for _ in range(12)]
del blocks
print(rss() - before)
"""


def kept_mb(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True
    )
    return int(result.stdout)


def test_freed_big_blocks_go_back_to_the_system() -> None:
    plain, tuned = kept_mb("plain"), kept_mb("tuned")
    assert tuned < 8, tuned  # 36 MB of blocks allocated and freed: nearly nothing kept
    assert plain - tuned > 16, (plain, tuned)  # glibc's default kept them (36 MB here)
