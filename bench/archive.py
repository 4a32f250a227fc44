"""Archive benchmark: queries on a database of a million mentions stay instant.

    python bench/archive.py --mentions 1000000

Fills a fresh database (the real schema, through ``open_database``) with N articles and
mentions spread over a year, in SQL (a recursive CTE: a million rows in about a minute,
full-text index included), then times what users run against it, each as a new process
like a user would: ``ereputation mentions --brand X --since 7d``, ``ereputation digest``
(build and print today's digest), with their peak memory, and full-text searches (FTS5,
in-process) in three forms.
Article ids grow with time, as in a real archive.  Medians of ``--runs``.  ``--keep DIR``
keeps the database there and reuses it on the next run (for profiling).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from corpus import BRANDS_YAML
from scale import Measure  # each command as its own process: wall time and peak memory

from ereputation.store import open_database

REPO = Path(__file__).resolve().parent.parent
WORDS = (
    "panne réseau tarif service client offre lancement grève enquête résultats usagers "
    "excellent retard fibre mobile agence Casablanca Rabat Tanger facture promotion"
).split()

FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO articles (id, url, source_id, outlet, guid, title, summary, content,
                      published_at, fetched_at, language, content_hash)
SELECT i, 'https://site' || (i % 500) || '.example.com/a/' || i, 1 + i % 50,
       'site' || (i % 500) || '.example.com', 'g' || i,
       'Article ' || i || ' ' || word(i) || ' ' || word(i / 7) || ' ' || word(i / 13),
       'Résumé ' || word(i / 3) || ' ' || word(i / 11) || ' ' || word(i / 17) || ' numéro ' || i,
       '',
       strftime('%Y-%m-%dT%H:%M:%S+00:00', :now - ((:count - i) * 31536000 / :count), 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', :now - ((:count - i) * 31536000 / :count), 'unixepoch'),
       CASE i % 5 WHEN 0 THEN 'ar' WHEN 1 THEN 'en' ELSE 'fr' END, hex(i)
FROM n;
"""
MENTIONS = """
INSERT INTO mentions (article_id, brand, matched, snippet, sentiment, label, owned,
                      mentioned_at, found_at)
SELECT id, CASE id % 3 WHEN 0 THEN 'Atlas Télécom' WHEN 1 THEN 'Banque Zellige' ELSE 'Orange' END,
       'x', substr(summary, 1, 200), ((id % 21) - 10) / 10.0,
       CASE WHEN id % 21 < 7 THEN 'negative' WHEN id % 21 > 13 THEN 'positive' ELSE 'neutral' END,
       id % 17 = 0, published_at, fetched_at
FROM articles;
"""


# The forms of a full-text search (docs/schema.md): the fast one limits inside the FTS query
# (FTS5 walks its index by rowid, newest first, and stops at 50); sorting every match by date
# or by rank reads all of them (225,000 for "panne" over 1 M articles).
FULL_TEXT = {
    "newest first (rowid)": (
        "SELECT a.id, a.title, a.url FROM articles a JOIN "
        "(SELECT rowid AS id FROM articles_fts WHERE articles_fts MATCH ? "
        "ORDER BY rowid DESC LIMIT 50) AS f ON f.id = a.id ORDER BY a.id DESC"
    ),
    "by published_at": (
        "SELECT a.id, a.title, a.url FROM articles a WHERE a.id IN "
        "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?) "
        "ORDER BY a.published_at DESC LIMIT 50"
    ),
    "best match (rank)": (
        "SELECT a.id, a.title, a.url FROM articles a JOIN "
        "(SELECT rowid AS id, rank FROM articles_fts WHERE articles_fts MATCH ? "
        "ORDER BY rank LIMIT 50) AS f ON f.id = a.id ORDER BY f.rank"
    ),
}


def fill(database: Path, count: int) -> float:
    start = time.perf_counter()
    db = open_database(database)
    conn = db.conn
    conn.create_function("word", 1, lambda i: WORDS[int(i) % len(WORDS)], deterministic=True)
    with conn:
        conn.executemany(
            "INSERT INTO sources (id, url, name, kind) VALUES (?, ?, ?, 'feed')",
            [(i, f"https://feeds.example.com/{i}.xml", f"feed {i}") for i in range(1, 51)],
        )
        conn.execute(FILL, {"count": count, "now": int(time.time())})
        conn.execute(MENTIONS)
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the database in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ereputation-archive-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "feeds.yaml"
        config.write_text(
            f"database: archive.db\n{BRANDS_YAML}"
            "sources:\n  - {name: feed 1, url: 'https://feeds.example.com/1.xml'}\n"
            "email: {outbox: outbox}\n",
            encoding="utf-8",
        )
        if not (folder / "archive.db").exists():
            seconds = fill(folder / "archive.db", args.mentions)
            size = (folder / "archive.db").stat().st_size / 2**20
            print(f"filled {args.mentions:,} articles and mentions in {seconds:.1f} s "
                  f"({size:.0f} MB)")  # fmt: skip
        else:
            open_database(folder / "archive.db").conn.close()  # migrations of the current code
        env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        cli = [sys.executable, "-m", "ereputation.cli"]
        today = datetime.now(UTC).date().isoformat()
        startup = [Measure.of([*cli, "--version"], folder, env).wall for _ in range(args.runs)]
        checks = {
            "mentions --brand --since 7d": [*cli, "mentions", "-c", str(config), "--brand",
                                            "Banque Zellige", "--since", "7d"],
            "digest (build and print)": [*cli, "digest", "-c", str(config), "--date", today],
        }  # fmt: skip
        print(f"{'':34} {'median s':>9} {'peak MB':>8}  "
              f"(startup: {statistics.median(startup):.2f} s)")  # fmt: skip
        for name, command in checks.items():
            runs = [Measure.of(command, folder, env) for _ in range(args.runs)]
            seconds = statistics.median(run.wall for run in runs)
            print(f"{name:34} {seconds:9.3f} {max(run.peak_mb for run in runs):8.1f}")
        db = open_database(folder / "archive.db")
        for name, sql in FULL_TEXT.items():
            for query in ("panne", "fibre AND Casablanca", '"service client"'):
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    rows = db.execute(sql, [query]).fetchall()
                    times.append(time.perf_counter() - start)
                label = f"full-text {name}: {query}"
                print(f"{label:54} {statistics.median(times):9.4f}  ({len(rows)} rows)")


if __name__ == "__main__":
    main()
