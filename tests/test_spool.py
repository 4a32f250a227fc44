"""Feed bodies spooled to disk so that fetching runs ahead of reading (spool.py)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sample_feeds import rss

from ereputation import feed_reading
from ereputation.config import load_config
from ereputation.cycle import run_once
from ereputation.fetch import Conditional, FetchResult, Redirected, _Hop
from ereputation.spool import BodySpool


def fetched(url: str, body: bytes | None) -> FetchResult:
    return FetchResult(url, url, 200, body, "application/rss+xml", '"e"', None, False, None,
                       None, 0.01)  # fmt: skip


def test_results_come_back_in_order_with_their_bodies(tmp_path: Path) -> None:
    spool: BodySpool[str] = BodySpool(tmp_path)
    bodies = [os.urandom(size) for size in (1, 70_000, 0, 5)]
    moved = Redirected(Conditional("http://a.example/old"), _Hop("http://a.example/old"), 0.0)
    for n, body in enumerate(bodies):
        spool.put(f"s{n}", fetched(f"http://a.example/{n}", body))
    spool.put("moved", moved)
    assert len(spool) == 5
    assert os.listdir(tmp_path) == []  # the file has no name: a crash leaves nothing behind
    for n, body in enumerate(bodies):
        tag, result = spool.take()
        assert isinstance(result, FetchResult)
        assert (tag, result.url, result.body, result.etag) == (f"s{n}", f"http://a.example/{n}",
                                                               body, '"e"')  # fmt: skip
    assert spool.take() == ("moved", moved)
    assert len(spool) == 0
    spool.close()


def test_room_is_bounded_by_items_and_bytes_and_comes_back_once_emptied(tmp_path: Path) -> None:
    spool: BodySpool[int] = BodySpool(tmp_path, max_bytes=100, max_items=3)
    spool.put(0, fetched("http://a.example/0", b"x" * 60))
    assert spool.has_room()
    spool.put(1, fetched("http://a.example/1", b"y" * 60))  # the file is full now
    assert not spool.has_room()
    spool.put(2, fetched("http://a.example/2", b"z" * 60))  # in flight when it filled: kept
    assert [spool.take()[1].body for _ in range(3)] == [b"x" * 60, b"y" * 60, b"z" * 60]  # type: ignore[union-attr]
    assert spool.has_room()  # emptied: the file starts again from nothing
    for n in range(3):
        spool.put(n, fetched(f"http://a.example/{n}", b"w"))
    assert not spool.has_room()  # three entries
    spool.close()


def test_a_folder_that_cannot_be_written_keeps_bodies_in_memory_and_takes_no_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool: BodySpool[int] = BodySpool(tmp_path / "gone")
    spool.put(0, fetched("http://a.example/0", b"body"))
    assert "cannot be spooled" in caplog.text
    assert not spool.has_room()  # the cycle goes on at the pace of reading
    assert spool.take()[1].body == b"body"  # type: ignore[union-attr]


def test_a_body_lost_from_the_file_becomes_a_failed_fetch(tmp_path: Path) -> None:
    spool: BodySpool[int] = BodySpool(tmp_path)
    spool.put(0, fetched("http://a.example/0", b"body"))
    assert spool._file is not None
    os.ftruncate(spool._file.fileno(), 0)  # as a disk error would
    _, result = spool.take()
    assert isinstance(result, FetchResult)
    assert not result.ok and "lost" in (result.error or "")


def _feeds(site, tmp_path: Path, count: int, hang_at: int, timeout: float) -> tuple[Path, list]:  # noqa: ANN001
    """``count`` feeds of one mention each, the one at ``hang_at`` never answering; when each
    request arrived is kept."""
    arrived: dict[str, float] = {}

    def hang(handler) -> None:  # noqa: ANN001
        arrived[handler.path] = time.monotonic()
        time.sleep(timeout + 1.0)

    urls = []
    for n in range(count):
        if n == hang_at:
            urls.append(site.add_handler(f"/f{n}.xml", hang))
            continue
        item = (f"a{n}", f"Atlas Télécom {n}", f"https://presse.example/{n}", "Texte.", 1)
        urls.append(site.add(f"/f{n}.xml", rss([item])))
    path = tmp_path / "feeds.yaml"
    sources = ", ".join(f"{{name: F{n}, url: '{u}'}}" for n, u in enumerate(urls))
    path.write_text(
        "database: t.db\nbrands: [{name: Atlas Télécom}]\n"
        f"sources: [{sources}]\n"
        f"fetch: {{host_delay: 0, concurrency: 1, per_host: 1, timeout: {timeout:g}s, "
        "parse_processes: 0}\n",
        encoding="utf-8",
    )
    return path, [arrived]


def test_fetching_runs_ahead_of_reading_so_a_hanging_server_is_asked_early(
    site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One feed at a time may be read (``concurrency: 1``) and reading is slow: the feeds
    after it are still fetched at once, so the last one, whose server never answers, is asked
    before the second feed is read, and its timeout runs while the others are read."""
    path, (arrived,) = _feeds(site, tmp_path, count=6, hang_at=5, timeout=1.0)
    reads: list[float] = []
    real = feed_reading.read_feed

    def slow_read(*args, **kwargs):  # noqa: ANN002, ANN003
        reads.append(time.monotonic())
        time.sleep(0.5)  # fetching five small feeds on loopback takes milliseconds
        return real(*args, **kwargs)

    monkeypatch.setattr(feed_reading, "read_feed", slow_read)
    report = run_once(load_config(path))
    assert (report.polled, report.failed, report.new_mentions) == (6, 1, 5)
    assert "timed out" in report.errors[0][1]
    assert len(reads) == 5 and arrived["/f5.xml"] < reads[1]


def test_a_stop_drops_the_spooled_bodies_and_the_next_cycle_reads_them(
    site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _feeds(site, tmp_path, count=5, hang_at=-1, timeout=2.0)
    stop = threading.Event()
    real = feed_reading.read_feed

    def read_then_stop(*args, **kwargs):  # noqa: ANN002, ANN003
        time.sleep(0.2)  # the other four are fetched (and spooled) meanwhile
        stop.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(feed_reading, "read_feed", read_then_stop)
    first = run_once(load_config(path), stop=stop)
    # The feed being read when the stop came is stored, its items left for the next cycle.
    assert first.interrupted and first.polled == 1
    with sqlite3.connect(tmp_path / "t.db") as conn:
        polled = conn.execute("SELECT count(*) FROM sources WHERE last_polled_at IS NOT NULL")
        assert polled.fetchone()[0] == 1  # the spooled four are as if never asked
    monkeypatch.setattr(feed_reading, "read_feed", real)
    second = run_once(load_config(path))
    assert (second.polled, second.new_mentions) == (5, 5)
