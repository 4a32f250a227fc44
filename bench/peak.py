"""Run a module (``-m name``) or a script as ``__main__`` and record its own peak memory.

    python bench/peak.py FILE -m ereputation.cli run --once -c feeds.yaml

At exit, writes the process's ``VmHWM`` (peak resident set, kB) to FILE, then the peak of
its largest finished child (the daemon's feed reader process, feed_reading.py), kB.
``wait4``'s ``ru_maxrss`` cannot be used for the program itself: Linux carries the parent's
peak over ``vfork`` and ``exec`` into the child's, so a child started by a 400 MB benchmark
process "peaks" at 400 MB even when it never uses more than 70 MB.  ``VmHWM`` belongs to the
new program only.  For the daemon's own children that carry-over is the daemon's size when
it started them (~40 MB), so their figure is an upper bound.
"""

from __future__ import annotations

import atexit
import resource
import runpy
import sys
from pathlib import Path


def _write_peak(path: Path) -> None:
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            path.write_text(f"{line.split()[1]} {children}")


def main() -> None:
    out = Path(sys.argv[1])
    atexit.register(_write_peak, out)
    if sys.argv[2] == "-m":
        sys.argv = [sys.argv[3], *sys.argv[4:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[2:]
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
