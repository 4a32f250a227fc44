"""A feed sent again as it was: judged without parsing; and nothing left waiting is lost.

Many servers ignore conditional GET and send the same bytes every poll; a broken feed stays
broken. Both are recognised by the body's hash, with last time's verdict. A poll that leaves
items for later (their page is down, the article budget is spent) keeps no validators, so
the next poll reads the feed again instead of getting a 304 and never seeing them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sample_feeds import rss
from test_full_text import ARTICLE

from ereputation.config import load_config
from ereputation.cycle import run_once


def config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "database: t.db\nbrands: [{name: Atlas Télécom, aliases: [Atlas Telecom]}]\n"
        f"sources: [{{name: Flux, url: '{url}'{extra}}}]\nfetch: {{host_delay: 0}}\n",
        encoding="utf-8",
    )
    return path


def source_row(tmp_path: Path) -> tuple:
    with sqlite3.connect(tmp_path / "t.db") as conn:
        return conn.execute(
            "SELECT failures, last_error, items_seen, body_hash IS NOT NULL FROM sources"
        ).fetchone()


def stored(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "t.db") as conn:
        return {row[0] for row in conn.execute(
            "SELECT a.url FROM mentions m JOIN articles a ON a.id = m.article_id")}  # fmt: skip


FIRST = ("a1", "Atlas Télécom baisse ses prix", "https://presse.example/a1", "Bonne nouvelle.", 2)
SECOND = ("a2", "Atlas Telecom recrute 200 personnes", "https://presse.example/a2", "Emploi.", 1)


def test_a_feed_sent_again_without_validators_is_unchanged_until_it_changes(tmp_path, site):
    url = site.add("/flux.xml", rss([FIRST]))  # no ETag, no Last-Modified
    path = config(tmp_path, url)

    first = run_once(load_config(path))
    assert (first.not_modified, first.new_mentions) == (0, 1)
    assert source_row(tmp_path) == (0, None, 1, 1)

    again = run_once(load_config(path))
    assert (again.not_modified, again.failed, again.new_mentions) == (1, 0, 0)
    assert source_row(tmp_path) == (0, None, 1, 1)  # nothing read again

    site.add("/flux.xml", rss([SECOND, FIRST]))
    changed = run_once(load_config(path))
    assert (changed.not_modified, changed.new_mentions) == (0, 1)
    assert stored(tmp_path) == {"https://presse.example/a1", "https://presse.example/a2"}


def test_a_broken_feed_sent_again_fails_again_with_its_error_then_mends(tmp_path, site):
    url = site.add("/flux.xml", "<rss><channel><item><title>Atlas Tél")
    path = config(tmp_path, url)

    run_once(load_config(path))
    failures, error, _, hashed = source_row(tmp_path)
    assert (failures, hashed) == (1, 1)
    assert error.startswith("not a readable feed")

    again = run_once(load_config(path))
    assert (again.failed, again.not_modified) == (1, 0)
    assert source_row(tmp_path)[:2] == (2, error)

    site.add("/flux.xml", rss([FIRST]))
    mended = run_once(load_config(path))
    assert (mended.failed, mended.new_mentions) == (0, 1)
    assert source_row(tmp_path) == (0, None, 1, 1)


def test_a_broken_body_is_not_taken_for_a_good_one_after_a_timeout_like_failure(tmp_path, site):
    """A failure without a body forgets the hash: its error is not the body's verdict."""
    url = site.add("/flux.xml", rss([FIRST]))
    path = config(tmp_path, url)
    run_once(load_config(path))
    site.add("/flux.xml", "busy", status=503)
    run_once(load_config(path))
    assert source_row(tmp_path)[3] == 0
    site.add("/flux.xml", rss([SECOND, FIRST]))
    back = run_once(load_config(path))
    assert (back.failed, back.new_mentions) == (0, 1)


def test_items_waiting_for_their_page_are_read_next_poll_even_from_an_etag_server(tmp_path, site):
    teaser = ("t1", "Les tarifs de l'hiver", site.url("/a/tarifs"), "Les opérateurs bougent.", 1)
    url = site.add("/flux.xml", rss([teaser]), ETag='"v1"')
    site.add("/robots.txt", "")
    site.add("/a/tarifs", "busy", status=503)
    path = config(tmp_path, url)

    run_once(load_config(path))
    assert stored(tmp_path) == set()

    site.add("/a/tarifs", ARTICLE.format(
        title="Les tarifs de l'hiver", body="Atlas Telecom baisse ses prix de 10 %."))  # fmt: skip
    second = run_once(load_config(path))
    assert second.not_modified == 0
    assert site.hits("/flux.xml")[-1].headers.get("If-None-Match") is None
    assert stored(tmp_path) == {site.url("/a/tarifs")}

    third = run_once(load_config(path))  # all judged now: validators kept, 304
    assert third.not_modified == 1
    assert site.hits("/flux.xml")[-1].headers.get("If-None-Match") == '"v1"'


LISTING = '<html><body><ul class="l">' + "".join(
    f'<li><a class="t" href="/a/{n}">Brève numéro {n}</a></li>' for n in (1, 2)
) + "</ul></body></html>"  # fmt: skip


@pytest.mark.parametrize("kind", ["feed", "listing page"])
def test_articles_over_the_budget_come_next_poll_even_from_an_etag_server(tmp_path, site, kind):
    if kind == "feed":
        teasers = [(f"t{n}", f"Brève {n}", site.url(f"/a/{n}"), "Court.", n) for n in (1, 2)]
        url = site.add("/flux.xml", rss(teasers), ETag='"v1"')
        extra = ", full_text: always, max_articles: 1"
    else:
        url = site.add("/", LISTING, ETag='"l1"')
        extra = ', kind: page, selector: ".l a.t", max_articles: 1'
    site.add("/robots.txt", "")
    for n in (1, 2):
        site.add(f"/a/{n}", ARTICLE.format(title=f"Brève {n}", body="Atlas Télécom investit."))
    path = config(tmp_path, url, extra)

    run_once(load_config(path))
    assert len(stored(tmp_path)) == 1
    run_once(load_config(path))
    assert stored(tmp_path) == {site.url("/a/1"), site.url("/a/2")}
    last = run_once(load_config(path))  # nothing left: the validators are kept again
    assert last.not_modified == 1
