"""Idempotent digest sending: one digest per local day and recipient, covering everything found
since the previous one, even across restarts, downtime and mail failures.

The rule (docs/digest.md says the same for users):

- A digest is dated by the local day it is sent on (``digests.date``); there is one per day and
  recipient (``UNIQUE(date, recipient)``), so it is sent once per day even across restarts.
- It covers the mentions **found** (``mentions.found_at``) in its window ``[start, end)``:
  ``start`` is the end of the previous *sent* digest's window for that recipient (for a
  recipient's first digest, 24 h before ``end``), ``end`` is the moment it is built.  The
  window is stored in ``digests.period_start`` / ``period_end``.  A failed send that is retried
  later is rebuilt with a later end (its content grows; nothing is lost).  So every mention
  appears in exactly one digest per recipient, whatever its publication date, however late it
  was fetched, however long the service was down.
- The daemon calls ``send_due_digests`` every tick: today's digest goes out once the local time
  has passed ``digest.at`` and it was not sent today.  After downtime it is therefore sent when
  the service returns and covers everything since the last one; there is no catch-up of older
  days.  A digest that failed and could not be sent before midnight stays ``failed`` in the
  table: the next day's digest starts where the last *sent* one ended, so it carries its
  mentions.
- ``ereputation digest --send`` sends today's digest now (without waiting for ``digest.at``)
  through the same ledger, so the scheduled one later that day says already sent.

The ledger: a row per (date, recipient) is claimed (``pending``) before sending and marked
``sent`` only after the mail server accepted the message (or the .eml landed in the outbox).  A
failure marks it ``failed`` with ``attempts``, ``last_error`` and the time of the next attempt
(exponential backoff), so the daemon retries without sleeping and never sends twice.  A retried
message keeps its Message-ID, so in the rare case a server accepted a message but the process
died before recording it, mail clients can drop the copy.

Known limit: windows are by ``found_at``, which the pipeline stamps with the poll's time.  A
``digest --send`` run from the shell while the daemon is in the middle of recording a poll may
be built just before mentions stamped a little earlier are committed; those would miss the
window.  The daemon itself polls and sends on one thread, one after the other.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .config import Config, EmailSettings
from .digest import Digest, Window, build_digest
from .errors import EreputationError, MailError
from .mail import compose_message, deliver, stable_message_id, write_outbox
from .store import open_database, queries

if TYPE_CHECKING:
    from .store import Database

log = logging.getLogger(__name__)

FIRST_WINDOW = timedelta(hours=24)  # what a recipient's first digest covers
OUTBOX_RECIPIENT = "outbox"  # the ledger's recipient when digest.to is empty


@dataclass(frozen=True)
class DigestResult:
    """What happened to the digest of one (day, recipient)."""

    date: date
    recipient: str
    status: str  # sent | failed | already_sent | waiting (backoff not elapsed)
    where: str | None = None  # smtp://host:port or the .eml path, when sent now
    error: str | None = None
    window: Window | None = None  # what it covered (sent) or would have covered (failed)
    mentions: int | None = None  # how many mentions that window held


def retry_delay(attempts: int) -> timedelta:
    """Backoff after ``attempts`` failures: 1, 2, 4 … minutes, at most one hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def email_settings(config: Config) -> EmailSettings:
    """``config.email`` with a relative outbox resolved against the config file's folder."""
    outbox = config.email.outbox
    if not outbox.is_absolute():
        outbox = config.path.parent / outbox
    return dataclasses.replace(config.email, outbox=outbox)


def recipients_of(config: Config) -> tuple[str, ...]:
    return config.digest.to or (OUTBOX_RECIPIENT,)


def digest_time(config: Config) -> time:
    hours, _, minutes = config.digest.at.partition(":")
    return time(int(hours), int(minutes or 0))


def local_day(config: Config, now: datetime) -> date:
    """The local day (``config.timezone``) of ``now``: the date a digest sent now carries."""
    return now.astimezone(ZoneInfo(config.timezone)).date()


def is_due(config: Config, now: datetime) -> bool:
    """Whether today's digest is due at ``now``: the local time has reached ``digest.at``."""
    return now.astimezone(ZoneInfo(config.timezone)).time() >= digest_time(config)


def next_window(db: Database, recipient: str, now: datetime, *, before: date) -> Window:
    """The window of a digest for ``recipient`` built at ``now``.

    It starts where the last digest sent to ``recipient`` on a day before ``before`` ended; for
    a first digest, ``FIRST_WINDOW`` before its end, or earlier where a failed first attempt
    started.  It ends at ``now`` rounded up to the second.
    """
    # Stored timestamps are whole seconds (truncated): a mention found earlier within the
    # second the digest is built is stored as that second, so the window ends at the next one.
    end = now if not now.microsecond else now.replace(microsecond=0) + timedelta(seconds=1)
    start = queries.previous_digest_end(db, recipient, before.isoformat())
    if start is None:
        # A first digest: the last 24 h, or more if earlier first attempts all failed.
        failed = queries.first_unsent_start(db, recipient)
        start = min(end - FIRST_WINDOW, failed) if failed else end - FIRST_WINDOW
    return Window(start, end)


def stored_window(db: Database, day: date) -> Window | None:
    """The window recorded for a digest dated ``day`` (a sent one first), if any."""
    for row in queries.digests_of_day(db, day.isoformat()):
        if row.get("period_start") and row.get("period_end"):
            return Window(
                queries.parse_ts(row["period_start"]), queries.parse_ts(row["period_end"])
            )
    return None


def past_window(config: Config, db: Database, day: date) -> Window:
    """The window of the digest dated ``day``: the stored one if any, else the 24 h ending at
    ``digest.at`` on ``day``."""
    stored = stored_window(db, day)
    if stored is not None:
        return stored
    end = datetime.combine(day, digest_time(config), tzinfo=ZoneInfo(config.timezone))
    return Window(end - FIRST_WINDOW, end)


def _digest_message(
    email: EmailSettings,
    digest: Digest,
    recipients: Sequence[str],
    now: datetime,
    *,
    message_id: str | None = None,
) -> EmailMessage:
    """The mail of ``digest`` (text and HTML), as sent and as written by ``--dry-run``."""
    return compose_message(
        sender=email.sender,
        recipients=recipients,
        subject=digest.subject,
        text=digest.text,
        html=digest.html,
        brands=[brand.name for brand in digest.brands],
        kind="digest",
        date=now,
        message_id=message_id,
    )


def send_digest(
    config: Config,
    db: Database,
    now: datetime,
    *,
    respect_backoff: bool = False,
) -> list[DigestResult]:
    """Send today's digest (local day of ``now``) to every recipient that has not received it.

    Each recipient's digest covers its own window (``next_window``), built at ``now``.  The
    path ``ereputation digest --send`` uses (``respect_backoff=False``: try now, whatever the
    hour).  Returns one result per recipient; never raises ``MailError`` (failures are recorded).
    """
    email = email_settings(config)
    day = local_day(config, now)
    built: dict[Window, Digest] = {}
    results = []
    for recipient in recipients_of(config):
        row = queries.claim_digest(
            db,
            day=day.isoformat(),
            recipient=recipient,
            language=config.digest.language,
            built_at=now,
            message_id=stable_message_id("digest", day.isoformat(), recipient, sender=email.sender),
        )
        if row["status"] == "sent":
            results.append(DigestResult(day, recipient, "already_sent"))
            continue
        next_attempt = row.get("next_attempt_at")
        if respect_backoff and next_attempt and queries.parse_ts(next_attempt) > now:
            results.append(DigestResult(day, recipient, "waiting", error=row.get("last_error")))
            continue
        window = next_window(db, recipient, now, before=day)
        if window not in built:
            built[window] = build_digest(config, db, day, window)
        digest = built[window]
        to = () if recipient == OUTBOX_RECIPIENT else (recipient,)
        message = _digest_message(email, digest, to, now, message_id=row["message_id"])
        try:
            where = deliver(message, email, to)
        except MailError as err:
            attempts = int(row["attempts"]) + 1
            queries.mark_digest_failed(
                db, row["id"], str(err), now + retry_delay(attempts), window.start, window.end
            )
            log.warning(
                "digest of %s to %s not sent (attempt %d): %s", day, recipient, attempts, err
            )
            results.append(
                DigestResult(
                    day,
                    recipient,
                    "failed",
                    error=str(err),
                    window=window,
                    mentions=digest.mention_count,
                )  # fmt: skip
            )
            continue
        queries.mark_digest_sent(db, row["id"], now, window.start, window.end)
        log.info(
            "digest of %s sent to %s via %s: %d mentions found since %s",
            day, recipient, where, digest.mention_count, queries.format_ts(window.start),
        )  # fmt: skip
        results.append(
            DigestResult(
                day, recipient, "sent", where=where, window=window, mentions=digest.mention_count
            )
        )
    return results


def send_due_digests(config: Config, db: Database, now: datetime) -> list[DigestResult]:
    """Send today's digest if it is due at ``now`` and not sent yet; safe to call any time.

    Due: the local time has reached ``digest.at``.  Recipients whose last attempt failed are
    retried once their backoff has elapsed.  Returns [] before ``digest.at``.  The daemon calls
    this every tick, so a digest missed while the service was down goes out when it returns.
    """
    if not is_due(config, now):
        return []
    return send_digest(config, db, now, respect_backoff=True)


def _report(result: DigestResult, tz: ZoneInfo) -> str:
    line = f"digest of {result.date} to {result.recipient}: {result.status}"
    if result.where:
        line += f" via {result.where}"
    if result.error:
        line += f": {result.error}"
    if result.status == "sent" and result.window is not None:
        since = result.window.start.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        plural = "" if result.mentions == 1 else "s"
        line += f" ({result.mentions} mention{plural} found since {since})"
    return line


def digest_command(
    config: Config,
    day: date | None,
    *,
    send: bool = False,
    dry_run: bool = False,
    db: Database | None = None,
    now: datetime | None = None,
) -> Iterator[str]:
    """What ``ereputation digest`` prints, line by line.

    - no ``day`` (or today): today's digest, covering what was found since the last digest sent
      (or the last 24 h) up to ``now``.  With ``send`` it is sent now through the ledger
      (``send_digest``: never twice a day; the daemon's later one says already sent);
      otherwise its plain text is printed;
    - ``day`` in the past: the digest sent that day rebuilt from its stored window, or the 24 h
      ending at that day's ``digest.at``; printed only (a past digest is never sent).  ``day``
      = today once today's digest was sent (without ``send``): that digest, rebuilt;
    - ``dry_run``: the text is printed and the message written to ``<outbox>/dry-run/`` (path
      reported); nothing is sent and the ledger is untouched.
    Raises ``EreputationError`` for a day in the future or ``--send`` with a past day, and
    ``MailError`` (after the report lines) when a recipient could not be served.
    """
    now = now or datetime.now(UTC)
    db = db if db is not None else open_database(config.database)
    tz = ZoneInfo(config.timezone)
    today = local_day(config, now)
    if day is not None and day > today:
        raise EreputationError(
            f"the digest of {day} does not exist yet (today is {today})",
            hint="leave out --date for today's digest",
        )
    past = day is not None and day < today
    if send and not dry_run:
        if past:
            raise EreputationError(
                f"{day} is in the past: `--send` only sends today's digest",
                hint=f"print it with `--date {day}`, or write it as .eml with `--dry-run`",
            )
        results = send_digest(config, db, now)
        for result in results:
            yield _report(result, tz)
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise MailError(
                f"{len(failed)} digest(s) not delivered; recorded for retry",
                hint="check `email:` in feeds.yaml; the daemon retries with backoff",
            )
        return
    if day is not None and past:
        window = past_window(config, db, day)
    elif day is not None and (sent_today := stored_window(db, day)) is not None:
        window = sent_today  # `--date <today>` after today's digest went out: that one
    else:
        # What would be sent now: from the last digest anyone received (today's included).
        tomorrow = today + timedelta(days=1)
        window = min(
            (next_window(db, r, now, before=tomorrow) for r in recipients_of(config)),
            key=lambda w: w.start,
        )
    built = build_digest(config, db, day or today, window)
    yield built.text.rstrip("\n")
    if dry_run:
        email = email_settings(config)
        message = _digest_message(email, built, config.digest.to, now)
        path = write_outbox(message, email.outbox / "dry-run")
        yield ""
        yield f"dry run: nothing sent; message written to {path}"
