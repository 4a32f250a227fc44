"""One daemon per database: an exclusive ``flock`` on ``<database>.lock``.

Two daemons polling into one SQLite file would fetch everything twice and mail every alert
and digest twice.  SQLite's own locking does not prevent that (both write happily in turn),
so the daemon takes this lock before it opens the database and keeps it until it exits.

Why ``flock`` and not a pid file checked with ``kill(pid, 0)``: the kernel drops the lock when
the process dies, however it dies (``kill -9``, OOM killer, power loss), so a crash never leaves
a stale lock and nobody has to delete it by hand.  The pid written into the file serves only
the error message.  The file itself is never removed: unlinking it while another process waits
on the old inode would let two daemons each hold a lock on a different file.

Limits: the lock is per open file description, so a second ``acquire_lock`` in the *same*
process also fails (as it should).  On network filesystems flock may be emulated or local to
one host; keep the database on a local disk, as SQLite's WAL mode requires anyway.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from .errors import EreputationError

__all__ = ["LockHandle", "acquire_lock", "lock_path"]


class LockHandle:
    """The held lock; ``release()`` (or leaving a ``with`` block, or exiting) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up; safe to call twice.  The file stays (see the module docstring)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no pid in the file while nobody holds it
        except OSError:
            pass
        os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> LockHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"LockHandle({str(self.path)!r}, held={self.held})"


def lock_path(db_path: Path) -> Path:
    """The lock file guarding ``db_path``: the same name with ``.lock`` appended."""
    return db_path.with_name(db_path.name + ".lock")


def acquire_lock(db_path: Path) -> LockHandle:
    """Take the exclusive lock guarding ``db_path`` without waiting.

    Creates the database's folder and the lock file (mode 0600) when missing and writes this
    process's pid into the file.  Raises ``EreputationError`` when another process holds the
    lock (naming its pid) or when the lock file cannot be created.
    """
    path = lock_path(Path(db_path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise EreputationError(
            f"cannot create lock file {path}: {err.strerror}",
            hint=f"make {path.parent} writable by the user running ereputation, "
            "or point `database:` in feeds.yaml at a writable place",
        ) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = _read_pid(fd)
        os.close(fd)
        if not isinstance(err, BlockingIOError):
            raise EreputationError(
                f"cannot lock {path}: {err.strerror}",
                hint="keep the database on a local filesystem that supports flock",
            ) from err
        who = f"pid {holder}" if holder else "unknown pid"
        raise EreputationError(
            f"another ereputation daemon ({who}) is already using {db_path}",
            hint="stop it first (`systemctl stop ereputation`, or kill that pid), "
            "or give this one its own `database:` in feeds.yaml",
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass  # the pid only improves the message another daemon prints; the lock is what counts
    return LockHandle(path, fd)


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote, or ``None`` if unreadable (e.g. read while it was writing)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
