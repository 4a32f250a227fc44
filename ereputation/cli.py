"""The ``ereputation`` command: each verb parses its options and calls one library function.

Library errors (``EreputationError``) become ``Error: …`` plus a hint on stderr and a
non-zero exit (2 for configuration problems); tracebacks are for bugs only.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .errors import EreputationError

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    metavar="PATH",
    help="feeds.yaml to use (default: ./feeds.yaml, then $EREPUTATION_CONFIG).",
)


def _setup_logging(verbose: bool) -> None:
    level = os.environ.get("EREPUTATION_LOG_LEVEL", "DEBUG" if verbose else "INFO").upper()
    # Under systemd, journald stamps each line itself.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(stream=sys.stderr, level=level, format=fmt, force=True)
    for noisy in (
        "apscheduler",
        "trafilatura",
        "htmldate",
        "charset_normalizer",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _errors_to_exit(func: F) -> F:
    """Turn library errors into ``Error: …`` and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EreputationError as err:
            click.echo(f"Error: {err}", err=True)
            if err.hint:
                click.echo(f"Hint: {err.hint}", err=True)
            sys.exit(err.exit_code)

    return wrapper  # type: ignore[return-value]


def _load(config_path: str | None):  # -> Config
    from .config import find_config_path, load_config

    return load_config(find_config_path(config_path))


@click.group()
@click.version_option(__version__, prog_name="ereputation")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Monitor what others say about your brands in French, English and Arabic news."""
    _setup_logging(verbose)
    from .malloc_tuning import tune_malloc

    tune_malloc()


@main.command()
@config_option
@click.option("--once", is_flag=True, help="Run one full cycle (poll, detect, alert) and exit.")
@_errors_to_exit
def run(config_path: str | None, once: bool) -> None:
    """Run the daemon until SIGTERM (or one cycle with --once)."""
    from .config import find_config_path, load_config
    from .cycle import run_once

    path = find_config_path(config_path)
    config = load_config(path)
    if once:
        report = run_once(config)
        click.echo(report.summary())
        for name, error in report.errors:
            click.echo(f"  {name}: {error}", err=True)
        return
    from .daemon import Daemon  # APScheduler: the daemon only, not --once

    Daemon(path, config).run()


@main.command()
@config_option
@_errors_to_exit
def check(config_path: str | None) -> None:
    """Validate the configuration and print every problem (exit 2 when any)."""
    config = _load(config_path)
    click.echo(
        f"OK: {len(config.brands)} brands, {len(config.sources)} sources, "
        f"database {config.database}"
    )
    smtp = config.email.smtp_host
    click.echo(f"mail: {'SMTP ' + smtp if smtp else 'outbox ' + str(config.email.outbox)}")


class _Utf8Text(click.ParamType):
    """Text given on the command line, read as UTF-8 whatever the locale: bytes that are not
    UTF-8 reach Python as lone surrogates, which SQLite and UTF-8 output refuse; they become
    U+FFFD, as on standard input."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return os.fsencode(value).decode("utf-8", "replace") if isinstance(value, str) else value


_TEXT = _Utf8Text()


@main.command()
@config_option
@click.argument("text", type=_TEXT)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_errors_to_exit
def analyze(config_path: str | None, text: str, as_json: bool) -> None:
    """Show language, brands matched (and why), snippet and sentiment of TEXT ('-': stdin)."""
    from .analyze import analyze_text
    from .match import BrandMatcher

    matcher = BrandMatcher(_load(config_path).brands)
    texts = _stdin_lines() if text == "-" else iter([text])
    if as_json:
        # One object for every input line, blank ones too (no language, no brand), so that
        # line n of the output answers line n of the input: `paste`, a checker.  In UTF-8
        # whatever the locale says, as JSON exchanged between programs must be (RFC 8259).
        out = sys.stdout.buffer
        for one in texts:
            out.write(json.dumps(analyze_text(one, matcher), ensure_ascii=False).encode() + b"\n")
        out.flush()
        return
    for one in texts:
        if not one.strip():
            continue
        result = analyze_text(one, matcher)
        click.echo(f"language:  {result.get('language')}")
        click.echo(f"brands:    {', '.join(result.get('brands') or []) or '-'}")
        for match in result.get("matches") or []:
            click.echo(
                f"  {match['brand']}: '{match['matched']}' at {match['start']}-{match['end']}"
                f" (term '{match['term']}')"
            )
        click.echo(f"snippet:   {result.get('snippet') or '-'}")
        label = result.get("label")
        score = result.get("sentiment")
        click.echo(
            f"sentiment: {label or 'unscored'}" + (f" ({score:+.2f})" if score is not None else "")
        )
        for figure in result.get("figures") or []:
            click.echo(f"  {figure['figure']} {figure['movement']}: {figure['value']:+.1f}")
        if text == "-":
            click.echo("")


def _stdin_lines() -> Iterator[str]:
    """Standard input's lines as UTF-8, whatever the locale says: a byte-order mark at the start
    (files saved on Windows) is dropped, and a byte that is not UTF-8 becomes U+FFFD instead of
    ending the run with the lines after it unanswered."""
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace")
    return (line.rstrip("\n") for line in stream)


@main.command()
@config_option
@click.option(
    "--date",
    "day",
    metavar="YYYY-MM-DD",
    help="A past day whose digest to rebuild (default: today's, covering what was found "
    "since the last digest).",
)
@click.option("--send", is_flag=True, help="Send it (SMTP, or the outbox with no SMTP).")
@click.option("--dry-run", is_flag=True, help="Print it and write the .eml, send nothing.")
@_errors_to_exit
def digest(config_path: str | None, day: str | None, send: bool, dry_run: bool) -> None:
    """Build the digest of a day; print it, write it (--dry-run) or send it (--send)."""
    from .delivery import digest_command

    config = _load(config_path)
    when = _parse_day(day) if day else None
    for line in digest_command(config, when, send=send and not dry_run, dry_run=dry_run):
        click.echo(line)


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EreputationError(
            f"--date {text!r} is not a date", hint="write it as YYYY-MM-DD"
        ) from None


def _parse_since(text: str) -> datetime:
    from .config import parse_duration

    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise EreputationError(
            f"--since {text!r} is neither a duration nor a date",
            hint="use e.g. 7d, 12h or 2026-11-01",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@main.command()
@config_option
@click.option("--brand", type=_TEXT, help="Only this brand.")
@click.option("--since", default="7d", show_default=True, help="A duration (7d) or a date.")
@click.option(
    "--sentiment", type=click.Choice(["positive", "negative", "neutral", "unscored"]),
    help="Only this label.",
)  # fmt: skip
@click.option("--source", type=_TEXT, help="Only articles found through this source (name).")
@click.option("--owned/--third-party", default=None, help="Only owned, or only third-party.")
@click.option("--limit", default=100, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True,
)  # fmt: skip
@_errors_to_exit
def mentions(
    config_path: str | None, brand: str | None, since: str, sentiment: str | None,
    source: str | None, owned: bool | None, limit: int, fmt: str,
) -> None:  # fmt: skip
    """Recent mentions, newest first."""
    from .listing import print_rows
    from .store import open_database
    from .store.listing import list_mentions

    config = _load(config_path)
    db = open_database(config.database)
    rows = list_mentions(
        db, brand=brand, since=_parse_since(since), label=sentiment, source=source,
        owned=owned, limit=limit,
    )  # fmt: skip
    print_rows(rows, fmt)


@main.command()
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True,
)  # fmt: skip
@_errors_to_exit
def sources(config_path: str | None, fmt: str) -> None:
    """Each source's health: last success, last error, failures, items, mentions."""
    from .listing import print_rows
    from .store import open_database
    from .store.listing import source_health

    config = _load(config_path)
    db = open_database(config.database)
    print_rows(source_health(db, [s.url for s in config.sources]), fmt)


@main.command()
@click.option("--dir", "directory", metavar="PATH", help="Work here instead of a temp folder.")
@_errors_to_exit
def demo(directory: str | None) -> None:
    """Serve bundled sample feeds on 127.0.0.1, run a cycle and write a digest to an outbox."""
    from .demo import run_demo

    for line in run_demo(Path(directory) if directory else None):
        click.echo(line)


if __name__ == "__main__":  # pragma: no cover
    main()
