"""Faults survived: nothing lost, nothing doubled, no crash.

The daemon is run as users run it (``ereputation run --once`` in a subprocess) against feeds on
127.0.0.1, and is killed with SIGKILL mid-cycle, made to wait on a long ad-hoc writer, given a
read-only or full disk, a mail server that refuses, is down or never answers, and sources that
hang, drip, never end, reset, loop or weigh a gigabyte.  What is checked is the database and the
mailbox afterwards, never how the code got there.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest

from ereputation.alerting import check_and_alert
from ereputation.config import load_config
from ereputation.delivery import retry_delay, send_due_digests
from ereputation.store import open_database

NOW = datetime.now(UTC)
BRAND = "Atlas Télécom"


def feed(index: int, items: int = 6) -> str:
    """A feed whose items all mention the brand, each with its own URL and date."""
    body = "".join(
        f"<item><guid>g-{index}-{n}</guid><title>{escape(BRAND)} : nouvelle {index}-{n}</title>"
        f"<link>https://outlet{index}.example/article-{n}</link>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=n + 1))}</pubDate>"
        f"<description>{escape(BRAND)} annonce un service catastrophique, panne {index} {n}."
        f"</description></item>"
        for n in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<language>fr</language>{body}</channel></rss>"
    )


def write_config(
    tmp: Path, urls: list[str], *, database: str = "data/e.db", extra: str = ""
) -> Path:
    sources = "\n".join(
        f'  - {{name: "s{i}", url: "{u}", full_text: never}}' for i, u in enumerate(urls)
    )
    path = tmp / "feeds.yaml"
    path.write_text(
        f"database: {database}\ntimezone: Africa/Casablanca\nbrands:\n  - name: {BRAND}\n"
        f"sources:\n{sources}\n"
        "fetch: {timeout: 2s, host_delay: 0, per_host: 8, concurrency: 8}\n" + extra,
        encoding="utf-8",
    )
    return path


def cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}


def ereputation(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ereputation.cli", *args],
        cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def snapshot(db: Path) -> dict[str, object]:
    """What a user sees: articles and mentions (without ids and times), and integrity."""
    with closing(sqlite3.connect(db)) as conn:
        return {
            "articles": sorted(conn.execute("SELECT url, title, summary FROM articles")),
            "mentions": sorted(
                conn.execute(
                    "SELECT a.url, m.brand, m.snippet, m.label FROM mentions m "
                    "JOIN articles a ON a.id = m.article_id"
                )
            ),
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
            "duplicate_urls": conn.execute(
                "SELECT count(*) - count(DISTINCT url) FROM articles"
            ).fetchone()[0],
            "orphans": conn.execute(
                "SELECT count(*) FROM mentions WHERE article_id NOT IN (SELECT id FROM articles)"
            ).fetchone()[0],
        }


def slow(body: str, delay: float):
    """A route handler answering ``body`` after ``delay`` seconds (a distant server)."""

    def handler(request) -> None:  # noqa: ANN001 - BaseHTTPRequestHandler
        time.sleep(delay)
        data = body.encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    return handler


# --- SIGKILL in the middle of poll cycles ------------------------------------------------------


def test_sigkill_mid_cycle_loses_nothing_and_doubles_nothing(tmp_path, site):
    rng = random.Random(6)
    urls = [
        site.add_handler(f"/k{i}.xml", slow(feed(i), rng.uniform(0.05, 0.4))) for i in range(40)
    ]
    reference = tmp_path / "reference"
    reference.mkdir()
    started = time.monotonic()
    clean = ereputation("run", "--once", "-c", str(write_config(reference, urls)), cwd=reference)
    duration = time.monotonic() - started  # kills are placed inside a cycle of this length
    assert clean.returncode == 0, clean.stderr
    expected = snapshot(reference / "data" / "e.db")
    assert len(expected["mentions"]) == 40 * 6

    killed = tmp_path / "killed"
    killed.mkdir()
    config = write_config(killed, urls)
    db = killed / "data" / "e.db"
    kills = 0
    for fraction in [0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.75, 0.8]:
        process = subprocess.Popen(
            [sys.executable, "-m", "ereputation.cli", "run", "--once", "-c", str(config)],
            cwd=killed, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(duration * (fraction + rng.uniform(-0.05, 0.05)))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        if db.exists():
            state = snapshot(db)
            assert state["integrity"] == "ok"
            assert state["duplicate_urls"] == 0 and state["orphans"] == 0
            # Whatever a killed cycle stored is complete: every article has its mention.
            assert {m[0] for m in state["mentions"]} == {a[0] for a in state["articles"]}
    assert kills >= 5  # most kills really landed mid-cycle

    final = ereputation("run", "--once", "-c", str(config), cwd=killed)
    assert final.returncode == 0, final.stderr
    after = snapshot(db)
    assert after == expected
    again = ereputation("run", "--once", "-c", str(config), cwd=killed)
    assert again.returncode == 0 and snapshot(db) == expected


# --- a long ad-hoc writer ----------------------------------------------------------------------


def test_a_long_adhoc_writer_is_waited_for(tmp_path, site):
    urls = [site.add(f"/w{i}.xml", feed(i)) for i in range(5)]
    config = write_config(tmp_path, urls)
    db_path = tmp_path / "data" / "e.db"
    open_database(db_path).conn.close()
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE adhoc_notes (note TEXT)")
    holder.execute("INSERT INTO adhoc_notes VALUES ('kept')")
    process = subprocess.Popen(
        [sys.executable, "-m", "ereputation.cli", "run", "--once", "-c", str(config)],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(6)  # the daemon starts, fetches, and finds the database locked
    still_waiting = process.poll() is None
    holder.execute("COMMIT")
    holder.close()
    _, stderr = process.communicate(timeout=120)
    assert still_waiting  # it did not give up (nor finish) while the lock was held
    assert process.returncode == 0, stderr
    state = snapshot(db_path)
    assert len(state["mentions"]) == 5 * 6 and state["integrity"] == "ok"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT note FROM adhoc_notes").fetchall() == [("kept",)]


# --- read-only and full disks ------------------------------------------------------------------


def mount(*args: str) -> bool:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode:
        print("mount", *args, ":", done.stderr)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (needs mount privileges: root in the CI container)."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or not mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)):
        pytest.skip("mounting a tmpfs needs root (or CAP_SYS_ADMIN)")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def assert_clear_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "Error: " in done.stderr, done.stderr


@pytest.mark.parametrize("what", ["the folder", "the file alone"])
def test_read_only_database_gives_a_clear_error_and_no_corruption(tmp_path, site, small_disk, what):
    urls = [site.add(f"/r{i}.xml", feed(i)) for i in range(3)]
    db = small_disk / "e.db"
    config = write_config(tmp_path, urls, database=str(db))
    assert ereputation("run", "--once", "-c", str(config), cwd=tmp_path).returncode == 0
    before = snapshot(db)
    # chmod means nothing to root: read-only mounts are what a root daemon really meets.
    target = small_disk if what == "the folder" else db
    if what == "the file alone":
        assert mount("--bind", str(db), str(db))
    assert mount("-o", "remount,ro" + (",bind" if target == db else ""), str(target))
    site.add("/r0.xml", feed(0, items=9))  # new items the daemon cannot store
    done = ereputation("run", "--once", "-c", str(config), cwd=tmp_path)
    assert_clear_error(done)
    assert "read-only" in done.stderr.lower() or "readonly" in done.stderr.lower(), done.stderr
    if target == db:
        subprocess.run(["umount", str(db)], check=True)
    else:
        assert mount("-o", "remount,rw", str(small_disk))
    assert snapshot(db) == before
    done = ereputation("run", "--once", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(snapshot(db)["mentions"]) == len(before["mentions"]) + 3


def test_unwritable_directory_for_a_new_database(tmp_path, site, small_disk):
    assert mount("-o", "remount,ro", str(small_disk))
    config = write_config(
        tmp_path, [site.add("/u.xml", feed(0))], database=str(small_disk / "new.db")
    )
    done = ereputation("run", "--once", "-c", str(config), cwd=tmp_path)
    assert_clear_error(done)


def test_full_disk_gives_a_clear_error_and_no_corruption(tmp_path, site, small_disk):
    big = "x" * 3000
    urls = [site.add(f"/d{i}.xml", feed(i, items=2)) for i in range(3)]
    config = write_config(tmp_path, urls, database=str(small_disk / "e.db"))
    assert ereputation("run", "--once", "-c", str(config), cwd=tmp_path).returncode == 0
    before = snapshot(small_disk / "e.db")
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as out:  # fill the disk to the last block
        try:
            while True:
                out.write(b"\0" * 1024)
        except OSError:
            pass
    many = "".join(
        f"<item><guid>big-{n}</guid><title>{BRAND} {n}</title>"
        f"<link>https://big.example/{n}</link><description>{BRAND} {big}</description></item>"
        for n in range(100)
    )
    site.add("/d0.xml", f'<rss version="2.0"><channel><title>t</title>{many}</channel></rss>')
    done = ereputation("run", "--once", "-c", str(config), cwd=tmp_path)
    assert "Traceback" not in done.stderr
    assert_clear_error(done)
    assert "disk is full" in done.stderr, done.stderr
    filler.unlink()
    state = snapshot(small_disk / "e.db")
    assert state["integrity"] == "ok" and state["duplicate_urls"] == 0
    assert set(before["mentions"]) <= set(state["mentions"])
    done = ereputation("run", "--once", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(snapshot(small_disk / "e.db")["mentions"]) == len(before["mentions"]) + 100


# --- the mail server refuses, is down, or never answers -----------------------------------------


def silent_server() -> tuple[socket.socket, int]:
    """A TCP listener that accepts and never says a word (an SMTP server that hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener, listener.getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("fault", ["refusing", "down", "timing out"])
def test_digest_and_alerts_are_kept_then_sent_once_when_mail_is_back(tmp_path, site, smtp, fault):
    urls = [site.add(f"/m{i}.xml", feed(i)) for i in range(2)]
    listener = None
    if fault == "refusing":
        smtp.fail_with = "451 4.3.0 try again later"
        port = smtp.port
    elif fault == "down":
        port = free_port()
    else:
        listener, port = silent_server()
    # Due from this very minute, and not again for a day: the test's 32 minutes never reach
    # the next day's digest, whatever the hour it runs at ("00:00" failed from 23:29 on).
    at = datetime.now(ZoneInfo("Africa/Casablanca")).strftime("%H:%M")
    mail = (
        f'digest: {{at: "{at}", language: fr, to: [com@example.ma]}}\n'
        f'email: {{smtp: "127.0.0.1:{port}", starttls: false, timeout: 2s, '
        'from: "e-reputation <alerts@example.ma>"}\n'
    )
    config_path = write_config(tmp_path, urls, extra=mail)
    assert ereputation("run", "--once", "-c", str(config_path), cwd=tmp_path).returncode == 0
    config = load_config(config_path)
    db = open_database(config.database)
    try:
        now = datetime.now(UTC)
        results = send_due_digests(config, db, now)
        assert [r.status for r in results] == ["failed"]
        check_and_alert(config, db, now)
        unsent = db.conn.execute("SELECT count(*) FROM alerts WHERE sent_at IS NULL").fetchone()
        assert unsent[0] >= 1  # the alerts fired are kept, not dropped
        assert smtp.messages == []

        if listener is not None:
            listener.close()
        smtp.fail_with = None
        back = load_config(
            write_config(tmp_path, urls, extra=mail.replace(str(port), str(smtp.port)))
        )
        later = now + retry_delay(1) + timedelta(seconds=1)
        assert [r.status for r in send_due_digests(back, db, later)] == ["sent"]
        check_and_alert(back, db, later)
        for _ in range(3):  # the daemon calls these every tick: nothing more is sent
            even_later = later + timedelta(minutes=30)
            assert all(r.status != "sent" for r in send_due_digests(back, db, even_later))
            check_and_alert(back, db, even_later)
    finally:
        db.conn.close()
    smtp.wait_for(2)
    # One digest and one alert mail (all the signals of a check travel together), each once.
    assert len(smtp.messages) == 2, [m["Subject"] for m in smtp.messages]
    with sqlite3.connect(config.database) as conn:
        assert conn.execute("SELECT count(*) FROM alerts WHERE sent_at IS NULL").fetchone()[0] == 0


# --- sources that misbehave -------------------------------------------------------------------


def test_misbehaving_sources_do_not_stop_the_cycle(tmp_path, site):
    def hang(request) -> None:  # noqa: ANN001
        time.sleep(30)

    def drip(request) -> None:  # noqa: ANN001
        request.send_response(200)
        request.send_header("Content-Length", "100000")
        request.end_headers()
        for _ in range(300):
            request.wfile.write(b"<")
            request.wfile.flush()
            time.sleep(0.1)

    def endless(request) -> None:  # noqa: ANN001
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.end_headers()  # no length: the body ends when the connection does, i.e. never
        request.wfile.write(b'<rss version="2.0"><channel><title>')
        chunk = b"Atlas Telecom " * 4096
        try:
            while True:
                request.wfile.write(chunk)
        except OSError:
            pass

    def gigabyte(request) -> None:  # noqa: ANN001
        request.send_response(200)
        request.send_header("Content-Length", str(1 << 30))
        request.end_headers()
        chunk = b"A" * 65536
        try:
            for _ in range((1 << 30) // len(chunk)):
                request.wfile.write(chunk)
        except OSError:
            pass

    def reset(request) -> None:  # noqa: ANN001
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        request.connection.close()

    bad = {
        "hang": site.add_handler("/hang.xml", hang),
        "drip": site.add_handler("/drip.xml", drip),
        "endless": site.add_handler("/endless.xml", endless),
        "gigabyte": site.add_handler("/gigabyte.xml", gigabyte),
        "reset": site.add_handler("/reset.xml", reset),
        "loop": site.add("/loop.xml", "", status=302, Location="/loop.xml"),
        "5xx": site.add("/5xx.xml", "oops", status=503),
    }
    good = [site.add(f"/good{i}.xml", feed(i)) for i in range(3)]
    config = write_config(tmp_path, [*bad.values(), *good], extra="")
    config.write_text(config.read_text().replace("fetch: {", "fetch: {max_size: 2MB, "))
    done = ereputation("run", "--once", "-c", str(config), cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    with sqlite3.connect(tmp_path / "data" / "e.db") as conn:
        errors = dict(conn.execute("SELECT url, last_error FROM sources"))
    for name, url in bad.items():
        assert errors[url], name  # each has its own one-line reason
        assert "\n" not in errors[url] and not errors[url].startswith("internal error"), name
    assert all(errors[url] is None for url in good)
    assert len(snapshot(tmp_path / "data" / "e.db")["mentions"]) == 3 * 6
