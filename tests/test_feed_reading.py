"""Feeds read in a helper process: the same stored result, and a crash costs one feed only.

The helper (feed_reading.py) parses feeds and judges their items on a second core.  Which
process read a feed must never show in the database; a parser that kills the helper (a C
library fault on a hostile feed) must fail that feed, not the daemon or the other feeds.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sample_feeds import AR, EN, FR, OWNED, rss
from test_full_text import ARTICLE

from ereputation import feed_reading
from ereputation.config import Brand, load_config
from ereputation.cycle import run_once
from ereputation.errors import ConfigError
from ereputation.feed_reading import CRASHED, IN_FLIGHT, FeedReaders, ReadFeed, read_in_helper
from ereputation.judge import Analyzer
from ereputation.store.record import SeenItems

TEASERS = rss(
    [
        ("t-1", "Atlas Télécom : tarifs", "{base}/articles/tarifs", "Lire la suite", 1),
        ("t-2", "Un teaser sans marque", "{base}/articles/autre", "Lire la suite", 2),
        ("t-3", "Page disparue", "{base}/articles/gone", "Atlas Telecom, suite…", 3),
    ]
)  # fmt: skip


def _serve(site) -> list[str]:
    site.add(
        "/articles/tarifs",
        ARTICLE.format(
            title="Atlas Télécom : les nouveaux tarifs",
            body="Atlas Télécom baisse ses prix de 20 %, une excellente nouvelle pour les clients.",
        ),
    )
    site.add("/articles/autre", ARTICLE.format(title="Autre", body="Rien sur les opérateurs."))
    site.add("/articles/gone", "gone", status=410)  # fmt: skip
    return [
        site.add("/fr.xml", FR),
        site.add("/en.xml", EN),
        site.add("/ar.xml", AR),
        site.add("/owned.xml", OWNED),
        site.add("/teasers.xml", TEASERS.replace("{base}", site.base)),
        site.add("/broken.xml", "<rss><channel><item><title>Atlas"),
    ]


def _config(folder: Path, urls: list[str], processes: int) -> Path:
    folder.mkdir()
    sources = "".join(f"  - {{name: S{i}, url: '{url}'}}\n" for i, url in enumerate(urls))
    path = folder / "feeds.yaml"
    path.write_text(
        "database: t.db\nbrands:\n"
        "  - {name: Atlas Télécom, aliases: [Atlas Telecom, اتصالات الأطلس],"
        " exclude: [Atlas Mountains], owned: [atlastelecom.example]}\n"
        "  - {name: Banque Zellige, aliases: [Zellige Bank]}\n"
        "  - {name: Orange, case_sensitive: true}\n"
        f"sources:\n{sources}fetch: {{host_delay: 0, parse_processes: {processes}}}\n",
        encoding="utf-8",
    )
    return path


def _stored(folder: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(folder / "t.db") as conn:
        return {
            "articles": conn.execute(
                "SELECT a.url, a.link, a.outlet, a.guid, a.title, a.summary, a.content,"
                " a.language, a.content_hash, s.fingerprint FROM articles a"
                " JOIN stories s ON s.id = a.story_id ORDER BY a.url"
            ).fetchall(),
            "mentions": conn.execute(
                "SELECT a.url, m.brand, m.matched, m.snippet, m.sentiment, m.label, m.owned"
                " FROM mentions m JOIN articles a ON a.id = m.article_id ORDER BY a.url, m.brand"
            ).fetchall(),
            "sources": conn.execute(
                "SELECT url, failures, last_error, items_seen, body_hash FROM sources ORDER BY url"
            ).fetchall(),
            "seen": conn.execute(
                "SELECT s.url, i.item_hash FROM seen_items i JOIN sources s ON s.id = i.source_id"
                " ORDER BY 1, 2"
            ).fetchall(),
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_a_helper_process_stores_exactly_what_the_daemon_alone_stores(tmp_path, site):
    urls = _serve(site)
    alone = run_once(load_config(_config(tmp_path / "alone", urls, 0)))
    before = _children_cpu()
    helped = run_once(load_config(_config(tmp_path / "helped", urls, 1)))
    assert _children_cpu() > before  # a helper process ran, and was ended with the cycle

    assert helped.summary() == alone.summary()
    assert (helped.new_mentions, helped.failed) == (6, 1)  # broken.xml
    ours, theirs = _stored(tmp_path / "alone"), _stored(tmp_path / "helped")
    assert theirs == ours
    urls_stored = {row[0] for row in ours["articles"]}
    assert any(url.endswith("/articles/tarifs") for url in urls_stored)  # its page was read
    assert sum(row[6] for row in ours["mentions"]) == 1  # the owned blog post


def _crashing(body: bytes, *args: object) -> object:
    """A helper task that dies like a parser fault would, on a body that says so."""
    if b"CRASH" in body:
        os._exit(139)
    return read_in_helper(body, *args)  # type: ignore[arg-type]


def _analyzer() -> Analyzer:
    return Analyzer([Brand(name="Atlas Télécom", aliases=("Atlas Telecom",))])


def test_a_helper_that_dies_fails_that_feed_and_a_new_helper_reads_the_next():
    readers = FeedReaders(_analyzer(), 1, task="test_feed_reading:_crashing")
    now = datetime.now(UTC)
    try:
        hostile = FR.replace("Orangeade", "CRASH").encode()
        crashed = readers.read(hostile, "http://x/a", now, "never")
        assert (crashed.problem, crashed.keys, crashed.records) == (CRASHED, (), {})
        fine = readers.read(FR.encode(), "http://x/b", now, "never")
        assert fine.problem is None and len(fine.keys) == 4
        assert list(fine.records) == [0]  # the first item names the brand
    finally:
        readers.close()


def _crashing_slowly(body: bytes, *args: object) -> object:
    """Dies like ``_crashing``, but only after a while: time for another feed to queue."""
    if b"CRASH" in body:
        time.sleep(0.5)
        os._exit(139)
    return read_in_helper(body, *args)  # type: ignore[arg-type]


def test_a_feed_queued_behind_one_that_kills_the_helper_is_read_all_the_same():
    """Two feeds are in a helper at once (IN_FLIGHT): the death is the first one's fault, and
    the one waiting behind it is read again elsewhere, not reported as crashed."""
    assert IN_FLIGHT >= 2
    readers = FeedReaders(_analyzer(), 1, task="test_feed_reading:_crashing_slowly")
    now = datetime.now(UTC)
    results: dict[str, object] = {}
    hostile = FR.replace("Orangeade", "CRASH").encode()
    try:
        readers.read(FR.encode(), "http://x/warm", now, "never")  # the helper is up
        crashing = threading.Thread(
            target=lambda: results.update(a=readers.read(hostile, "http://x/a", now, "never"))
        )
        crashing.start()
        time.sleep(0.2)  # the hostile feed is in the helper, which sleeps before dying
        fine = readers.read(FR.encode(), "http://x/b", now, "never")
        crashing.join()
        assert fine.problem is None and len(fine.keys) == 4
        assert results["a"].problem == CRASHED  # type: ignore[attr-defined]
        assert readers.processes == 1  # helpers did read feeds: no fallback
    finally:
        readers.close()


def _hanging(body: bytes, *args: object) -> object:
    """Never finishes a body that says so, like a parser looping on a hostile feed."""
    if b"HANG" in body:
        time.sleep(3600)
    return read_in_helper(body, *args)  # type: ignore[arg-type]


def test_a_feed_the_helper_is_stuck_on_fails_alone_and_the_others_are_read(monkeypatch):
    """A stuck helper is killed after READ_TIMEOUT: that feed fails (once, not retried, and
    not counted against helpers), the feed queued behind it is read by a new helper."""
    monkeypatch.setattr(feed_reading, "READ_TIMEOUT", 2.0)
    readers = FeedReaders(_analyzer(), 1, task="test_feed_reading:_hanging")
    now = datetime.now(UTC)
    results: dict[str, ReadFeed] = {}
    hostile = FR.replace("Orangeade", "HANG").encode()
    try:
        readers.read(FR.encode(), "http://x/warm", now, "never")
        stuck = threading.Thread(
            target=lambda: results.update(a=readers.read(hostile, "http://x/a", now, "never"))
        )
        queued = threading.Thread(
            target=lambda: results.update(b=readers.read(FR.encode(), "http://x/b", now, "never"))
        )
        started = time.monotonic()
        stuck.start()
        time.sleep(0.5)  # the hostile feed is in the helper
        queued.start()
        for thread in (stuck, queued):
            thread.join(timeout=20)
            assert not thread.is_alive(), "a read is still waiting for the stuck helper"
        assert time.monotonic() - started < 15
        assert "still reading this feed after 2 s" in (results["a"].problem or "")
        fine = results["b"]
        assert fine.problem is None and list(fine.records) == [0]
        assert readers.processes == 1  # not taken for helpers that cannot run here
        again = readers.read(FR.encode(), "http://x/c", now, "never")
        assert again.problem is None and len(again.keys) == 4
    finally:
        readers.close()


def _dying(*args: object) -> object:
    """A helper that cannot work here at all (as in a sandbox that forbids what it needs)."""
    os._exit(1)


def test_a_helper_that_never_reads_a_feed_gives_way_to_reading_in_the_daemon():
    readers = FeedReaders(_analyzer(), 1, task="test_feed_reading:_dying")
    now = datetime.now(UTC)
    try:
        assert readers.read(FR.encode(), "http://x/a", now, "never").problem == CRASHED
        read = readers.read(FR.encode(), "http://x/a", now, "never")  # the third death
        assert readers.processes == 0
        assert read.problem is None and 0 in read.records
    finally:
        readers.close()


def test_the_helper_outlives_a_sigterm_sent_to_the_whole_unit():
    """systemd stops a unit by signalling every process in it: the daemon ends its helper
    itself, after the feeds in flight are read."""
    readers = FeedReaders(_analyzer(), 1)
    now = datetime.now(UTC)
    try:
        readers.read(FR.encode(), "http://x/a", now, "never")
        helper = readers._helpers[0].process
        os.kill(helper.pid, signal.SIGTERM)
        again = readers.read(FR.encode(), "http://x/a", now, "never")
        assert again.problem is None
        assert [h.process for h in readers._helpers] == [helper] and helper.poll() is None
    finally:
        readers.close()


@pytest.mark.parametrize("value", ["-1", "17", "two"])
def test_parse_processes_out_of_range_is_a_config_error(tmp_path, value):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"database: t.db\nbrands: [{{name: X}}]\nsources: []\nfetch:\n  parse_processes: {value}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "fetch.parse_processes" in str(error.value)
    assert "line 5" in str(error.value)


TWO_MENTIONS = rss(
    [
        ("n-1", "Atlas Télécom ouvre une boutique", "https://presse.example/boutique",
         "Atlas Télécom inaugure sa nouvelle boutique à Rabat.", 1),
        ("n-2", "Le marché du jour", "https://presse.example/marche", "Rien à signaler.", 2),
        ("n-3", "Panne chez Atlas Télécom", "https://presse.example/panne",
         "Le réseau d'Atlas Télécom est coupé depuis ce matin.", 3),
    ]
)  # fmt: skip


def _seen_database(path: Path, keys: list[str]) -> int:
    """A database whose one source has already given the items of ``keys``; its id."""
    from ereputation.store import open_database

    db = open_database(path)
    with db.conn:
        source = db.conn.execute(
            "INSERT INTO sources (url, name, kind) VALUES ('http://x/a', 'S', 'feed')"
        ).lastrowid
        db.conn.executemany(
            "INSERT INTO seen_items (source_id, item_hash, seen_at) VALUES (?, ?, '2026-11-27')",
            [(source, key) for key in keys],
        )
    db.conn.close()
    assert source is not None
    return source


@pytest.mark.parametrize("processes", [0, 1])
def test_items_a_source_already_gave_are_keys_alone_not_judged_again(tmp_path, processes):
    """A changed feed is mostly items read on earlier polls: the reader asks the database
    which they are and judges only the others (the daemon keeps only those anyway)."""
    from ereputation.extract import parse_feed
    from ereputation.feed_reading import item_key

    now = datetime.now(UTC)
    keys = [item_key(item) for item in parse_feed(TWO_MENTIONS.encode(), "http://x/a").items]
    source = _seen_database(tmp_path / "t.db", keys[:2])  # the first mention was read before
    seen = SeenItems(str(tmp_path / "t.db"))
    readers = FeedReaders(_analyzer(), processes, seen=seen)
    try:
        known = readers.read(TWO_MENTIONS.encode(), "http://x/a", now, "never", source)
        assert known.keys == tuple(keys)  # every item still has its key
        assert set(known.records) == {2}  # only the new item was judged
        assert known.records[2].title == "Panne chez Atlas Télécom"
        first = readers.read(TWO_MENTIONS.encode(), "http://x/a", now, "never")
        assert set(first.records) == {0, 2}  # a source never read: every item judged
    finally:
        readers.close()
        seen.close()


@pytest.mark.parametrize("processes", [0, 1])
def test_a_database_that_cannot_say_what_was_seen_leaves_every_item_judged(
    tmp_path, processes, caplog
):
    seen = SeenItems(str(tmp_path / "missing.db"))
    readers = FeedReaders(_analyzer(), processes, seen=seen)
    try:
        read = readers.read(TWO_MENTIONS.encode(), "http://x/a", datetime.now(UTC), "never", 1)
        assert read.problem is None and set(read.records) == {0, 2}
    finally:
        readers.close()
        seen.close()
    if processes == 0:
        assert "seen items of source 1 not read" in caplog.text
