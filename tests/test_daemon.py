"""``ereputation run`` as systemd runs it: the real scheduler, real signals, real files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sample_feeds import EN, FR


def start(config: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    return subprocess.Popen(
        [sys.executable, "-m", "ereputation.cli", "run", "-c", str(config)],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_until(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet


def config_text(site, smtp, sources: list[str]) -> str:
    listed = "\n".join(
        f'  - {{name: "{path}", url: "{site.url(path)}", full_text: never}}' for path in sources
    )
    return f"""
database: state/daemon.db
brands:
  - {{name: Atlas Télécom, aliases: [Atlas Telecom]}}
  - {{name: Banque Zellige, aliases: [Zellige Bank]}}
sources:
{listed}
poll_every: 1m
digest: {{at: "00:00", language: en, to: [com@example.ma]}}
email: {{smtp: "127.0.0.1:{smtp.port}", starttls: false}}
fetch: {{host_delay: 0}}
"""


def test_daemon_polls_sends_the_digest_once_reloads_and_stops_cleanly(tmp_path, site, smtp):
    site.add("/fr.xml", FR)
    site.add("/en.xml", EN)
    config = tmp_path / "feeds.yaml"
    db = tmp_path / "state" / "daemon.db"
    config.write_text(config_text(site, smtp, ["/fr.xml"]), encoding="utf-8")

    daemon = start(config, tmp_path)
    try:
        # The first tick polls at once, and the digest (due since 00:00) goes out once.
        assert wait_until(lambda: count(db, "SELECT count(*) FROM mentions") == 1)
        assert wait_until(lambda: count(db, "SELECT count(*) FROM digests WHERE status='sent'"))
        digests = [m for m in smtp.wait_for(1) if "digest" in m.get("List-Id", "")]
        assert len(digests) == 1

        # A second daemon on the same database refuses to start.
        second = start(config, tmp_path)
        assert second.wait(timeout=60) != 0
        assert "already using" in second.stderr.read()

        # SIGHUP with a broken file keeps the running configuration.
        config.write_text("brands: [oops", encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert daemon.poll() is None

        # SIGHUP with a new source: it is polled straight away.
        config.write_text(config_text(site, smtp, ["/fr.xml", "/en.xml"]), encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        assert wait_until(lambda: count(db, "SELECT count(*) FROM mentions") == 2)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            pytest.fail("the daemon did not stop within 60 s of SIGTERM")
    stderr = daemon.stderr.read() if daemon.stderr else ""
    assert code == 0, stderr
    assert "reload refused" in stderr
    assert "Traceback" not in stderr

    # Restarted the same day: no second digest.
    before = len(smtp.messages)
    again = start(config, tmp_path)
    try:
        assert wait_until(
            lambda: count(db, "SELECT count(*) FROM sources WHERE last_polled_at IS NOT NULL") == 2
        )
        time.sleep(2)
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=60) == 0
    assert len(smtp.messages) == before
    assert count(db, "SELECT count(*) FROM digests") == 1


def test_daemon_tells_systemd_it_is_ready_and_alive(tmp_path, site, smtp):
    import socket

    site.add("/fr.xml", FR)
    config = tmp_path / "feeds.yaml"
    config.write_text(config_text(site, smtp, ["/fr.xml"]), encoding="utf-8")
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(60)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    env.update(NOTIFY_SOCKET=address, WATCHDOG_USEC="2000000")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "ereputation.cli", "run", "-c", str(config)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    received: list[str] = []
    try:
        while not ("READY=1" in received and received.count("WATCHDOG=1") >= 2):
            received += listener.recv(4096).decode().split("\n")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
        while True:
            try:
                listener.settimeout(2)
                received += listener.recv(4096).decode().split("\n")
            except TimeoutError:
                break
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
    assert "STOPPING=1" in received
