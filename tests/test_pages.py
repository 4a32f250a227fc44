"""News sites without feeds, end to end: the daemon against four loopback "outlets".

Each outlet is a real HTTP server on its own loopback address (127.0.0.2 … 127.0.0.5), so
each is its own host for politeness, robots.txt and ``outlet_of``.  Their pages are
hand-written in tests/data/sites/ (menus, footers, "most read" sidebars and comment sections
that name the brands, related links, pagination, tag pages, tracking parameters, an AMP copy,
a feed advertised in a page, French and Arabic, one agency dispatch rewritten by three
outlets).  ``ereputation run --once`` polls them twice; the tests then read the SQLite file
and the servers' request logs.

Decision recorded here and in docs/pages.md: **a reader's comment is not the article**.
A brand named only in the comments (or in a sidebar, menu or footer) is not a mention of the
article: the article text is what the outlet published.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from conftest import SHARED

from ereputation.config import load_config
from ereputation.cycle import run_once
from ereputation.discover import COMMON_FEED_PATHS

SITES = Path(__file__).parent / "data" / "sites"
NOW = datetime.now(UTC).replace(microsecond=0)
_TOKEN = re.compile(r"@(T|RFC)-(\d+)h@|@([A-Z])@")


def at(hours: int) -> datetime:
    """The instant ``hours`` before the tests started, as the pages declare it."""
    return NOW - timedelta(hours=hours)


# --------------------------------------------------------------------------- the outlets


@dataclass
class Page:
    file: str | None = None  # under tests/data/sites/, tokens replaced
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Outlet:
    """One site on its own loopback address.

    Routes by path; the query string is ignored (as CMSs ignore ``utm_*``) unless a route
    names the full path with its query.  Every request's raw target is logged.
    """

    def __init__(self, host: str, folder: str, bases: dict[str, str]) -> None:
        self.folder = SITES / folder
        self.bases = bases
        self.routes: dict[str, Page] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, path: str, file: str | None = None, status: int = 200, **headers: str) -> None:
        """Answer ``path`` (raw Unicode or percent-encoded) with ``file``."""
        self.routes[quote(path, safe="/%?&=-._~!$'()*+,;:@")] = Page(file, status, headers)

    def paths(self) -> list[str]:
        """Requested paths without their query, percent-decoded."""
        from urllib.parse import unquote

        with self.lock:
            return [_route_path(unquote(urlsplit(target).path)) for target in self.requests]

    def render(self, file: str) -> bytes:
        text = (self.folder / file).read_text(encoding="utf-8")

        def replace(match: re.Match[str]) -> str:
            kind, hours, letter = match.groups()
            if letter:
                return self.bases[letter]
            moment = at(int(hours))
            return moment.isoformat() if kind == "T" else format_datetime(moment)

        return _TOKEN.sub(replace, text).encode("utf-8")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outlet = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with outlet.lock:
                    outlet.requests.append(self.path)
                page = outlet.routes.get(self.path) or outlet.routes.get(
                    _route_path(self.path.split("?")[0])
                )
                if page is None:
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                body = outlet.render(page.file) if page.file else b""
                kind = {".xml": "application/rss+xml", ".txt": "text/plain"}.get(
                    Path(page.file or "x.html").suffix, "text/html; charset=utf-8"
                )
                self._send(page.status, body, {"Content-Type": kind, **page.headers})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _route_path(path: str) -> str:
    """``/a/b/`` is ``/a/b``, as on every CMS (they redirect one to the other)."""
    return path.rstrip("/") or "/"


ATLAS_QUERY = '"Atlas Télécom" OR "Atlas Telecom" OR "اتصالات الأطلس"'
ZELLIGE_QUERY = '"Banque Zellige" OR "Zellige Bank"'

# Paths (decoded) of the articles, by outlet.
A_FIBRE = "/economie/un-operateur-mise-deux-milliards-sur-la-fibre-4521"
A_FIBRE_AMP = "/amp/4521"
A_ZELLIGE = "/economie/banque-zellige-benefice-semestriel-en-hausse-4523"
A_RENTREE = "/societe/la-rentree-scolaire-se-prepare-dans-les-ecoles-4522"
A_ABONNES = "/abonnes/atlas-telecom-les-coulisses-du-plan-fibre-4524"
B_ZELLIGE = "/economie/resultats-la-banque-voit-son-benefice-grimper"
B_INTERNET = "/telecoms/le-prix-de-l-internet-fixe-augmente"
B_IMMOBILIER = "/economie/immobilier-le-marche-reprend-des-couleurs"
B_METEO = "/societe/meteo-fortes-chaleurs-attendues-dans-l-oriental"
B_PANNE_AR = "/ar/عطل-في-شبكة-الإنترنت"
C_PANNE_AR = "/ar/news/انقطاع-واسع-لخدمة-الإنترنت-في-جهة-الشمال"
C_ZELLIGE = "/fr/economie/zellige-plus-12-pour-le-benefice-au-premier-semestre"
C_RAJA = "/ar/news/الرجاء-يفوز-في-الديربي-ويعتلي-الصدارة"


@dataclass
class World:
    outlets: dict[str, Outlet]
    bases: dict[str, str]

    def __getitem__(self, letter: str) -> Outlet:
        return self.outlets[letter]

    def url(self, letter: str, path: str) -> str:
        """The canonical key the database stores for ``path`` on outlet ``letter``."""
        return self.bases[letter] + quote(path, safe="/%-._~!$&'()*+,;=:@")


def start_world() -> World:
    bases: dict[str, str] = {}
    outlets = {
        "A": Outlet("127.0.0.2", "quotidien", bases),
        "B": Outlet("127.0.0.3", "depeche", bases),
        "C": Outlet("127.0.0.4", "akhbar", bases),
        "D": Outlet("127.0.0.5", "agregateur", bases),
    }
    bases.update({letter: outlet.base for letter, outlet in outlets.items()})
    a, b, c, d = (outlets[k] for k in "ABCD")
    a.serve("/robots.txt", "robots.txt")
    a.serve("/", "index.html")
    a.serve(A_FIBRE, "fibre.html")
    a.serve(A_FIBRE_AMP, "fibre-amp.html")
    a.serve(A_ZELLIGE, "zellige.html")
    a.serve(A_RENTREE, "rentree.html")
    a.serve(A_ABONNES, "abonnes.html")
    b.serve("/robots.txt", "robots.txt")
    b.serve("/", "index.html")
    b.serve("/feeds/all.xml", "feed.xml")
    b.serve(B_ZELLIGE, "resultats.html")
    b.serve(B_INTERNET, "internet.html")
    b.serve(B_IMMOBILIER, "immobilier.html")
    b.serve(B_METEO, "meteo.html")
    b.serve(B_PANNE_AR, "ar-panne.html")
    c.serve("/", "index.html")
    c.serve(C_PANNE_AR, "ar-panne.html")
    c.serve(C_ZELLIGE, "zellige.html")
    c.serve(C_RAJA, "raja.html")
    d.serve(f"/rss/search?q={quote(ATLAS_QUERY, safe='')}&hl=fr", "atlas.xml")
    d.serve(f"/rss/search?q={quote(ZELLIGE_QUERY, safe='')}&hl=fr", "zellige.xml")
    return World(outlets, bases)


BRANDS = """
brands:
  - name: Atlas Télécom
    aliases: [Atlas Telecom, اتصالات الأطلس]
    exclude: [Atlas Mountains]
  - name: Banque Zellige
    aliases: [Zellige Bank]
"""


def write_config(folder: Path, sources: str, extra: str = "") -> Path:
    path = folder / "feeds.yaml"
    path.write_text(
        f"database: pages.db\ntimezone: Africa/Casablanca\n{BRANDS}sources:\n{sources}"
        f"fetch:\n  host_delay: 0\n{extra}",
        encoding="utf-8",
    )
    return path


def ereputation(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    return subprocess.run(
        [sys.executable, "-m", "ereputation.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def rows(database: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql, params).fetchall()


# --------------------------------------------------------------------------- the main run


@dataclass
class Run:
    world: World
    database: Path
    first: dict[str, list[str]]  # outlet -> paths requested by the first poll
    second: dict[str, list[str]]  # ... by the second poll
    outputs: list[subprocess.CompletedProcess[str]]
    config: Path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Two ``ereputation run --once`` over the four outlets, as a user runs them."""
    world = start_world()
    folder = tmp_path_factory.mktemp("pages")
    config = write_config(
        folder,
        f"""  - {{name: Le Quotidien, url: "{world.bases["A"]}/", kind: page}}
  - {{name: Maroc Dépêche, url: "{world.bases["B"]}/", kind: page}}
  - {{name: Al Akhbar, url: "{world.bases["C"]}/", kind: page, selector: ".akhbar-list a.titre"}}
  - {{name: Agrégateur, url: "{world.bases["D"]}/rss/search?q={{query}}&hl=fr", kind: search}}
""",
    )
    outputs = [ereputation("run", "--once", "-c", str(config), cwd=folder)]
    first = {letter: outlet.paths() for letter, outlet in world.outlets.items()}
    outputs.append(ereputation("run", "--once", "-c", str(config), cwd=folder))
    second = {
        letter: outlet.paths()[len(first[letter]) :] for letter, outlet in world.outlets.items()
    }
    try:
        yield Run(world, folder / "pages.db", first, second, outputs, config)
    finally:
        for outlet in world.outlets.values():
            outlet.close()


def expected_mentions(world: World) -> set[tuple[str, str]]:
    """Every true mention in the four outlets: (canonical article URL, brand)."""
    return {
        (world.url("A", A_FIBRE), "Atlas Télécom"),  # named in the third paragraph only
        (world.url("A", A_ZELLIGE), "Banque Zellige"),  # the dispatch, first published
        (world.url("B", B_ZELLIGE), "Banque Zellige"),  # its rewrite; feed title-only
        (world.url("B", B_INTERNET), "Atlas Télécom"),  # "Atlas Telecom" in the body
        (world.url("B", B_IMMOBILIER), "Banque Zellige"),
        (world.url("B", B_PANNE_AR), "Atlas Télécom"),  # Arabic rewrite of C's story
        (world.url("C", C_PANNE_AR), "Atlas Télécom"),
        (world.url("C", C_ZELLIGE), "Banque Zellige"),  # the dispatch's third version
    }


def test_both_runs_succeed(run: Run) -> None:
    for result in run.outputs:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr


def test_every_true_mention_is_found_exactly_once(run: Run) -> None:
    found = rows(
        run.database,
        "SELECT a.url, m.brand FROM mentions m JOIN articles a ON a.id = m.article_id",
    )
    assert sorted(found) == sorted(expected_mentions(run.world))


def test_articles_are_unique_and_keyed_by_canonical_url(run: Run) -> None:
    urls = [u for (u,) in rows(run.database, "SELECT url FROM articles")]
    assert len(urls) == len(set(urls)) == len(expected_mentions(run.world))
    assert not [u for u in urls if re.search(r"utm_|fbclid|/amp/|\?", u)]


def test_outlet_is_the_publisher_even_when_found_through_the_search_feed(run: Run) -> None:
    outlets = dict(rows(run.database, "SELECT url, outlet FROM articles"))
    for url, _brand in expected_mentions(run.world):
        letter = next(k for k, base in run.world.bases.items() if url.startswith(base + "/"))
        assert outlets[url] == urlsplit(run.world.bases[letter]).netloc


def test_a_comment_a_sidebar_or_a_menu_is_not_the_article(run: Run) -> None:
    # rentree.html: the brand only in readers' comments and the "most read" sidebar;
    # zellige.html: "Atlas Télécom" in the sidebar; the menus name it on every page.
    assert not rows(
        run.database,
        "SELECT a.url, m.brand FROM mentions m JOIN articles a ON a.id = m.article_id "
        "WHERE a.url = ? OR (a.url = ? AND m.brand = 'Atlas Télécom')",
        run.world.url("A", A_RENTREE),
        run.world.url("A", A_ZELLIGE),
    )


def test_the_dispatch_and_its_rewrites_are_one_story_first_published_first(run: Run) -> None:
    world = run.world
    dispatch = [world.url("A", A_ZELLIGE), world.url("B", B_ZELLIGE), world.url("C", C_ZELLIGE)]
    stories = rows(
        run.database,
        f"SELECT DISTINCT story_id FROM articles WHERE url IN ({','.join('?' * 3)})",
        *dispatch,
    )
    assert len(stories) == 1
    (first,) = rows(
        run.database,
        "SELECT a.url FROM stories s JOIN articles a ON a.id = s.first_article_id WHERE s.id = ?",
        stories[0][0],
    )
    assert first == (world.url("A", A_ZELLIGE),)  # published 6 h ago; the others 4 h and 2 h


def test_the_digest_shows_the_dispatch_once_with_its_three_outlets(run: Run) -> None:
    printed = ereputation("digest", "-c", str(run.config), cwd=run.config.parent)
    assert printed.returncode == 0, printed.stderr
    zellige = printed.stdout.split("\nBanque Zellige\n", 1)[1]
    stories = zellige.split("Histoires reprises", 1)[1].split("Nouveaux médias", 1)[0]
    outlets = [urlsplit(run.world.bases[k]).netloc for k in "ABC"]
    assert stories.count("\n  * ") == 1  # one story, not three hits
    assert f"3 médias: {', '.join(outlets)}" in stories
    assert f"publiée d'abord par {outlets[0]}" in stories


def test_the_arabic_rewrite_joins_the_arabic_story(run: Run) -> None:
    world = run.world
    pair = [world.url("C", C_PANNE_AR), world.url("B", B_PANNE_AR)]
    stories = rows(
        run.database, "SELECT DISTINCT story_id FROM articles WHERE url IN (?, ?)", *pair
    )
    assert len(stories) == 1
    (first,) = rows(
        run.database,
        "SELECT a.url FROM stories s JOIN articles a ON a.id = s.first_article_id WHERE s.id = ?",
        stories[0][0],
    )
    assert first == (world.url("C", C_PANNE_AR),)  # 3 h ago; B's rewrite 1 h ago


def test_unrelated_articles_are_stories_of_their_own(run: Run) -> None:
    # 8 articles: the dispatch (3), the Arabic outage (2), fibre, internet prices, housing.
    assert rows(run.database, "SELECT count(DISTINCT story_id) FROM articles") == [(5,)]
    assert rows(run.database, "SELECT count(*) FROM stories") == [(5,)]


def test_published_dates_come_from_the_feed_or_the_page_never_the_clock(run: Run) -> None:
    world = run.world
    published = dict(rows(run.database, "SELECT url, published_at FROM articles"))
    expected = {
        world.url("A", A_FIBRE): at(20),  # JSON-LD datePublished
        world.url("A", A_ZELLIGE): at(6),  # <meta property=article:published_time>
        world.url("B", B_ZELLIGE): at(4),  # the feed's pubDate
        world.url("B", B_INTERNET): at(9),  # not in the feed: the page's meta
        world.url("B", B_PANNE_AR): at(1),  # the feed's pubDate; the page has none
        world.url("C", C_PANNE_AR): at(3),  # JSON-LD
        world.url("C", C_ZELLIGE): at(2),  # JSON-LD in a list with a BreadcrumbList
    }
    for url, moment in expected.items():
        assert published[url] == moment.isoformat(), url
    # Neither the feed nor the page says when: unknown, not the time we fetched it.
    assert published[world.url("B", B_IMMOBILIER)] is None


def test_robots_txt_is_obeyed_for_pages(run: Run) -> None:
    a = run.world["A"]
    assert "/robots.txt" in run.first["A"]
    assert not [p for p in a.paths() if p.startswith("/abonnes/")]


def test_a_feed_the_site_publishes_is_read_even_under_a_robots_disallow(run: Run) -> None:
    # Maroc Dépêche's robots.txt disallows /feeds/, where its advertised feed lives:
    # robots.txt is about crawling pages, not feeds a site offers for reading.
    assert "/feeds/all.xml" in run.first["B"]
    assert "/feeds/comments.xml" not in run.world["B"].paths()
    (feed_url,) = rows(
        run.database, "SELECT feed_url FROM sources WHERE url = ?", run.world.bases["B"] + "/"
    )
    assert feed_url == (run.world.bases["B"] + "/feeds/all.xml",)


def test_only_article_links_are_followed(run: Run) -> None:
    # Menus, tags, categories, authors, pagination, legal pages, links elsewhere: never asked.
    # (The common feed paths are looked at once, on the first poll, as the site advertises none.)
    probes = {_route_path(p.split("?")[0]) for p in COMMON_FEED_PATHS}
    assert "/feed" in run.first["A"]
    a_pages = set(run.world["A"].paths()) - {"/", "/robots.txt"} - probes
    assert a_pages <= {A_FIBRE, A_FIBRE_AMP, A_ZELLIGE, A_RENTREE}
    # The selector picks C's article list; its top bar and sidebar links are left alone.
    c_pages = set(run.world["C"].paths()) - {"/", "/robots.txt"}
    assert c_pages == {C_PANNE_AR, C_ZELLIGE, C_RAJA}
    # B's listing links are never followed: its feed is read instead.
    assert not [p for p in run.world["B"].paths() if p.startswith("/2024/")]


def test_links_are_fetched_as_the_site_wrote_them(run: Run) -> None:
    # The AMP copy is asked for at its own address, not at the canonical key ("/4521").
    a = run.world["A"]
    assert A_FIBRE_AMP in run.first["A"]
    probes = {_route_path(p.split("?")[0]) for p in COMMON_FEED_PATHS}  # looked at once
    assert not [t for t in a.requests if _route_path(t.split("?")[0]) not in set(a.routes) | probes]


def test_search_source_asks_once_per_brand_with_the_encoded_query(run: Run) -> None:
    d = run.world["D"]
    first_poll = d.requests[: len(run.first["D"])]
    assert sorted(first_poll) == sorted(
        [
            f"/rss/search?q={quote(ATLAS_QUERY, safe='')}&hl=fr",
            f"/rss/search?q={quote(ZELLIGE_QUERY, safe='')}&hl=fr",
        ]
    )


def test_second_poll_fetches_no_article_page_again(run: Run) -> None:
    second = run.second
    assert second["A"] and set(second["A"]) <= {"/", "/robots.txt"}
    assert second["C"] and set(second["C"]) <= {"/", "/robots.txt"}
    # Maroc Dépêche is now read through its feed directly: the home page is not asked again.
    assert second["B"] and set(second["B"]) <= {"/feeds/all.xml", "/robots.txt"}
    assert len(second["D"]) == 2 and all(p == "/rss/search" for p in second["D"])
    (count,) = rows(run.database, "SELECT count(*) FROM mentions")
    assert count == (len(expected_mentions(run.world)),)


def test_each_article_page_is_asked_once_per_source_in_the_first_poll(run: Run) -> None:
    for letter in "ABC":
        probes = {_route_path(p.split("?")[0]) for p in COMMON_FEED_PATHS}
        skip = {"/", "/robots.txt", "/feeds/all.xml"} | probes
        paths = [p for p in run.first[letter] if p not in skip]
        # A's fibre article is also linked by the search feed (source D): at most twice.
        limit = {A_FIBRE: 2, B_ZELLIGE: 2}
        for path in set(paths):
            assert paths.count(path) <= limit.get(path, 1), (letter, path)


# --------------------------------------------------------------------------- one behaviour each


@pytest.fixture
def world() -> Iterator[World]:
    started = start_world()
    yield started
    for outlet in started.outlets.values():
        outlet.close()


def polls(outlet: Outlet, config_path: Path, count: int) -> list[list[str]]:
    """Run ``count`` cycles in-process; the article pages each one asked ``outlet`` for."""
    config = load_config(config_path)
    asked = []
    for _ in range(count):
        before = len(outlet.paths())
        run_once(config)
        asked.append(
            [p for p in outlet.paths()[before:] if p not in ("/", "/robots.txt", "/feeds/all.xml")]
        )
    return asked


def mentioned_urls(config_path: Path) -> set[str]:
    database = load_config(config_path).database
    return {u for (u,) in rows(database, "SELECT DISTINCT a.url FROM mentions m JOIN articles a "
                                         "ON a.id = m.article_id")}  # fmt: skip


def test_max_articles_bounds_the_pages_of_a_listing_and_the_rest_come_next_poll(
    world: World, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        f'  - {{name: Al Akhbar, url: "{world.bases["C"]}/", kind: page, '
        f'selector: ".akhbar-list a.titre", max_articles: 1}}\n',
    )
    assert polls(world["C"], config, 4) == [[C_PANNE_AR], [C_ZELLIGE], [C_RAJA], []]
    assert mentioned_urls(config) == {world.url("C", C_PANNE_AR), world.url("C", C_ZELLIGE)}


def test_max_articles_bounds_full_text_reads_of_a_feed_and_the_rest_come_next_poll(
    world: World, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, f'  - {{name: Maroc Dépêche, url: "{world.bases["B"]}/", kind: page, '
        "max_articles: 2}\n",
    )  # fmt: skip
    assert polls(world["B"], config, 4) == [
        [B_ZELLIGE, B_INTERNET], [B_IMMOBILIER, B_METEO], [B_PANNE_AR], []
    ]  # fmt: skip
    assert mentioned_urls(config) == {
        world.url("B", path) for path in (B_ZELLIGE, B_INTERNET, B_IMMOBILIER, B_PANNE_AR)
    }


def test_full_text_never_reads_titles_only(world: World, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, f'  - {{name: Maroc Dépêche, url: "{world.bases["B"]}/", kind: page, '
        "full_text: never}\n",
    )  # fmt: skip
    assert polls(world["B"], config, 1) == [[]]
    assert mentioned_urls(config) == set()  # the titles name no brand: nothing to find


def test_429_on_a_listing_backs_the_source_off_until_retry_after(
    world: World, tmp_path: Path
) -> None:
    from ereputation.pipeline import run_cycle
    from ereputation.store import open_database
    from ereputation.store.record import parse_iso

    a = world["A"]
    a.routes["/"] = Page(None, 429, {"Retry-After": "7200"})
    config = load_config(
        write_config(
            tmp_path, f'  - {{name: Le Quotidien, url: "{world.bases["A"]}/", kind: page}}\n'
        )
    )
    db = open_database(config.database)
    start = datetime.now(UTC).replace(microsecond=0)  # the database keeps seconds
    assert run_cycle(config, db, now=start, only_due=True).failed == 1
    failures, status, error, next_poll = db.execute(
        "SELECT failures, last_status, last_error, next_poll_at FROM sources"
    ).fetchone()
    assert (failures, status) == (1, 429) and "429" in error
    due = parse_iso(next_poll)
    assert due is not None and due >= start + timedelta(seconds=7200)
    assert a.paths() == ["/robots.txt", "/"]  # no article asked while the site says "later"

    a.routes["/"] = Page("index.html")  # the site is back, but asked for two hours of quiet
    assert run_cycle(config, db, now=start + timedelta(hours=1), only_due=True).polled == 0
    assert a.paths() == ["/robots.txt", "/"]
    report = run_cycle(config, db, now=due + timedelta(seconds=1), only_due=True)
    assert (report.polled, report.failed) == (1, 0)
    assert db.execute("SELECT failures, last_error FROM sources").fetchone() == (0, None)
    db.conn.close()


def test_a_feed_at_a_common_path_is_used_when_the_page_advertises_none(
    world: World, tmp_path: Path
) -> None:
    a = world["A"]
    a.serve("/feed", "../depeche/feed.xml")
    config = write_config(
        tmp_path, f'  - {{name: Le Quotidien, url: "{world.bases["A"]}/", kind: page}}\n'
    )
    run_once(load_config(config))
    assert "/feed" in a.paths()
    assert rows(load_config(config).database, "SELECT feed_url FROM sources") == [
        (world.bases["A"] + "/feed",)
    ]


def test_listing_links_map_canonical_keys_to_the_urls_as_written() -> None:
    from ereputation.discover import find_article_anchors

    base = "http://127.0.0.2:8001/"
    html = (SITES / "quotidien" / "index.html").read_text(encoding="utf-8")
    anchors = find_article_anchors(html.replace("@A@", base.rstrip("/")), base)
    assert anchors[base + "4521"] == base + "amp/4521?utm_source=home&utm_medium=une"
    fibre = base + A_FIBRE.lstrip("/")
    assert anchors[fibre].startswith(fibre + "?utm_source=facebook")  # first in page order
    assert list(anchors) == [
        base + "4521", fibre, base + A_ZELLIGE.lstrip("/"), base + A_RENTREE.lstrip("/"),
        base + A_ABONNES.lstrip("/"),
    ]  # fmt: skip


# --------------------------------------------------------------------------- real pages


def _corpus(relative: str) -> str:
    path = SHARED / "corpus" / "real-pages" / relative
    if not path.exists():
        pytest.skip(f"corpus not available: {path}")
    return str(path)


def test_real_article_pages_behind_a_listing(world: World, tmp_path: Path) -> None:
    """Le Monde (French) and CNN Arabic pages from the shared corpus, served as one outlet.

    Brands named only in the article bodies are found; a word only in Le Monde's menus is
    not; the stored URL is the page's own ``rel=canonical``; dates are the declared ones.
    """
    a = world["A"]
    a.routes.clear()
    a.folder = tmp_path  # the listing is written here; corpus files are read in place
    (tmp_path / "listing.html").write_text(
        '<html><body><main><article><h2><a href="/pixels/loi-sur-le-renseignement-4627068">'
        "Renseignement</a></h2></article><article><h2>"
        '<a href="/arabic/syria-clashes-weapons-depot-2013">سوريا</a></h2></article>'
        "</main></body></html>",
        encoding="utf-8",
    )
    a.serve("/", "listing.html")
    a.routes["/pixels/loi-sur-le-renseignement-4627068"] = Page(
        _corpus("readability/lemonde-1/source.html")
    )
    a.routes["/arabic/syria-clashes-weapons-depot-2013"] = Page(
        _corpus("newspaper/html/arabic_article.html")
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "database: pages.db\nbrands:\n  - name: Conseil constitutionnel\n"
        "  - name: Coalition nationale syrienne\n    aliases: [الائتلاف الوطني السوري]\n"
        "  - name: Newsletters\n"
        f'sources:\n  - {{name: Corpus, url: "{world.bases["A"]}/", kind: page}}\n'
        "fetch:\n  host_delay: 0\n",
        encoding="utf-8",
    )
    run_once(load_config(path))
    found = rows(
        tmp_path / "pages.db",
        "SELECT a.url, a.outlet, a.published_at, a.language, m.brand FROM mentions m "
        "JOIN articles a ON a.id = m.article_id ORDER BY m.brand",
    )
    lemonde = (
        "http://lemonde.fr/pixels/article/2015/05/04/"
        "que-contient-la-loi-sur-le-renseignement_4627068_4408996.html"
    )
    assert [row[4] for row in found] == ["Coalition nationale syrienne", "Conseil constitutionnel"]
    syria, loi = found
    assert loi[:4] == (lemonde, "lemonde.fr", "2015-05-04T11:36:31+00:00", "fr")
    assert syria[1] == "arabic.cnn.com" and syria[3] == "ar"
    # The CNN page declares no publication time: unknown, or the day in its URL — not today.
    assert syria[2] is None or syria[2].startswith("2013-")


B_APPLICATION = "/economie/la-banque-zellige-lance-une-application-pour-les-commercants"


def test_a_page_source_whose_feed_disappears_goes_back_to_its_listing(
    world: World, tmp_path: Path
) -> None:
    b = world["B"]
    config = write_config(
        tmp_path, f'  - {{name: Maroc Dépêche, url: "{world.bases["B"]}/", kind: page}}\n'
    )
    run_once(load_config(config))
    database = load_config(config).database
    assert rows(database, "SELECT feed_url FROM sources") == [
        (world.bases["B"] + "/feeds/all.xml",)
    ]
    # The redesign drops the feed (404) and its <link rel=alternate>.
    del b.routes["/feeds/all.xml"]
    b.serve("/", "index-sans-flux.html")
    b.serve(B_APPLICATION, "application.html")
    before = len(b.paths())
    report = run_once(load_config(config))
    assert report.failed == 0, report.errors
    asked = b.paths()[before:]
    assert B_APPLICATION in asked
    assert B_ZELLIGE not in asked  # stored already: not read again from the listing
    assert world.url("B", B_APPLICATION) in mentioned_urls(config)
