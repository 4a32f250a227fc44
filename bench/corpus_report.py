"""Every file of the shared hostile/broken corpus through fetch → extract → match → store → digest.

Run from the repository root:  python bench/corpus_report.py [--shared ../shared] [--keep DIR]

Each corpus file is served by a loopback HTTP server (127.0.0.1 only) as one feed source; all
of them are polled in one real cycle (``run_cycle``) into a real SQLite file, then every stored
mention is rendered through the digest template.  Besides the corpus files, the XML bombs and
external-entity attacks are also wrapped inside RSS and Atom (generated here, not copied), with
external entities aimed at a secret file and at the server's ``/xxe`` path, which records
whether anything ever asked for it.

A file's outcome is read back from ``sources``: *handled* (the poll succeeded, whatever it
held), *rejected* (``last_error`` is a clear one-line reason), *crash* (no outcome, an
``internal error``, or a multi-line error).  ``tests/test_corpus.py`` runs the same harness and
asserts what this script only prints.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ereputation.config import Brand, Config, FetchSettings, Source  # noqa: E402
from ereputation.digest import (  # noqa: E402
    Window,
    build_digest,
    render_digest,
    summarize_brand,
)
from ereputation.pipeline import run_cycle  # noqa: E402
from ereputation.store import open_database, queries  # noqa: E402

FOLDERS = ("feedparser-tests", "feed-suites", "real-feeds", "hostile")
# Common words of the corpus, so that text from the web really flows into the digest; "alert"
# and "script" catch the XSS payloads' own text.
BRANDS = ("Python", "BBC", "Example", "Google", "alert", "script", "Maroc", "Paris")
SECRET = "ereputation-secret-7f3c1e"  # written to a local file that XXE payloads point at
MAX_ERROR_LENGTH = 500


@dataclass
class Served:
    """What the loopback server serves (path → body) and which paths were asked for."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    base: str = ""


@contextmanager
def serve(served: Served) -> Iterator[Served]:
    """A threaded HTTP server on 127.0.0.1 serving ``served.bodies``; records every path."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            served.hits[self.path] += 1
            body = served.bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            body = body if body is not None else b"not found"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def corpus_files(shared: Path) -> list[Path]:
    """Every file under the four corpus folders, in a stable order."""
    root = shared / "corpus"
    return [p for folder in FOLDERS for p in sorted((root / folder).rglob("*")) if p.is_file()]


def rss(payload: str, dtd: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{dtd}\n]>\n<rss version="2.0"><channel>'
        f"<title>Python news</title><link>http://127.0.0.1/</link><item><title>Python "
        f"{payload}</title><link>http://127.0.0.1/a</link><description>Python {payload} "
        f"</description></item></channel></rss>"
    ).encode()


def atom(payload: str, dtd: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE feed [\n{dtd}\n]>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Python {payload}</title>'
        f"<id>urn:x</id><updated>2024-01-01T00:00:00Z</updated><entry><id>urn:e</id>"
        f"<title>Python {payload}</title><updated>2024-01-01T00:00:00Z</updated>"
        f'<link href="http://127.0.0.1/e"/><content type="html">Python {payload}</content>'
        f"</entry></feed>"
    ).encode()


def wrapped_attacks(xxe_url: str, secret_file: Path) -> dict[str, bytes]:
    """XML bombs and external entities inside RSS and Atom: name → feed bytes."""
    laughs = '<!ENTITY a0 "dos">' + "".join(
        f'<!ENTITY a{n} "{("&a" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    )
    attacks = {
        "billion-laughs": (laughs, "&a9;"),
        "quadratic": (f'<!ENTITY a "{"B" * 50_000}">', "&a;" * 5_000),
        "xxe-secret": (f'<!ENTITY x SYSTEM "file://{secret_file}">', "&x;"),
        "xxe-passwd": ('<!ENTITY x SYSTEM "file:///etc/passwd">', "&x;"),
        "xxe-http": (f'<!ENTITY x SYSTEM "{xxe_url}">', "&x;"),
        "xxe-parameter": (f'<!ENTITY % p SYSTEM "{xxe_url}-dtd"> %p;', "&x;"),
    }
    feeds = {}
    for name, (dtd, payload) in attacks.items():
        feeds[f"wrapped/{name}.rss"] = rss(payload, dtd)
        feeds[f"wrapped/{name}.atom"] = atom(payload, dtd)
    return feeds


@dataclass
class CorpusRun:
    """Outcome of one corpus run: per file, and the digest HTML pages rendered."""

    outcomes: dict[str, str]  # name → "ok" | "rejected: …" | "crash: …"
    mentions: int
    digest_pages: list[str]
    seconds: float
    xxe_hits: int
    secret_in_database: bool
    passwd_in_database: bool

    def counts(self) -> Counter[str]:
        return Counter(outcome.split(":")[0] for outcome in self.outcomes.values())


def classify(last_ok_at: str | None, last_error: str | None) -> str:
    """ok, rejected with a clear one-line reason, or crash (the pipeline's own bug)."""
    if last_error is None:
        return "ok" if last_ok_at else "crash: never polled"
    if (
        last_error.startswith("internal error")
        or "\n" in last_error
        or len(last_error) > MAX_ERROR_LENGTH
        or "Traceback" in last_error
    ):
        return f"crash: {last_error[:300]}"
    return f"rejected: {last_error}"


def run_corpus(bodies: dict[str, bytes], workdir: Path, secret_file: Path) -> CorpusRun:
    """Serve ``bodies`` (name → bytes) plus the wrapped attacks, poll them all, render digests."""
    served = Served()
    with serve(served):
        xxe_path = "/xxe"
        feeds = dict(bodies)
        feeds.update(wrapped_attacks(served.base + xxe_path, secret_file))
        names = {}
        for index, name in enumerate(feeds):
            path = f"/feed/{index}"
            served.bodies[path] = feeds[name]
            names[served.base + path] = name
        config = Config(
            path=workdir / "feeds.yaml",
            database=workdir / "corpus.db",
            brands=tuple(Brand(name=name) for name in BRANDS),
            sources=tuple(
                Source(name=f"#{i} {names[url]}"[:200], url=url, full_text="never")
                for i, url in enumerate(names)
            ),
            fetch=FetchSettings(timeout=30, concurrency=8, per_host=8, host_delay=0.0),
        )
        db = open_database(config.database)
        since = datetime.now(UTC) - timedelta(seconds=1)
        started = time.monotonic()
        try:
            run_cycle(config, db)
            seconds = time.monotonic() - started
            rows = db.conn.execute("SELECT url, last_ok_at, last_error FROM sources").fetchall()
            outcomes = {names[url]: classify(ok_at, error) for url, ok_at, error in rows}
            pages = render_everything(config, db, since)
            mentions = db.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
            dump = "\n".join(db.conn.iterdump())
        finally:
            db.conn.close()
        xxe_hits = sum(n for path, n in served.hits.items() if path.startswith(xxe_path))
    # /etc/passwd lines that no served file contains (some corpus feeds quote a passwd file).
    served_text = b"\n".join(feeds.values())
    passwd = [
        line
        for line in Path("/etc/passwd").read_text(errors="replace").splitlines()
        if len(line) > 12 and line.encode() not in served_text
    ]
    return CorpusRun(
        outcomes=outcomes,
        mentions=mentions,
        digest_pages=pages,
        seconds=seconds,
        xxe_hits=xxe_hits,
        secret_in_database=SECRET in dump,
        passwd_in_database=any(line in dump for line in passwd),
    )


def render_everything(config: Config, db, since: datetime, chunk: int = 25) -> list[str]:  # noqa: ANN001
    """The digest HTML of the run (real ``build_digest``) plus every stored mention rendered.

    The digest lists 25 mentions per brand, so the mentions found since ``since`` are also
    rendered ``chunk`` at a time through the same template: every stored text is checked.
    """
    tz = ZoneInfo(config.timezone)
    today = datetime.now(tz).date()
    window = Window(since.replace(microsecond=0), datetime.now(UTC).replace(microsecond=0)
                    + timedelta(seconds=1))  # fmt: skip
    pages = [build_digest(config, db, today, window).html]
    rows = queries.mentions_found_between(db, window.start, window.end)
    for brand in BRANDS:
        mine = [row for row in rows if row["brand"] == brand]
        for first in range(0, len(mine), chunk):
            part = mine[first : first + chunk]
            stories = queries.story_articles(db, {r["story_id"] for r in part if r["story_id"]})
            summary = summarize_brand(brand, today, window, tz, part, part, [], stories, part, "fr")
            pages.append(render_digest(today, window, "fr", (summary,), tz).html)
    return pages


class _Audit(HTMLParser):
    """Collects what would be active in a mail client: scripts, handlers, link targets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "form", "base", "link", "svg"):
            self.problems.append(f"<{tag}> element")
        if tag == "meta" and any(n == "http-equiv" and (v or "").lower() == "refresh"
                                 for n, v in attrs):  # fmt: skip
            self.problems.append("<meta http-equiv=refresh>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"{name}= handler on <{tag}>")
            if name in ("href", "src", "action", "formaction", "background"):
                if name == "href":
                    self.hrefs.append(value)
                if not re.match(r"(?i)\s*https?://", value):
                    self.problems.append(f"{name}={value[:80]!r} on <{tag}>")
            if name == "style" and re.search(r"(?i)expression\(|url\(|javascript:", value):
                self.problems.append(f"active style {value[:80]!r}")


def audit_html(page: str) -> tuple[list[str], list[str]]:
    """(problems, hrefs) of a digest page: anything a mail client could run or follow."""
    parser = _Audit()
    parser.feed(page)
    parser.close()
    problems = list(parser.problems)
    if re.search(r"(?i)<script", page):
        problems.append("raw <script")
    return problems, parser.hrefs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    parser.add_argument("--keep", help="work in this folder (kept) instead of a temp one")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # one warning per rejected file otherwise
    files = corpus_files(Path(args.shared))
    root = Path(args.shared) / "corpus"
    bodies = {str(p.relative_to(root)): p.read_bytes() for p in files}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        secret_file = workdir / "secret.txt"
        secret_file.write_text(SECRET)
        result = run_corpus(bodies, workdir, secret_file)
    counts = result.counts()
    problems = [p for page in result.digest_pages for p in audit_html(page)[0]]
    by_folder: dict[str, Counter[str]] = {}
    for name, outcome in result.outcomes.items():
        folder = name.split("/")[0]
        by_folder.setdefault(folder, Counter())[outcome.split(":")[0]] += 1
    print(f"files tried: {len(result.outcomes)} ({len(files)} corpus files + wrapped attacks)")
    print(f"handled:     {counts['ok']}")
    print(f"rejected:    {counts['rejected']} (each with a one-line reason in sources.last_error)")
    print(f"crashes:     {counts['crash']}")
    for folder, tally in sorted(by_folder.items()):
        print(f"  {folder:<18} ok {tally['ok']:>5}  rejected {tally['rejected']:>5}  "
              f"crash {tally['crash']:>3}")  # fmt: skip
    reasons = Counter(
        re.sub(r"\d+", "N", o.removeprefix("rejected: "))[:70]
        for o in result.outcomes.values()
        if o.startswith("rejected")
    )
    print("most common rejection reasons:")
    for reason, count in reasons.most_common(8):
        print(f"  {count:>5}  {reason}")
    for name, outcome in sorted(result.outcomes.items()):
        if outcome.startswith("crash") or name.startswith("wrapped/"):
            print(f"  {name}: {outcome[:150]}")
    print(f"mentions stored: {result.mentions}; digest pages rendered: {len(result.digest_pages)}")
    print(f"unsafe things in digest HTML: {len(problems)}")
    print(f"external entity requests received: {result.xxe_hits}")
    print(f"secret file in database: {result.secret_in_database}")
    print(f"/etc/passwd in database: {result.passwd_in_database}")
    print(f"cycle time: {result.seconds:.1f} s")


if __name__ == "__main__":
    main()
