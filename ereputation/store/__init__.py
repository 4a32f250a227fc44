"""Storage: the only package that speaks SQL.

``open_database`` gives a migrated ``Database`` (a connection, with sqlite-utils' API on demand)
in WAL mode with a busy timeout, so an ad-hoc ``sqlite3`` session and the daemon can share the
file.  A ``Database`` belongs to the thread that opened it.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from .schema import APPLICATION_ID, MIGRATIONS

if TYPE_CHECKING:
    import sqlite_utils


class Database:
    """A connection to the database, with sqlite-utils' ``Database`` one attribute away.

    The daemon's own code speaks SQL (``execute``, ``conn``), so ``run --once`` does not pay
    for importing sqlite-utils (~40 ms of CPU, a tenth of an all-unchanged pass over 1,000
    feeds); any other attribute (``db["alerts"]``, ``db.table_names()``, ``db.query``) is
    sqlite-utils', on the same connection, built the first time one is asked for.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._utils: sqlite_utils.Database | None = None

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        """As sqlite-utils' ``Database.execute``."""
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    @property
    def utils(self) -> sqlite_utils.Database:
        if self._utils is None:
            _import_sqlite_utils_without_numpy()
            import sqlite_utils

            # No plugins: they could change what our SQL means, and finding them scans every
            # installed package's metadata (15-33 ms of CPU, more the more packages).
            self._utils = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._utils

    def __getattr__(self, name: str) -> Any:
        return getattr(self.utils, name)

    def __getitem__(self, name: str) -> Any:
        return self.utils[name]


def _import_sqlite_utils_without_numpy() -> None:
    """Import sqlite-utils without letting it import numpy, unless numpy is already loaded.

    sqlite-utils imports numpy (when installed: py3langid brings it) only to map numpy scalar
    types to column types, and nothing here inserts a numpy value: that import is ~110 ms of
    CPU.  numpy is hidden for this one import, then importable again for whoever needs it.
    """
    if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # ``import numpy`` -> ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["numpy"]


BUSY_TIMEOUT_MS = 30_000
LOW_DISK_BYTES = 64 * 1024  # below this, a failure to open is blamed on the full disk


def open_database(path: Path | str) -> Database:
    """Open (creating if needed) and migrate the database at ``path``.

    Raises ``StoreError`` when the file belongs to another application, was written by a newer
    ereputation, or cannot be opened or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db = Database(conn)
        _migrate(conn, path)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as err:
        raise StoreError(
            f"cannot use database {path}: {err}{_disk_full_note(path)}",
            hint="check that the path is writable, the disk not full, and no other program "
            "holds a long write lock on it",
        ) from err
    return db


def _disk_full_note(path: Path) -> str:
    """A note when the disk is full: SQLite then only says "disk I/O error"."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return ""
    return f" (the disk is full: {free} bytes free)" if free < LOW_DISK_BYTES else ""


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id not in (0, APPLICATION_ID):
        raise StoreError(
            f"{path} is not an ereputation database (application_id {app_id:#x})",
            hint="point `database:` in feeds.yaml at a new file",
        )
    if app_id == 0 and version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise StoreError(
                f"{path} already holds tables of another program",
                hint="point `database:` in feeds.yaml at a new file",
            )
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path} was written by a newer ereputation (schema {version}, "
            f"this one knows {len(MIGRATIONS)})",
            hint="upgrade ereputation",
        )
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    for number in range(version, len(MIGRATIONS)):
        # executescript commits first; BEGIN IMMEDIATE makes each migration all-or-nothing.
        conn.executescript(
            "BEGIN IMMEDIATE;\n"
            + MIGRATIONS[number]
            + f"\nPRAGMA application_id = {APPLICATION_ID};\nPRAGMA user_version = {number + 1};\n"
            "COMMIT;"
        )
