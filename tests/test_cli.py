"""The read-side verbs as a user types them: mentions, sources, analyze, digest --dry-run."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sample_feeds import AR, EN, FR, OWNED


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    return subprocess.run(
        [sys.executable, "-m", "ereputation.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, input=stdin,
    )  # fmt: skip


@pytest.fixture(scope="module")
def polled(tmp_path_factory):
    """A database filled by one ``run --once`` over the sample feeds (served on loopback)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    feeds = {"/fr.xml": FR, "/en.xml": EN, "/ar.xml": AR, "/owned.xml": OWNED}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = feeds.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    folder = tmp_path_factory.mktemp("cli")
    (folder / "feeds.yaml").write_text(
        f"""
database: cli.db
brands:
  - {{name: Atlas Télécom, aliases: [Atlas Telecom, اتصالات الأطلس], owned: [atlastelecom.example]}}
  - {{name: Banque Zellige, aliases: [Zellige Bank]}}
sources:
  - {{name: Presse FR, url: "{base}/fr.xml", full_text: never}}
  - {{name: Business EN, url: "{base}/en.xml", full_text: never}}
  - {{name: Akhbar AR, url: "{base}/ar.xml", full_text: never}}
  - {{name: Blog, url: "{base}/owned.xml", full_text: never}}
fetch: {{host_delay: 0}}
""",
        encoding="utf-8",
    )
    result = cli("run", "--once", cwd=folder)  # ./feeds.yaml is the default
    assert result.returncode == 0, result.stderr
    yield folder
    server.shutdown()


def test_mentions_filters_and_formats(polled):
    result = cli("mentions", "--brand", "Atlas Télécom", "--since", "30d", "--format", "json",
                 cwd=polled)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["brand"] for row in rows} == {"Atlas Télécom"}
    assert len(rows) == 3
    assert {row["voice"] for row in rows} == {"owned", "third-party"}
    dates = [row["mentioned_at"] for row in rows]
    assert dates == sorted(dates, reverse=True)

    third = cli("mentions", "--third-party", "--sentiment", "negative", "--format", "csv",
                cwd=polled)  # fmt: skip
    table = list(csv.DictReader(io.StringIO(third.stdout)))
    assert table and all(r["voice"] == "third-party" and r["label"] == "negative" for r in table)

    none = cli("mentions", "--since", "1s", cwd=polled)
    assert none.returncode == 0 and "(nothing)" in none.stdout

    bad = cli("mentions", "--since", "last tuesday", cwd=polled)
    assert bad.returncode != 0 and bad.stderr.startswith("Error:") and "Traceback" not in bad.stderr


def test_sources_shows_health(polled):
    result = cli("sources", "--format", "json", cwd=polled)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == {"Presse FR", "Business EN", "Akhbar AR", "Blog"}
    assert rows["Presse FR"]["failures"] == 0 and rows["Presse FR"]["last_ok_at"]
    assert rows["Presse FR"]["mentions"] == 1 and rows["Presse FR"]["items"] == 4


def test_analyze_reads_lines_from_stdin_as_json(polled):
    texts = "Panne chez ATLAS TELECOM ce matin\nاشتكى زبناء اتصالات الأطلس\n\nrien à voir\n"
    result = cli("analyze", "--json", "-", cwd=polled, stdin=texts)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # One answer per input line, the blank one too: line n answers line n.
    assert [row["brands"] for row in rows] == [["Atlas Télécom"], ["Atlas Télécom"], [], []]
    assert [row["language"] for row in rows][:2] == ["fr", "ar"]
    assert rows[2]["label"] is None and rows[2]["sentiment"] is None
    for row in rows:
        assert set(row) >= {"language", "brands", "sentiment", "label"}


def test_analyze_reads_stdin_as_utf8_whatever_the_locale(polled):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EREPUTATION_", "LC_"))}
    lines = ["\ufeffPanne chez Atlas Télécom", "Atlas Télécom \udcff rien", "اتصالات الأطلس"]
    data = "\r\n".join(lines).encode("utf-8", "surrogateescape")  # a BOM, a stray byte, CRLF
    result = subprocess.run(
        [sys.executable, "-m", "ereputation.cli", "analyze", "--json", "-"],
        cwd=polled, env={**env, "LC_ALL": "POSIX", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
        input=data, capture_output=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert [row["brands"] for row in rows] == [["Atlas Télécom"]] * 3
    assert rows[0]["matches"][0]["start"] == 11  # the BOM is not part of the text
    assert rows[2]["language"] == "ar"


def test_analyze_takes_an_argument_that_is_not_utf8(polled):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    argument = "Atlas Télécom \udcff".encode("utf-8", "surrogateescape")  # a stray byte
    command = [sys.executable.encode(), b"-m", b"ereputation.cli", b"analyze", b"--json", argument]
    result = subprocess.run(command, cwd=polled, env=env, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.decode("utf-8"))
    assert row["brands"] == ["Atlas Télécom"]


def test_a_brand_given_in_bytes_that_are_not_utf8_is_a_brand_with_no_mention(polled):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    command = [sys.executable.encode(), b"-m", b"ereputation.cli", b"mentions", b"--brand",
               b"Atlas T\xe9l\xe9com", b"--format", b"json"]  # fmt: skip
    result = subprocess.run(command, cwd=polled, env=env, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in (b"", b"[]")


def test_analyze_shows_why_a_text_reads_as_it_does(polled):
    text = "Chez Atlas Télécom, les réclamations n'ont pas augmenté cette année."
    result = cli("analyze", text, cwd=polled)
    assert result.returncode == 0, result.stderr
    assert "Atlas Télécom: 'Atlas Télécom' at 5-18" in result.stdout
    # The figure that moved, negated: fewer complaints is good news.
    assert "  reclamations augmente: +1.5" in result.stdout


def test_digest_dry_run_prints_and_records_nothing(polled):
    result = cli("digest", "--dry-run", cwd=polled)
    assert result.returncode == 0, result.stderr
    assert "Atlas Télécom" in result.stdout
    import sqlite3

    with sqlite3.connect(polled / "cli.db") as conn:
        assert conn.execute("SELECT count(*) FROM digests").fetchone()[0] == 0


def test_missing_config_is_a_clear_error(tmp_path):
    result = cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Error:") and "feeds.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_version():
    from ereputation import __version__

    result = cli("--version", cwd=Path.cwd())
    assert __version__ in result.stdout


def test_the_cycle_modules_load_neither_the_scheduler_nor_numpy(tmp_path):
    """``run --once`` pays for what one cycle needs: APScheduler, numpy (which sqlite-utils
    would import) and sqlite-utils itself cost ~200 ms of CPU per start, more than a third of
    an all-unchanged cycle.  sqlite-utils' API is still there on demand, without numpy."""
    probe = (
        "import sys, ereputation.cli, ereputation.cycle, ereputation.store\n"
        "loaded = lambda: sorted(m for m in ('apscheduler', 'numpy', 'sqlite_utils') "
        "if m in sys.modules)\n"
        "print(loaded())\n"
        f"db = ereputation.store.open_database({str(tmp_path / 'e.db')!r})\n"
        "print('mentions' in db.table_names(), loaded())\n"
        "import numpy\n"  # still importable for those who need it (py3langid)
        "print(numpy.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == ["[]", "True ['sqlite_utils']", "numpy"]
