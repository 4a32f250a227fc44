"""The daemon as a user runs it: ``ereputation run --once`` and ``digest --send`` as commands.

Feeds in French, English and Arabic (some items about the brands, some not, one feed broken)
are served on 127.0.0.1; the digest goes to a real SMTP server on loopback; the rows stored in
the real SQLite file are compared with what the feeds truly contain.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from email.utils import format_datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sample_feeds import AR, EN, FR, NOW, OWNED, rss


def write_config(tmp: Path, site, smtp) -> Path:
    config = tmp / "feeds.yaml"
    config.write_text(
        f"""
database: data/test.db
timezone: Africa/Casablanca
brands:
  - name: Atlas Télécom
    aliases: [Atlas Telecom, اتصالات الأطلس]
    exclude: [Atlas Mountains]
    owned: [atlastelecom.example]
  - name: Banque Zellige
    aliases: [Zellige Bank]
  - name: Orange
    case_sensitive: true
sources:
  - {{name: Presse FR, url: "{site.url("/fr.xml")}", full_text: never}}
  - {{name: Business EN, url: "{site.url("/en.xml")}", full_text: never}}
  - {{name: Akhbar AR, url: "{site.url("/ar.xml")}", full_text: never}}
  - {{name: Blog Atlas, url: "{site.url("/owned.xml")}", full_text: never}}
  - {{name: Broken, url: "{site.url("/broken.xml")}"}}
  - {{name: Missing, url: "{site.url("/missing.xml")}"}}
digest:
  at: "00:00"
  language: fr
  to: [com@example.ma]
email:
  smtp: "127.0.0.1:{smtp.port}"
  starttls: false
  from: "e-réputation <alerts@example.ma>"
""",
        encoding="utf-8",
    )
    return config


def ereputation(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    return subprocess.run(
        [sys.executable, "-m", "ereputation.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def served(site):
    site.add("/fr.xml", FR, ETag='"fr-v1"', Content_Type="application/rss+xml; charset=utf-8")
    site.add("/en.xml", EN, ETag='"en-v1"')
    site.add("/ar.xml", AR, Last_Modified=format_datetime(NOW, usegmt=True))
    site.add("/owned.xml", OWNED)
    site.add("/broken.xml", "<rss><channel><item><title>cut sho")
    return site


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_poll_twice_then_digest_by_smtp(tmp_path, served, smtp):
    config = write_config(tmp_path, served, smtp)
    first = ereputation("run", "--once", "-c", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    db = tmp_path / "data" / "test.db"

    mentions = rows(
        db,
        "SELECT m.brand, a.url, m.owned, m.label, a.language FROM mentions m "
        "JOIN articles a ON a.id = m.article_id ORDER BY a.url",
    )
    found = {(brand, url) for brand, url, *_ in mentions}
    assert found == {
        ("Atlas Télécom", "https://presse.example/panne-atlas"),  # tracking parameter gone
        ("Atlas Télécom", "https://akhbar.example/atlas-3otl"),  # Arabic alias
        ("Atlas Télécom", "https://atlastelecom.example/blog/incident"),
        ("Banque Zellige", "https://business.example/zellige-award"),  # alias
    }  # not the Atlas Mountains hike, not the orangeade, not the unrelated items
    by_url = {url: (owned, label, lang) for _, url, owned, label, lang in mentions}
    assert by_url["https://atlastelecom.example/blog/incident"][0] == 1
    assert by_url["https://presse.example/panne-atlas"][:2] == (0, "negative")
    assert by_url["https://business.example/zellige-award"][1:] == ("positive", "en")
    assert by_url["https://akhbar.example/atlas-3otl"][2] == "ar"

    health = dict(rows(db, "SELECT name, failures FROM sources"))
    assert health["Broken"] == 1 and health["Missing"] == 1
    assert health["Presse FR"] == 0 and health["Akhbar AR"] == 0

    # A second poll adds nothing, and asks conditionally.
    second = ereputation("run", "--once", "-c", str(config), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert rows(db, "SELECT count(*) FROM mentions")[0][0] == 4
    assert rows(db, "SELECT count(*) FROM articles")[0][0] == 4
    fr_hits = served.hits("/fr.xml")
    assert fr_hits[-1].headers.get("If-None-Match") == '"fr-v1"'
    assert served.hits("/ar.xml")[-1].headers.get("If-Modified-Since")
    assert "ereputation/" in fr_hits[0].headers.get("User-Agent", "")

    # The digest, sent to the loopback SMTP server; sending again sends nothing more.
    sent = ereputation("digest", "--send", "-c", str(config), cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    messages = smtp.wait_for(1)
    digests = [m for m in messages if "List-Id" in m]
    assert len(digests) >= 1
    digest = digests[-1]
    html = digest.get_body(("html",)).get_content()
    text = digest.get_body(("plain",)).get_content()
    for body in (html, text):
        assert "Panne géante chez Atlas Télécom" in body
        assert "Zellige Bank wins award" in body
    assert "https://presse.example/panne-atlas" in html
    assert "Randonnée" not in html and "festival" not in html.lower()
    count_before = len(smtp.messages)
    again = ereputation("digest", "--send", "-c", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(smtp.wait_for(count_before + 1, timeout=2)) == count_before


def test_script_in_a_title_never_reaches_the_html(tmp_path, site, smtp):
    site.add(
        "/x.xml",
        rss([("x-1", "Atlas Télécom <script>alert(1)</script> &lt;img src=x onerror=alert(2)&gt;",
              "https://presse.example/xss", "Atlas Télécom est mauvais.", 1)]),
    )  # fmt: skip
    config = tmp_path / "feeds.yaml"
    config.write_text(
        f"""
database: t.db
brands: [{{name: Atlas Télécom}}]
sources: [{{name: X, url: "{site.url("/x.xml")}", full_text: never}}]
digest: {{at: "00:00", to: [a@example.ma]}}
email: {{smtp: "127.0.0.1:{smtp.port}", starttls: false}}
""",
        encoding="utf-8",
    )
    assert ereputation("run", "--once", "-c", str(config), cwd=tmp_path).returncode == 0
    assert ereputation("digest", "--send", "-c", str(config), cwd=tmp_path).returncode == 0
    html = smtp.wait_for(1)[-1].get_body(("html",)).get_content()
    assert "Atlas Télécom" in html
    assert "<script" not in html.lower()
    page = BeautifulSoup(html, "html.parser")
    assert not page.find_all(["script", "img", "iframe", "object", "svg", "style"])
    assert not [
        (tag.name, attr)
        for tag in page.find_all(True)
        for attr in tag.attrs
        if attr.lower().startswith("on")
    ]
    # The hostile text is shown as text, not lost.
    assert "<img src=x onerror=alert(2)>" in page.get_text()


def test_check_reports_every_problem_and_exits_2(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "brands:\n  - name: A\n    alias: [b]\nsources:\n  - {name: s, url: 'file:///etc/passwd'}\n"
        "poll_every: soon\n",
        encoding="utf-8",
    )
    result = ereputation("check", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "brands[0].alias" in result.stderr
    assert "sources[0].url" in result.stderr
    assert "poll_every" in result.stderr
