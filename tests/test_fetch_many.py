"""``Fetcher.fetch_many``: a poll's conditional GETs from one thread through one multi handle.

Every test of test_fetch.py also runs through it (its ``ManyFetcher``); these check what only
many requests at once can show: the limits on what is in flight, the order of starts, the
pause and the stop asked by the caller, and redirects taken on by ``follow``.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

import pycurl
from sample_feeds import rss
from test_fetch import _arrivals_handler, _tracking_handler

from ereputation.config import FetchSettings, load_config
from ereputation.cycle import run_once
from ereputation.fetch import Conditional, Fetcher, FetchResult, Redirected


def run(fetcher: Fetcher, requests: list[Conditional], **options) -> dict[object, FetchResult]:
    answers: dict[object, FetchResult] = {}
    for batch in fetcher.fetch_many(requests, **options):
        for request, result in batch:
            assert request.tag not in answers  # each request answered once
            answers[request.tag] = (
                fetcher.follow(result) if isinstance(result, Redirected) else result
            )
    return answers


def test_many_feeds_at_once_each_answered_with_its_own_result(site):
    urls = [site.add(f"/f{i}.xml", f"<rss>{i}</rss>", ETag=f'"v{i}"') for i in range(12)]
    requests = [Conditional(u, f'"v{i}"' if i % 2 else None, None, i) for i, u in enumerate(urls)]
    with Fetcher(FetchSettings(timeout=5, per_host=4, host_delay=0.0, concurrency=4)) as fetcher:
        answers = run(fetcher, requests)
    assert sorted(answers) == list(range(12))
    for i, result in answers.items():
        assert result.ok and result.url == urls[i]
        if i % 2:
            assert (result.status, result.not_modified, result.body) == (304, True, None)
            assert result.etag == f'"v{i}"'
        else:
            assert (result.status, result.body, result.etag) == (200, f"<rss>{i}</rss>".encode(),
                                                                 f'"v{i}"')  # fmt: skip


def test_per_host_and_concurrency_limit_what_is_in_flight(site):
    handle, state = _tracking_handler(hold=0.05)
    requests = [Conditional(site.add_handler(f"/slow{i}", handle), tag=i) for i in range(6)]
    with Fetcher(FetchSettings(timeout=5, per_host=2, host_delay=0.0)) as fetcher:
        answers = run(fetcher, requests)
        assert all(r.ok for r in answers.values()), [r.error for r in answers.values()]
    assert state["max"] == 2

    handle, state = _tracking_handler(hold=0.05)
    requests = [Conditional(site.add_handler(f"/other{i}", handle), tag=i) for i in range(6)]
    with Fetcher(FetchSettings(timeout=5, per_host=8, host_delay=0.0, concurrency=3)) as fetcher:
        answers = run(fetcher, requests)
        assert all(r.ok for r in answers.values()), [r.error for r in answers.values()]
    assert state["max"] == 3


def test_a_host_at_its_limit_does_not_hold_back_another(site):
    # per_host=1 and a slow first host: the other host's request is in the server meanwhile.
    handle, _ = _tracking_handler(hold=0.0, barrier=threading.Barrier(2))
    url = site.add_handler("/both", handle)
    other = url.replace("127.0.0.1", "localhost")
    second = site.add("/quick", "ok")  # waits for the first host's slot, then goes
    requests = [Conditional(url, tag="a"), Conditional(second, tag="b"),
                Conditional(other, tag="c")]  # fmt: skip
    with Fetcher(FetchSettings(timeout=5, per_host=1, host_delay=0.0)) as fetcher:
        answers = run(fetcher, requests)
    assert all(r.ok for r in answers.values()), [r.error for r in answers.values()]


def test_host_delay_spaces_starts_and_is_shared_with_fetch(site):
    handle, arrivals = _arrivals_handler()
    url = site.add_handler("/spaced", handle)
    with Fetcher(FetchSettings(timeout=5, per_host=4, host_delay=0.3)) as fetcher:
        assert fetcher.fetch(url).ok  # a thread's fetch: the next start is 0.3 s later
        more = [site.add_handler(f"/spaced{i}", handle) for i in range(2)]
        answers = run(fetcher, [Conditional(u, tag=i) for i, u in enumerate(more)])
    assert all(r.ok for r in answers.values())
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) > 0.2, gaps


def test_nothing_starts_while_the_caller_is_busy(site):
    url = site.add("/feed.xml", "<rss/>")
    allowed = threading.Event()
    seen_while_paused = []
    with Fetcher(FetchSettings(timeout=5, host_delay=0.0)) as fetcher:
        batches = fetcher.fetch_many([Conditional(url, tag=1)], tick=0.01, may_start=allowed.is_set)
        for _ in range(5):
            seen_while_paused.extend(next(batches))
        assert seen_while_paused == [] and site.hits("/feed.xml") == []
        allowed.set()
        answers = [answer for batch in batches for answer in batch]
    assert [(r.tag, a.status) for r, a in answers] == [(1, 200)]


def test_stop_starts_nothing_more_and_ends_with_what_is_in_flight(site):
    handle, _ = _tracking_handler(hold=0.2)
    stop = threading.Event()
    requests = (Conditional(site.add_handler(f"/slow{i}", handle), tag=i) for i in range(10))
    answered = []
    with Fetcher(FetchSettings(timeout=5, per_host=2, host_delay=0.0)) as fetcher:
        for batch in fetcher.fetch_many(requests, stop=stop.is_set):
            stop.set()  # after the first two have started
            answered += [(request.tag, result.ok) for request, result in batch]
    assert sorted(answered) == [(0, True), (1, True)]


class _NoSockets:
    """A multi handle that shows libcurl with no socket to wait on (what a libcurl without
    a socket-pair resolver shows while it looks a name up), counting the loop's turns."""

    def __init__(self, multi) -> None:
        self.multi, self.performs = multi, 0

    def fdset(self):
        return [], [], []

    def select(self, timeout: float) -> int:
        return 0  # pycurl's select with no socket: at once

    def perform(self):
        self.performs += 1
        return self.multi.perform()

    def __getattr__(self, name):
        return getattr(self.multi, name)


def test_no_socket_to_wait_on_does_not_spin(site):
    handle, _ = _tracking_handler(hold=0.3)
    url = site.add_handler("/slow", handle)
    with Fetcher(FetchSettings(timeout=5, per_host=2, host_delay=0.0)) as fetcher:
        fetcher._multi = multi = _NoSockets(pycurl.CurlMulti())
        answers = run(fetcher, [Conditional(url, tag=0)], tick=0.01)
    assert answers[0].ok
    # Without the wait, the loop turns as fast as it can: tens of thousands of times in 0.3 s.
    assert multi.performs < 200, multi.performs


def test_a_redirect_is_followed_without_asking_twice(site):
    site.add("/old.xml", status=301, Location="/new.xml")
    site.add("/new.xml", "<rss/>", ETag='"n"')
    with Fetcher(FetchSettings(timeout=5, host_delay=0.0)) as fetcher:
        answers = run(fetcher, [Conditional(site.url("/old.xml"), tag="feed")])
    result = answers["feed"]
    assert (result.status, result.final_url, result.etag) == (200, site.url("/new.xml"), '"n"')
    assert len(site.hits("/old.xml")) == 1 and len(site.hits("/new.xml")) == 1


def test_refused_and_failed_requests_come_back_as_errors(site):
    gone = site.add("/gone", status=404)
    requests = [Conditional("ftp://example.org/feed", tag="ftp"), Conditional(gone, tag="404"),
                Conditional("http://127.0.0.1:9/feed", tag="closed"),
                Conditional(site.url("/x"), etag='"bad\r\nX-Evil: 1"', tag="header")]  # fmt: skip
    with Fetcher(FetchSettings(timeout=2, host_delay=0.0)) as fetcher:
        answers = run(fetcher, requests)
    assert answers["ftp"].error == "unsupported URL scheme 'ftp': ftp://example.org/feed"
    assert (answers["404"].status, answers["404"].error) == (404, "HTTP 404 Not Found")
    assert answers["closed"].error.startswith("cannot connect: ")
    assert answers["header"].error.startswith("bad request: Illegal header value")
    assert site.hits("/x") == []


# -- in a cycle: the conditional polls of sources seen before -------------------------------


def test_a_cycle_asks_known_feeds_at_once_and_reads_only_the_changed(tmp_path, site):
    """Second cycle over four feeds with ETags: one changed (read by a worker), one
    unchanged (304), one moved (followed, asked once), one down (its Retry-After kept)."""
    item = ("a{}", "Atlas Télécom {}", "https://presse.example/{}", "Texte.", 1)

    def feed(n: int, *names: str) -> str:
        return rss([tuple(f.format(name) if isinstance(f, str) else f for f in item)
                    for name in names])  # fmt: skip

    urls = [site.add(f"/f{n}.xml", feed(n, f"x{n}"), ETag=f'"{n}"') for n in range(4)]
    path = tmp_path / "feeds.yaml"
    sources = ", ".join(f"{{name: F{n}, url: '{u}'}}" for n, u in enumerate(urls))
    path.write_text(
        "database: t.db\nbrands: [{name: Atlas Télécom}]\n"
        f"sources: [{sources}]\nfetch: {{host_delay: 0}}\n",
        encoding="utf-8",
    )
    first = run_once(load_config(path))
    assert (first.polled, first.new_mentions) == (4, 4)

    site.add("/f0.xml", feed(0, "x0", "new0"), ETag='"0b"')  # changed
    site.add("/f2.xml", status=301, Location="/moved.xml")  # moved
    site.add("/moved.xml", feed(2, "x2", "new2"), ETag='"2b"')
    site.add("/f3.xml", "busy", status=503, Retry_After="120")  # down
    asked_before = len(site.hits("/f2.xml"))
    second = run_once(load_config(path))
    assert (second.polled, second.not_modified, second.failed) == (4, 1, 1)
    assert second.new_mentions == 2  # new0 and new2
    assert site.hits("/f1.xml")[-1].headers["If-None-Match"] == '"1"'
    assert len(site.hits("/f2.xml")) == asked_before + 1 and len(site.hits("/moved.xml")) == 1
    with sqlite3.connect(tmp_path / "t.db") as conn:
        rows = dict(conn.execute("SELECT url, etag FROM sources").fetchall())
        error, next_poll, polled = conn.execute(
            "SELECT last_error, next_poll_at, last_polled_at FROM sources WHERE url = ?",
            [urls[3]],
        ).fetchone()
    assert rows[urls[0]] == '"0b"' and rows[urls[1]] == '"1"' and rows[urls[2]] == '"2b"'
    assert error == "HTTP 503 Service Unavailable"
    wait = datetime.fromisoformat(next_poll) - datetime.fromisoformat(polled)
    assert wait.total_seconds() >= 120

    third = run_once(load_config(path))  # the moved feed too: asked with its new ETag
    assert (third.not_modified, third.failed, third.new_mentions) == (3, 1, 0)
