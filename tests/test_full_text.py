"""Feed items that are only teasers: the article page is read, and its failures cost nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sample_feeds import rss

from ereputation.config import load_config
from ereputation.cycle import run_once

ARTICLE = """<html><head><title>{title}</title></head><body><nav>Accueil Économie Sport</nav>
<article><h1>{title}</h1><p>Casablanca — Les opérateurs annoncent de nouveaux tarifs pour
l'hiver, et les associations de consommateurs réagissent avec prudence à ces annonces.</p>
<p>{body}</p><p>Les détails seront publiés la semaine prochaine selon les communiqués.</p>
</article><footer>Mentions légales</footer></body></html>"""


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"database: t.db\nbrands: [{{name: Atlas Télécom, aliases: [Atlas Telecom]}}]\n"
        f"sources: [{{name: Teasers, url: '{url}'}}]\nfetch: {{host_delay: 0}}\n",
        encoding="utf-8",
    )
    return path


def stored(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "t.db") as conn:
        return {row[0] for row in conn.execute("SELECT a.url FROM mentions m JOIN articles a "
                                               "ON a.id = m.article_id")}  # fmt: skip


def test_brand_named_only_in_the_body_is_found_and_a_page_down_is_tried_again(tmp_path, site):
    body_only = site.url("/a/tarifs-hiver")
    in_title = site.url("/a/atlas-reseau")
    site.add(
        "/teasers.xml",
        rss(
            [
                ("t1", "Les tarifs de l'hiver", body_only, "Les opérateurs bougent.", 1),
                ("t2", "Atlas Télécom étend son réseau", in_title, "Court résumé.", 2),
            ]
        ),
    )
    site.add("/robots.txt", "User-agent: *\nDisallow: /prive/\n")
    # Both pages are down at first.
    site.add("/a/tarifs-hiver", "busy", status=503)
    site.add("/a/atlas-reseau", "busy", status=503)
    path = config(tmp_path, site.url("/teasers.xml"))

    run_once(load_config(path))
    # The title already names the brand: kept at once. The other one waits for its page.
    assert stored(tmp_path) == {in_title}

    site.add("/a/tarifs-hiver", ARTICLE.format(
        title="Les tarifs de l'hiver", body="Atlas Telecom baisse ses prix de 10 %."))  # fmt: skip
    run_once(load_config(path))
    assert stored(tmp_path) == {in_title, body_only}
    assert len(site.hits("/a/tarifs-hiver")) == 2
    assert len(site.hits("/a/atlas-reseau")) == 1  # stored: its page is not asked again

    run_once(load_config(path))
    assert len(site.hits("/a/tarifs-hiver")) == 2  # seen now: never fetched again


def test_a_page_that_is_gone_leaves_the_feed_text(tmp_path, site):
    gone = site.url("/a/disparu")
    site.add(
        "/teasers.xml",
        rss([("t1", "Atlas Télécom : annonce", gone, "Court résumé.", 1)]),
    )
    site.add("/robots.txt", "")
    site.add("/a/disparu", "gone", status=404)
    path = config(tmp_path, site.url("/teasers.xml"))
    run_once(load_config(path))
    run_once(load_config(path))
    assert stored(tmp_path) == {gone}
    assert len(site.hits("/a/disparu")) == 1


def test_feeds_waiting_for_article_pages_do_not_hold_up_the_others(tmp_path, site, monkeypatch):
    """A feed waiting for an article page leaves its judging slot to another feed: with one
    slot and three feeds whose pages are read, the cycle ends with every mention."""
    import threading

    from ereputation import pipeline

    monkeypatch.setattr(pipeline, "JUDGING", 1)
    sources = []
    for n in (1, 2, 3):
        page = site.url(f"/a/{n}")
        site.add(f"/f{n}.xml", rss([(f"t{n}", f"Brève {n}", page, "Court.", 1)]))
        site.add(f"/a/{n}", ARTICLE.format(title=f"Brève {n}", body="Atlas Télécom investit."))
        sources.append(f"{{name: F{n}, url: '{site.url(f'/f{n}.xml')}'}}")
    site.add("/robots.txt", "")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "database: t.db\nbrands: [{name: Atlas Télécom}]\n"
        f"sources: [{', '.join(sources)}]\nfetch: {{host_delay: 0, per_host: 4}}\n",
        encoding="utf-8",
    )
    done = threading.Thread(target=run_once, args=(load_config(path),), daemon=True)
    done.start()
    done.join(timeout=60)
    assert not done.is_alive()
    assert stored(tmp_path) == {site.url(f"/a/{n}") for n in (1, 2, 3)}
