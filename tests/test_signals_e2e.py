"""Signals and the digest end to end (issue 5), through the real commands.

Feeds served on 127.0.0.1 carry a quiet 14-day history of a brand, then a burst of negative
third-party coverage from new outlets; ``ereputation run --once`` polls them in a new process
each time, alerts go to a real SMTP server on loopback, and the test checks which messages
arrive, how many, and what they say — including the cases where nothing must arrive.

Outlets are decided by the article links inside the feeds (fictitious domains, never fetched:
``full_text: never``), so one loopback server stands for many outlets.

The one clock seam: "a quiet history the daemon watched" cannot be waited for, so after the
first poll of the history ``watched_since_publication`` rewrites the stored discovery times as
if the daemon had found each item when it was published (as a daemon running for the past two
weeks would have).  Retries after backoff call the library with a later ``now`` for the same
reason.  Nothing else is faked.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

BRAND = "Atlas Télécom"
NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    link: str
    text: str
    hours_ago: float


def rss(items: list[Item], lang: str = "fr") -> str:
    body = "".join(
        f"<item><guid>{escape(i.guid)}</guid><title>{escape(i.title)}</title>"
        f"<link>{escape(i.link)}</link>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=i.hours_ago))}</pubDate>"
        f"<description>{escape(i.text)}</description></item>"
        for i in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<language>{lang}</language>{body}</channel></rss>"
    )


# --- the story told by the feeds ---------------------------------------------------------------

_TOPICS = [
    ("ouvre une agence à Fès", "L'opérateur accueille ses clients dans une agence rénovée."),
    ("sponsorise le marathon de Rabat", "Les coureurs porteront un dossard aux couleurs."),
    ("publie ses horaires d'été", "Les boutiques ouvriront de 9 h à 18 h pendant juillet."),
    ("recrute des techniciens", "Cent postes sont proposés dans les régions du Sud."),
    ("lance une offre pour étudiants", "Un forfait à prix réduit pour la rentrée universitaire."),
    ("installe des antennes à Ifrane", "La couverture de la station de ski sera améliorée."),
    ("signe avec un équipementier", "Un contrat de fourniture de routeurs pour trois ans."),
    ("présente son rapport annuel", "Le chiffre d'affaires progresse légèrement en un an."),
    ("forme des jeunes au codage", "Un programme de bourses avec des écoles d'ingénieurs."),
    ("modernise son application", "La nouvelle version permet de suivre la consommation."),
    ("inaugure un centre d'appels", "Le centre de Oujda emploiera deux cents conseillers."),
    ("soutient un festival de musique", "Le festival d'Essaouira affiche un nouveau partenaire."),
    ("change de directeur commercial", "Un cadre venu de la banque prend le poste en mars."),
    ("teste la fibre à Tanger", "Un quartier pilote reçoit ses premiers raccordements."),
]


def quiet_history() -> list[Item]:
    """One calm third-party mention a day for 14 days, alternating between two outlets."""
    return [
        Item(
            f"hist-{day}",
            f"{BRAND} {topic}",
            f"https://{'presse' if day % 2 else 'eco'}.example/hist-{day}",
            f"{BRAND} {topic}. {detail}",
            24 * day + 3,
        )
        for day, (topic, detail) in enumerate(_TOPICS, start=1)
    ]


def owned_history() -> list[Item]:
    return [
        Item(
            f"own-{day}",
            f"{BRAND} vous informe",
            f"https://www.atlastelecom.example/blog/news-{day}",
            f"{BRAND} informe ses clients des nouveautés du mois numéro {day}.",
            24 * day + 5,
        )
        for day in (2, 6, 10)
    ]


PANNE = (
    "Le réseau d'Atlas Télécom est coupé depuis ce matin dans tout le pays, les abonnés "
    "furieux dénoncent un service catastrophique et aucune explication."
)


def negative_burst(hours: float = 0.0) -> list[Item]:
    """The panne story, written up by three new outlets and an old one, all negative."""
    return [
        Item("b-1", "Panne géante chez Atlas Télécom", "https://depeche.example/panne-atlas",
             PANNE, hours + 3),
        Item("b-2", "Atlas Télécom : panne géante, les abonnés furieux",
             "https://quotidien.example/eco/panne-atlas-telecom",
             "Depuis ce matin, le réseau d'Atlas Télécom est coupé dans tout le pays ; les "
             "abonnés furieux dénoncent un service catastrophique, sans aucune explication.",
             hours + 2),
        Item("b-3", "Panne géante du réseau Atlas Télécom",
             "https://hebdo.example/2026/panne",
             "Les abonnés furieux d'Atlas Télécom dénoncent un service catastrophique : le "
             "réseau est coupé depuis ce matin dans tout le pays, aucune explication.",
             hours + 1.5),
        Item("b-4", "Atlas Télécom : la panne géante continue",
             "https://presse.example/panne-suite",
             "Le réseau d'Atlas Télécom reste coupé ; les abonnés furieux parlent d'un service "
             "catastrophique et attendent toujours une explication.",
             hours + 1),
    ]  # fmt: skip


ARABIC = Item(
    "ar-1",
    "عطل كبير في شبكة اتصالات الأطلس",
    "https://akhbar.example/atlas-3otl",
    "اشتكى المشتركون من انقطاع الإنترنت بسبب عطل في شبكة اتصالات الأطلس.",
    0.5,
)
CALM = Item(
    "calm-1",
    "Atlas Télécom ouvre une boutique à Agadir",
    "https://eco.example/agadir",
    "Atlas Télécom accueille ses clients dans une belle boutique au centre d'Agadir.",
    4,
)  # a known outlet, published before the burst: it must still be listed after the negatives
OWNED_REPLY = Item(
    "own-burst",
    "Atlas Télécom mobilise ses équipes",
    "https://www.atlastelecom.example/blog/incident",
    "Atlas Télécom informe ses clients qu'un incident technique est en cours de résolution.",
    0.8,
)
NEW_OUTLETS = {"depeche.example", "quotidien.example", "hebdo.example", "akhbar.example"}


# --- the harness ---------------------------------------------------------------------------------


class Hook:
    """A loopback HTTP server that records the bodies POSTed to it (an apprise json:// target)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                hook.posts.append((self.path, json.loads(body.decode("utf-8"))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook() as server:
        yield server


def write_config(
    tmp: Path,
    site,
    smtp,
    *,
    name: str = "feeds.yaml",
    language: str = "fr",
    to: str = "com@example.ma",
    notify: tuple[str, ...] = (),
) -> Path:
    notify_yaml = "[" + ", ".join(f'"{url}"' for url in notify) + "]"
    config = tmp / name
    config.write_text(
        f"""
database: data/test.db
timezone: Africa/Casablanca
brands:
  - name: {BRAND}
    aliases: [Atlas Telecom, اتصالات الأطلس]
    owned: [atlastelecom.example]
sources:
  - {{name: Presse, url: "{site.url("/presse.xml")}", full_text: never}}
  - {{name: Agrégateur, url: "{site.url("/agregateur.xml")}", full_text: never}}
  - {{name: Akhbar, url: "{site.url("/ar.xml")}", full_text: never}}
  - {{name: Blog Atlas, url: "{site.url("/owned.xml")}", full_text: never}}
digest:
  at: "00:00"
  language: {language}
  to: [{to}]
alerts:
  notify: {notify_yaml}
email:
  smtp: "127.0.0.1:{smtp.port}"
  starttls: false
  timeout: 5s
  from: "e-réputation <alerts@example.ma>"
""",
        encoding="utf-8",
    )
    return config


def serve(site, *, presse=(), agregateur=(), arabic=(), owned=()) -> None:
    site.add("/presse.xml", rss(list(presse)))
    site.add("/agregateur.xml", rss(list(agregateur)))
    site.add("/ar.xml", rss(list(arabic), lang="ar"))
    site.add("/owned.xml", rss(list(owned)))


def ereputation(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    return subprocess.run(
        [sys.executable, "-m", "ereputation.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def run_once(config: Path) -> None:
    result = ereputation("run", "--once", "-c", str(config), cwd=config.parent)
    assert result.returncode == 0, result.stderr


def database(config: Path) -> Path:
    return config.parent / "data" / "test.db"


def rows(config: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(database(config)) as conn:
        return conn.execute(sql, params).fetchall()


def watched_since_publication(config: Path) -> None:
    """The clock seam: make the history just polled look found as it was published."""
    with sqlite3.connect(database(config)) as conn:
        conn.execute("UPDATE mentions SET found_at = mentioned_at")
        conn.execute("UPDATE articles SET fetched_at = coalesce(published_at, fetched_at)")
        conn.execute("UPDATE seen_items SET seen_at = (SELECT min(mentioned_at) FROM mentions)")


def settle(smtp, count: int) -> list[EmailMessage]:
    """The messages once ``count`` arrived (the SMTP server hands them over asynchronously);
    a short wait past ``count`` makes a surplus message visible too."""
    smtp.wait_for(count)
    return list(smtp.wait_for(count + 1, timeout=1))


def kinds_of(config: Path) -> list[tuple[str, str]]:
    return rows(config, "SELECT kind, key FROM alerts ORDER BY kind, key")


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def with_history(tmp_path, site, smtp, **options) -> Path:
    """A config whose daemon has watched two quiet weeks: polled, and found as published."""
    config = write_config(tmp_path, site, smtp, **options)
    serve(site, presse=quiet_history(), owned=owned_history())
    run_once(config)
    assert smtp.messages == [], "a first run over a quiet backlog mails nothing"
    watched_since_publication(config)
    return config


def burst(site) -> None:
    serve(
        site,
        presse=[*quiet_history(), CALM, *negative_burst()[3:]],
        agregateur=negative_burst()[:3],
        arabic=[ARABIC],
        owned=[*owned_history(), OWNED_REPLY],
    )


# --- (a) quiet history, then a negative burst from new outlets --------------------------------


def test_burst_after_quiet_history_alerts_once_with_reasons(tmp_path, site, smtp):
    config = with_history(tmp_path, site, smtp)
    burst(site)
    run_once(config)

    messages = settle(smtp, 1)
    assert len(messages) == 1, [m["Subject"] for m in messages]
    alert = messages[0]
    assert alert["X-Ereputation-Kind"] == "alert"
    assert alert["X-Ereputation-Brand"] == BRAND
    assert alert["Subject"] == (
        "Alerte Atlas Télécom : Pic de mentions, Vague négative, Nouvelle voix, "
        "Histoire qui se propage"
    )
    assert alert["Date"] and alert["Message-ID"] and "alert" in alert["List-Id"]

    stored = kinds_of(config)
    assert stored == sorted(
        [("negative_wave", ""), ("surge", "")]
        + [("new_voice", outlet) for outlet in NEW_OUTLETS]
        + [("spreading_story", key) for kind, key in stored if kind == "spreading_story"]
    )
    assert [kind for kind, _ in stored].count("spreading_story") == 1

    text = text_of(alert)
    # Third-party only: 4 French write-ups, the Arabic one and a calm one; the owned reply is
    # not counted.
    assert "6 mentions par des tiers en 24 h contre une médiane de 1/jour" in text
    assert "5 mentions négatives sur 6 par des tiers en 24 h (83 %)" in text
    for outlet in NEW_OUTLETS:
        assert f"première mention par {outlet}" in text
    assert "une même histoire reprise par 4 médias en 2 h" in text
    assert "depeche.example, quotidien.example, hebdo.example, presse.example" in text
    assert "atlastelecom.example" not in text
    html = html_of(alert)
    assert "Panne géante chez Atlas Télécom" in html  # the story's first article, linked
    assert 'href="https://depeche.example/panne-atlas"' in html

    details = dict(rows(config, "SELECT kind, details FROM alerts WHERE key = ''"))
    surge = json.loads(details["surge"])
    assert (surge["count"], surge["median"], surge["baseline_days"]) == (6, 1.0, 13)
    assert surge["reason"] == (
        "6 third-party mentions in 24 h against a median of 1/day over 13 days"
    )
    assert rows(config, "SELECT count(*) FROM alerts WHERE sent_at IS NULL") == [(0,)]

    # A second poll, in a new process, with nothing new: no new mail, no new alert.
    run_once(config)
    assert len(settle(smtp, 1)) == 1
    assert kinds_of(config) == stored


def test_restart_with_more_of_the_same_story_sends_nothing_within_cooldown(tmp_path, site, smtp):
    config = with_history(tmp_path, site, smtp)
    burst(site)
    run_once(config)
    assert len(settle(smtp, 1)) == 1
    before = kinds_of(config)

    # A new process polls again: one more negative write-up from a known outlet, and a new
    # outlet.  The wave, the surge and the story are still on, but within the cooldown.
    more = Item("b-5", "Panne géante Atlas Télécom : toujours rien",
                "https://depeche.example/panne-suite", PANNE, 0.2)  # fmt: skip
    newcomer = Item("b-6", "Atlas Télécom : la panne géante vue par les abonnés",
                    "https://radio.example/atlas-panne", PANNE, 0.1)  # fmt: skip
    serve(
        site,
        presse=[*quiet_history(), CALM, *negative_burst()[3:]],
        agregateur=[*negative_burst()[:3], more, newcomer],
        arabic=[ARABIC],
        owned=[*owned_history(), OWNED_REPLY],
    )
    run_once(config)
    assert len(settle(smtp, 1)) == 1
    assert kinds_of(config) == before

    # Held, not lost: once the cooldown (6 h) is over, the new outlet is mailed, in one message.
    from ereputation.alerting import check_and_alert
    from ereputation.config import load_config
    from ereputation.store import open_database

    loaded = load_config(config)
    db = open_database(loaded.database)
    fired = check_and_alert(loaded, db, datetime.now(UTC) + timedelta(hours=7))
    db.conn.close()
    assert ("new_voice", "radio.example") in {(s.kind, s.key) for s in fired}
    messages = settle(smtp, 2)
    assert len(messages) == 2
    assert "première mention par radio.example" in text_of(messages[1])


# --- (b) the same burst from the brand's own domain ------------------------------------------


def test_a_burst_from_the_owned_domain_fires_nothing(tmp_path, site, smtp):
    config = with_history(tmp_path, site, smtp)
    own_burst = [
        Item(i.guid, i.title, f"https://atlastelecom.example/presse/{i.guid}", i.text, i.hours_ago)
        for i in negative_burst()
    ]
    serve(site, presse=quiet_history(), owned=[*owned_history(), *own_burst])
    run_once(config)

    assert settle(smtp, 0) == []
    assert kinds_of(config) == []
    owned = rows(config, "SELECT m.owned FROM mentions m JOIN articles a ON a.id = m.article_id "
                 "WHERE a.outlet = 'atlastelecom.example' AND a.url LIKE '%/presse/%'")  # fmt: skip
    assert owned == [(1,)] * 4


# --- (c) first run over a backlog ---------------------------------------------------------------


def test_a_first_run_over_a_backlog_fires_nothing_for_history(tmp_path, site, smtp):
    """Two weeks of history with an old negative burst (five days ago) in the first poll."""
    config = write_config(tmp_path, site, smtp)
    old = negative_burst(hours=5 * 24)
    serve(
        site,
        presse=[*quiet_history(), *old[3:]],
        agregateur=old[:3],
        owned=owned_history(),
    )
    run_once(config)
    run_once(config)  # and a second poll of the same backlog

    assert settle(smtp, 0) == []
    assert kinds_of(config) == []
    assert rows(config, "SELECT count(*) FROM mentions WHERE owned = 0 AND label = 'negative'") == [
        (4,)
    ]


# --- (d) SMTP refusing during the burst ------------------------------------------------------


def test_smtp_outage_the_alert_and_digest_each_arrive_once_after_recovery(tmp_path, site, smtp):
    from ereputation.alerting import send_pending_alerts
    from ereputation.config import load_config
    from ereputation.delivery import send_due_digests
    from ereputation.store import open_database

    config = with_history(tmp_path, site, smtp)
    burst(site)
    smtp.fail_with = "451 4.3.0 try again later"
    run_once(config)
    failed_digest = ereputation("digest", "--send", "-c", str(config), cwd=tmp_path)
    assert failed_digest.returncode != 0
    assert "451" in failed_digest.stdout + failed_digest.stderr
    assert settle(smtp, 0) == []
    alert_state = rows(config, "SELECT DISTINCT attempts, last_error IS NOT NULL FROM alerts")
    assert alert_state == [(1, 1)]
    assert rows(config, "SELECT status, attempts FROM digests") == [("failed", 1)]

    # The server is back.  A poll right away respects the backoff (one minute): nothing yet.
    smtp.fail_with = None
    run_once(config)
    assert settle(smtp, 0) == []

    # Once the backoff elapsed, the daemon's next tick sends each once.
    loaded = load_config(config)
    db = open_database(loaded.database)
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert send_pending_alerts(loaded, db, later) is not None
    assert [r.status for r in send_due_digests(loaded, db, later)] == ["sent"]
    db.conn.close()
    messages = settle(smtp, 2)
    assert [m["X-Ereputation-Kind"] for m in messages] == ["alert", "digest"]
    assert "Vague négative" in messages[0]["Subject"]
    assert "Panne géante chez Atlas Télécom" in html_of(messages[1])

    # Restarts and retries change nothing any more.
    run_once(config)
    again = ereputation("digest", "--send", "-c", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already_sent" in again.stdout
    assert len(settle(smtp, 2)) == 2
    assert rows(config, "SELECT count(*) FROM alerts WHERE sent_at IS NULL") == [(0,)]


# --- (f) the next digest tells the story ---------------------------------------------------------


def test_the_digest_tells_the_story_in_french_and_english(tmp_path, site, smtp):
    config = with_history(tmp_path, site, smtp)
    burst(site)
    run_once(config)
    assert len(settle(smtp, 1)) == 1

    sent = ereputation("digest", "--send", "-c", str(config), cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    english = write_config(tmp_path, site, smtp, name="en.yaml", language="en", to="en@example.ma")
    sent = ereputation("digest", "--send", "-c", str(english), cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    messages = settle(smtp, 3)
    assert len(messages) == 3
    fr, en = messages[1], messages[2]
    assert fr["X-Ereputation-Kind"] == en["X-Ereputation-Kind"] == "digest"
    assert fr["To"] == "com@example.ma" and en["To"] == "en@example.ma"
    assert fr["Subject"].startswith("Veille e-réputation Atlas Télécom — ")
    assert "7 signaux, 7 mentions" in fr["Subject"]
    assert en["Subject"].startswith("E-reputation digest Atlas Télécom — ")
    assert "7 signals, 7 mentions" in en["Subject"]

    page = BeautifulSoup(html_of(fr), "html.parser")
    headings = [h.get_text(strip=True) for h in page.find_all(["h2", "h3"])]
    # Signals first, then the brand, its chart, negative third parties, stories, new outlets,
    # and the brand's own posts apart at the end.
    assert headings == [
        "Signaux du jour",
        BRAND,
        "Volume sur 14 jours",
        "Mentions par des tiers (les négatives d'abord)",
        "Histoires reprises",
        "Nouveaux médias",
        "Publications de la marque",
    ]
    signals = page.find("h2").find_next("table").get_text(" ", strip=True)
    for title in ("Pic de mentions", "Vague négative", "Nouvelle voix", "Histoire qui se propage"):
        assert title in signals
    assert "5 mentions négatives sur 6" in signals

    third = _section(page, "Mentions par des tiers (les négatives d'abord)")
    labels = [span.get_text(strip=True) for span in third.select("td > span:first-child")]
    assert labels == ["négatif"] * 5 + ["positif"]
    assert "atlastelecom.example" not in third.get_text()
    owned = _section(page, "Publications de la marque")
    assert "Atlas Télécom mobilise ses équipes" in owned.get_text()

    story = _section(page, "Histoires reprises").get_text(" ", strip=True)
    assert "4 médias : depeche.example, quotidien.example, hebdo.example, presse.example" in story
    assert "publiée d'abord par depeche.example" in story
    new = _section(page, "Nouveaux médias").get_text(" ", strip=True)
    for outlet in NEW_OUTLETS:
        assert outlet in new
    assert "presse.example" not in new and "eco.example" not in new

    chart = _section(page, "Volume sur 14 jours")
    days = chart.find_all("tr", recursive=False) or chart.find("tbody").find_all("tr")
    assert len(days) == 14
    # One row per local day (Africa/Casablanca) of publication, the digest's day last. The
    # burst, published 0.5 to 4 h ago, may straddle local midnight: count from the store.
    ((digest_day,),) = rows(config, "SELECT date FROM digests WHERE recipient = 'com@example.ma'")
    tz = ZoneInfo("Africa/Casablanca")
    published = Counter(
        datetime.fromisoformat(at).astimezone(tz).date()
        for (at,) in rows(config, "SELECT mentioned_at FROM mentions WHERE brand = ?", (BRAND,))
    )
    last = date.fromisoformat(digest_day)
    expected = [published[last - timedelta(days=n)] for n in range(13, -1, -1)]
    assert [int(tr.find_all("td")[-1].get_text(strip=True)) for tr in days] == expected
    burst_days = {(NOW - timedelta(hours=h)).astimezone(tz).date() for h in (0.5, 4)}
    assert sum(published[day] for day in burst_days) >= 7  # the burst: 6 + owned

    arabic = page.find(string=lambda s: "اتصالات الأطلس" in s)
    assert arabic is not None and arabic.parent.get("dir") == "rtl"
    assert not page.find_all(["script", "img", "style", "link"])

    text = text_of(fr)
    assert text.index("Signaux du jour") < text.index("Vague négative") < text.index("Par des")
    en_text = text_of(en)
    assert "Signals of the day" in en_text and "Negative wave" in en_text
    assert "first published by depeche.example" in en_text
    assert "\u2068عطل كبير في شبكة اتصالات الأطلس\u2069" in en_text


def _section(page: BeautifulSoup, heading: str):
    """The element right after the h3 titled ``heading``."""
    title = page.find(lambda tag: tag.name == "h3" and tag.get_text(strip=True) == heading)
    assert title is not None, heading
    return title.find_next_sibling(["table", "ul"])


# --- (g) other channels through apprise --------------------------------------------------------


def test_apprise_channel_gets_the_signals_and_a_broken_one_does_not_stop_the_mail(
    tmp_path, site, smtp, hook
):
    with Hook() as closed:
        dead_port = closed.port  # nothing listens there any more once this block ends
    config = with_history(
        tmp_path,
        site,
        smtp,
        notify=(f"json://127.0.0.1:{dead_port}/dead", f"json://127.0.0.1:{hook.port}/hook"),
    )
    burst(site)
    run_once(config)

    assert len(settle(smtp, 1)) == 1
    assert [path for path, _ in hook.posts] == ["/hook"]
    body = hook.posts[0][1]
    assert body["title"].startswith("Alerte Atlas Télécom")
    assert "5 mentions négatives sur 6" in body["message"]
    assert "première mention par depeche.example" in body["message"]

    run_once(config)  # nothing new: nothing pushed either
    assert len(hook.posts) == 1
