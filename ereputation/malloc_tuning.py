"""glibc malloc settings for the daemon's processes, set before their threads and big arrays.

Two defaults of glibc hold memory that a long-running poller has freed:

* one arena per worker thread (up to 8 per core), each keeping what its C libraries
  (libcurl, libxml2, SQLite) freed: ~10 MB of the peak over 1,000 feeds with 32 threads;
* a threshold for serving an allocation with its own ``mmap`` that rises, up to 32 MB, to
  the size of any such block freed.  After the story index's first arrays are grown and
  freed, later ones (up to tens of MB at 10,000 feeds) come from the heap, and the heap
  keeps the pages of every freed copy: 70,000 stories took +64 MB of RSS instead of +45 MB
  (docs/benchmarks.md, tenth round).  A fixed threshold gives blocks from 256 KB up back to
  the system when they are freed.

Environment variables (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``) win; C libraries
other than glibc are left alone.
"""

from __future__ import annotations

import os
import sys

ARENAS = 2
MMAP_THRESHOLD = 256 * 1024
_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_M_ARENA_MAX = -8


def tune_malloc() -> None:
    """Apply ``ARENAS`` and ``MMAP_THRESHOLD`` to this process (call it early)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return
    if not os.environ.get("MALLOC_ARENA_MAX"):
        mallopt(_M_ARENA_MAX, ARENAS)
    if not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
