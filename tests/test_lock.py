"""The single-instance lock, across real processes (flock is per open file description)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ereputation.errors import EreputationError
from ereputation.lock import acquire_lock, lock_path

REPO = Path(__file__).resolve().parents[1]

# Takes the lock, says so on stdout, then waits to be killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ereputation.lock import acquire_lock
    handle = acquire_lock(Path(sys.argv[1]))
    print("locked", flush=True)
    time.sleep(600)
    """
)

# Tries to take the lock; prints the outcome.
CONTENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ereputation.errors import EreputationError
    from ereputation.lock import acquire_lock
    try:
        acquire_lock(Path(sys.argv[1]))
    except EreputationError as err:
        print("refused:", err)
        print("hint:", err.hint)
        sys.exit(3)
    print("acquired")
    """
)


def _start_holder(db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], env=env, text=True, stdout=subprocess.PIPE
    )


def _contend(db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", CONTENDER, str(db)],
        env=env,
        text=True,
        capture_output=True,
        timeout=60,
    )


def test_second_daemon_is_refused_until_the_holder_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "ereputation.db"
    holder = _start_holder(db)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"

        refused = _contend(db)
        assert refused.returncode == 3, refused.stderr
        assert f"another ereputation daemon (pid {holder.pid}) is already using {db}" in (
            refused.stdout
        )
        assert "systemctl stop ereputation" in refused.stdout

        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()

    # The dead holder's pid is still written in the file, yet the lock is free: no stale lock.
    assert lock_path(db).read_text().strip() == str(holder.pid)
    after = _contend(db)
    assert after.returncode == 0, after.stdout + after.stderr
    assert after.stdout.strip() == "acquired"


def test_released_lock_can_be_taken_again_and_records_our_pid(tmp_path: Path) -> None:
    db = tmp_path / "state" / "ereputation.db"  # folder created on demand
    handle = acquire_lock(db)
    assert lock_path(db).read_text() == f"{os.getpid()}\n"
    assert (lock_path(db).stat().st_mode & 0o777) == 0o600
    handle.release()
    handle.release()  # idempotent
    assert not handle.held
    with acquire_lock(db) as again:
        assert again.held
    assert not again.held


def test_second_acquire_in_same_process_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "ereputation.db"
    with acquire_lock(db):
        with pytest.raises(EreputationError, match=rf"\(pid {os.getpid()}\) is already using"):
            acquire_lock(db)


def test_unwritable_folder_gives_a_hint(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(EreputationError, match="cannot create lock file") as caught:
        acquire_lock(blocker / "ereputation.db")
    assert "writable" in caught.value.hint
