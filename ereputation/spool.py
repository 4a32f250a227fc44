"""Fetched feed bodies waiting on disk for a worker to read them.

Why: a cycle asks for the next feed only while few bodies wait to be read, so that memory
stays bounded.  Reading (parsing, matching, judging) is slower than fetching, so the requests
then advance at the pace of reading, and a server that never answers is asked late: the
cycle ends its whole timeout after the last body is read.  On the benchmark's first pass
that is 0.6 s of 8.3 (docs/benchmarks.md, eighteenth session), and with the default 20 s
timeout it could be 20 s.  Bodies beyond the readers' queue are written here instead, so
fetching runs ahead of reading and a hanging server's timeout runs while others are read.

The file is anonymous (unlinked at once: a crash or ``kill -9`` leaves nothing behind) and
lives beside the database, not in ``/tmp``, which may be a tmpfs held in memory.  A spool
emptied by its readers is truncated, and one truncated within seconds of being written is
seldom written to the disk at all: the page cache absorbs it.  If the file cannot be
written, the body is kept in memory and the spool takes nothing more: the cycle goes on
at the pace of reading, as without a spool.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import IO, Generic, TypeVar

from .fetch import FetchResult, Redirected

__all__ = ["BodySpool", "SPOOL_BYTES", "SPOOL_ITEMS"]

log = logging.getLogger(__name__)

# How far fetching may run ahead of reading: at the benchmark's pace (~150 feeds of ~64 KB a
# second), 64 MiB is ~7 s of reading, more than the 3 s timeout it must hide there, a third
# of the default 20 s.  Entries are a FetchResult without its body (~1 KB of memory each).
SPOOL_BYTES = 64 * 1024 * 1024
SPOOL_ITEMS = 2048

T = TypeVar("T")


class BodySpool(Generic[T]):
    """A first-in, first-out queue of fetch results with their bodies on disk.

    One thread uses it (the cycle's): it has no lock.
    """

    def __init__(
        self, folder: Path, max_bytes: int = SPOOL_BYTES, max_items: int = SPOOL_ITEMS
    ) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._entries: deque[tuple[T, FetchResult | Redirected, int, int]] = deque()
        self._file: IO[bytes] | None = None  # opened on first use
        self._end = 0  # bytes written since the file was last emptied
        self._broken = False  # the file could not be written: nothing more is taken

    def __len__(self) -> int:
        return len(self._entries)

    def has_room(self) -> bool:
        """Whether one more request may be started for the spool to take its body."""
        return len(self._entries) < self.max_items and self._file_has_room()

    def put(self, tag: T, result: FetchResult | Redirected) -> None:
        """Keep ``result`` (``tag`` is the caller's) until ``take``.  Its body goes to the
        file while the file has room; else (the requests already in flight when the room ran
        out, or a file that cannot be written) it stays in memory."""
        if isinstance(result, FetchResult) and result.body and self._file_has_room():
            at = self._write(result.body)
            if at is not None:
                self._entries.append((tag, replace(result, body=None), at, len(result.body)))
                return
        self._entries.append((tag, result, -1, 0))

    def take(self) -> tuple[T, FetchResult | Redirected]:
        """The oldest result, its body read back; never raises: a body the file cannot give
        back makes its result a failed fetch, asked again on the source's next poll."""
        tag, result, at, size = self._entries.popleft()
        if at >= 0:
            assert self._file is not None and isinstance(result, FetchResult)
            try:
                body = os.pread(self._file.fileno(), size, at)
                if len(body) != size:
                    raise OSError(f"{len(body)} of {size} bytes read")
                result = replace(result, body=body)
            except OSError as err:
                result = replace(result, error=f"the fetched body was lost: spool: {err}")
        if not self._entries and self._end:
            self._truncate()
        return tag, result

    def close(self) -> None:
        """Drop what is left (a stopped cycle: those feeds are asked again next time)."""
        self._entries.clear()
        if self._file is not None:
            self._file.close()
            self._file = None

    def _file_has_room(self) -> bool:
        return not self._broken and self._end < self.max_bytes

    def _write(self, body: bytes) -> int | None:
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(dir=self.folder, prefix=".spool-")
            descriptor = self._file.fileno()
            view, at = memoryview(body), self._end
            while view:  # a regular file takes it all at once, but for a full disk
                written = os.pwrite(descriptor, view, at)
                if not written:
                    raise OSError("the spool file took no byte")
                view, at = view[written:], at + written
        except OSError as err:
            log.warning("feed bodies cannot be spooled in %s (%s): fetching now waits for "
                        "reading", self.folder, err)  # fmt: skip
            self._broken = True
            return None
        at = self._end
        self._end += len(body)
        return at

    def _truncate(self) -> None:
        assert self._file is not None
        try:
            os.ftruncate(self._file.fileno(), 0)
        except OSError as err:  # the bytes stay on disk until the cycle ends; reuse goes on
            log.warning("the feed body spool could not be emptied: %s", err)
        self._end = 0
