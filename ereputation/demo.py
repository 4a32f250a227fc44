"""``ereputation demo``: the whole path on bundled sample feeds, with nothing to configure.

It serves fictitious French, English and Arabic feeds on 127.0.0.1 (publication dates
relative to now, one feed broken on purpose), writes a feeds.yaml for them in a work folder,
runs one cycle through the same code as ``run --once``, then writes the day's digest to the
outbox, and says where everything is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from tempfile import mkdtemp
from typing import Any
from xml.sax.saxutils import escape

BRANDS_YAML = """\
brands:
  - name: Atlas Télécom
    aliases: [Atlas Telecom, اتصالات الأطلس]
    exclude: [Atlas Mountains]
    owned: [atlastelecom.example]
  - name: Banque Zellige
    aliases: [Zellige Bank, بنك الزليج]
"""


def load_articles() -> dict[str, Any]:
    text = resources.files("ereputation").joinpath("demo_feeds/articles.json").read_text("utf-8")
    return json.loads(text)


def render_feed(feed: dict[str, Any], now: datetime) -> bytes:
    """The feed as RSS 2.0 or Atom, dates placed relative to ``now``."""
    if feed["format"] == "atom":
        entries = "".join(
            f"<entry><id>urn:demo:{escape(item['id'])}</id>"
            f"<title>{escape(item['title'])}</title>"
            f'<link href="{escape(item["link"])}"/>'
            f"<updated>{(now - timedelta(hours=item['hours_ago'])).isoformat()}</updated>"
            f"<summary>{escape(item['summary'])}</summary></entry>"
            for item in feed["items"]
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed["language"]}">'
            f"<title>{escape(feed['title'])}</title><id>urn:demo:{escape(feed['path'])}</id>"
            f"<updated>{now.isoformat()}</updated>{entries}</feed>"
        ).encode()
    items = "".join(
        f'<item><guid isPermaLink="false">{escape(item["id"])}</guid>'
        f"<title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
        f"<pubDate>{format_datetime(now - timedelta(hours=item['hours_ago']))}</pubDate>"
        f"<description>{escape(item['summary'])}</description></item>"
        for item in feed["items"]
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(feed['title'])}</title><link>https://example.invalid/</link>"
        f"<language>{feed['language']}</language>{items}</channel></rss>"
    ).encode()


class DemoServer:
    """The sample feeds on 127.0.0.1, on a free port, in a background thread."""

    def __init__(self, now: datetime | None = None) -> None:
        data = load_articles()
        now = now or datetime.now(UTC)
        self.documents = {feed["path"]: render_feed(feed, now) for feed in data["feeds"]}
        self.documents[data["broken"]] = b"<rss><channel><item><title>unterminated"
        self.titles = {feed["path"]: feed["title"] for feed in data["feeds"]}
        self.broken = data["broken"]
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DemoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def config_yaml(self, language: str = "fr") -> str:
        lines = [
            "# Written by `ereputation demo`: the bundled sample feeds served on 127.0.0.1.",
            "database: ereputation.db",
            "timezone: Africa/Casablanca",
            BRANDS_YAML.rstrip(),
            "sources:",
        ]
        for path, title in self.titles.items():
            lines.append(f"  - {{name: {json.dumps(title, ensure_ascii=False)}, "
                         f"url: {self.base}{path}, full_text: never}}")  # fmt: skip
        lines.append(f"  - {{name: Broken feed, url: {self.base}{self.broken}}}")
        lines += [
            "poll_every: 15m",
            "fetch:  # every sample feed is on the same loopback host: no politeness delay",
            "  host_delay: 0",
            "  per_host: 8",
            "digest:",
            '  at: "08:00"',
            f"  language: {language}",
            "  to: [com@example.invalid]",
            "email:",
            "  outbox: outbox",
            "",
        ]
        return "\n".join(lines)


def run_demo(directory: Path | None = None) -> Iterator[str]:
    """Run the demo in ``directory`` (a new temp folder by default); yields lines to print."""
    from .config import load_config
    from .cycle import run_once
    from .delivery import digest_command

    work = directory or Path(mkdtemp(prefix="ereputation-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    with DemoServer() as server:
        config_path = work / "feeds.yaml"
        config_path.write_text(server.config_yaml(), encoding="utf-8")
        config = load_config(config_path)
        yield f"Serving {len(server.documents)} sample feeds on {server.base}"
        report = run_once(config)
        yield f"Cycle: {report.summary()}"
        for name, error in report.errors:
            expected = " (expected: this sample feed is broken on purpose)"
            yield f"  {name}: {error}{expected if name == 'Broken feed' else ''}"
        yield from digest_command(config, None, send=True, dry_run=False)
    yield ""
    yield f"Work folder: {work}"
    yield f"  configuration: {config_path}"
    yield f"  database:      {config.database}"
    yield f"  outbox:        {config.email.outbox}"
    yield "Try:"
    yield f"  ereputation mentions -c {config_path} --since 30d"
    yield f"  ereputation sources -c {config_path}"
    yield f"  sqlite3 {config.database} 'SELECT * FROM mentions_daily'"
