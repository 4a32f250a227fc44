"""Idempotent digest sending: one digest per local day and recipient, even across restarts.

The ``digests`` table is the ledger: a row per (date, recipient) is claimed (``pending``)
before sending and marked ``sent`` only after the mail server accepted the message (or the .eml
landed in the outbox).  A failure marks it ``failed`` with ``attempts``, ``last_error`` and the
time of the next attempt (exponential backoff), so the daemon retries without sleeping and
never sends twice.  A retried message keeps its Message-ID, so in the rare case a server
accepted a message but the process died before recording it, mail clients can drop the copy.

Which days are sent:
- the digest of day D covers local day D and is due at ``digest.at`` on D+1;
- ``send_due_digests`` sends the latest due day, and catches up ``CATCH_UP_DAYS`` earlier
  days that were never sent, if the service had already sent digests before (a fresh install
  does not mail the past);
- failed sends are retried for ``RETRY_DAYS`` after their day, then left ``failed`` in the
  table (never deleted).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from .config import Config, EmailSettings
from .digest import Digest, build_digest
from .errors import EreputationError, MailError
from .mail import compose_message, deliver, stable_message_id, write_outbox
from .store import open_database, queries

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 1  # earlier missed days sent on return, besides the latest due one
RETRY_DAYS = 7  # a failed digest is retried this many days after the day it covers
OUTBOX_RECIPIENT = "outbox"  # the ledger's recipient when digest.to is empty


@dataclass(frozen=True)
class DigestResult:
    """What happened to one (day, recipient)."""

    date: date
    recipient: str
    status: str  # sent | failed | already_sent | waiting (backoff not elapsed)
    where: str | None = None  # smtp://host:port or the .eml path, when sent now
    error: str | None = None


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


def latest_due_day(config: Config, now: datetime) -> date:
    """The latest local day whose digest is due at ``now`` (yesterday once ``digest.at`` passed)."""
    local = now.astimezone(ZoneInfo(config.timezone))
    yesterday = local.date() - timedelta(days=1)
    return yesterday if local.time() >= digest_time(config) else yesterday - timedelta(days=1)


def send_digest(
    config: Config,
    db: sqlite_utils.Database,
    day: date,
    now: datetime,
    *,
    respect_backoff: bool = False,
) -> list[DigestResult]:
    """Send the digest of ``day`` to every recipient that has not received it yet.

    The path ``ereputation digest --send`` uses (with ``respect_backoff=False``: try now).
    Returns one result per recipient; never raises ``MailError`` (failures are recorded).
    """
    email = email_settings(config)
    built: Digest | None = None
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
        if built is None:
            built = build_digest(config, db, day)
        to = () if recipient == OUTBOX_RECIPIENT else (recipient,)
        message = compose_message(
            sender=email.sender,
            recipients=to,
            subject=built.subject,
            text=built.text,
            html=built.html,
            brands=[brand.name for brand in built.brands],
            kind="digest",
            date=now,
            message_id=row["message_id"],
        )
        try:
            where = deliver(message, email, to)
        except MailError as err:
            attempts = int(row["attempts"]) + 1
            queries.mark_digest_failed(db, row["id"], str(err), now + retry_delay(attempts))
            log.warning(
                "digest of %s to %s not sent (attempt %d): %s", day, recipient, attempts, err
            )
            results.append(DigestResult(day, recipient, "failed", error=str(err)))
            continue
        queries.mark_digest_sent(db, row["id"], now)
        log.info("digest of %s sent to %s via %s", day, recipient, where)
        results.append(DigestResult(day, recipient, "sent", where=where))
    return results


def send_due_digests(
    config: Config, db: sqlite_utils.Database, now: datetime, *, force_day: date | None = None
) -> list[DigestResult]:
    """Send every digest due at ``now`` that no server accepted yet; safe to call any time.

    With ``force_day`` only that day is sent (ignoring backoff).  Otherwise: the latest due day,
    up to ``CATCH_UP_DAYS`` earlier unsent days when digests were sent before, and failed ones
    of the last ``RETRY_DAYS`` whose backoff elapsed.  Call it every few minutes from the
    daemon and once at start-up: a digest missed while the service was down goes out then.
    """
    if force_day is not None:
        return send_digest(config, db, force_day, now)
    latest = latest_due_day(config, now)
    days = {latest}
    first = queries.first_digest_day(db)
    if first is not None:
        # Only days after the first digest ever recorded: a fresh install never mails the past.
        days.update(
            day
            for day in (latest - timedelta(days=n) for n in range(1, CATCH_UP_DAYS + 1))
            if day.isoformat() > first
        )
    oldest = latest - timedelta(days=RETRY_DAYS)
    days.update(
        date.fromisoformat(row["date"])
        for row in queries.unsent_digests(db, oldest.isoformat())
        if date.fromisoformat(row["date"]) <= latest
    )
    results: list[DigestResult] = []
    for day in sorted(days):
        results.extend(send_digest(config, db, day, now, respect_backoff=True))
    return results


def digest_command(
    config: Config,
    day: date | None,
    *,
    send: bool = False,
    dry_run: bool = False,
    db: sqlite_utils.Database | None = None,
    now: datetime | None = None,
) -> Iterator[str]:
    """What ``ereputation digest`` prints, line by line.

    - no flag: the plain-text digest of ``day`` (default: today, local, so far);
    - ``dry_run``: the same, plus the message written to ``<outbox>/dry-run/`` (path reported);
      nothing is sent and the ledger is untouched;
    - ``send``: ``send_digest`` through the ledger, so it is never sent twice.  Without ``day``
      it sends the latest due day (what the daemon would send now).  A day that is not over
      is refused: marking it sent would stop the complete digest of that day later.
    Raises ``MailError`` (after the report lines) when a recipient could not be served.
    """
    now = now or datetime.now(UTC)
    db = db if db is not None else open_database(config.database)
    today = now.astimezone(ZoneInfo(config.timezone)).date()
    if send and not dry_run:
        day = day or latest_due_day(config, now)
        if day >= today:
            raise EreputationError(
                f"the day {day} is not over yet",
                hint="preview it with --dry-run, or send it tomorrow after `digest: at:`",
            )
        results = send_digest(config, db, day, now)
        for result in results:
            where = f" via {result.where}" if result.where else ""
            error = f": {result.error}" if result.error else ""
            yield f"digest of {result.date} to {result.recipient}: {result.status}{where}{error}"
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise MailError(
                f"{len(failed)} digest(s) not delivered; recorded for retry",
                hint="check `email:` in feeds.yaml; the daemon retries with backoff",
            )
        return
    day = day or today
    built = build_digest(config, db, day)
    yield built.text.rstrip("\n")
    if dry_run:
        email = email_settings(config)
        message = compose_message(
            sender=email.sender,
            recipients=config.digest.to,
            subject=built.subject,
            text=built.text,
            html=built.html,
            brands=[brand.name for brand in built.brands],
            kind="digest",
            date=now,
        )
        path = write_outbox(message, email.outbox / "dry-run")
        yield ""
        yield f"dry run: nothing sent; message written to {path}"
