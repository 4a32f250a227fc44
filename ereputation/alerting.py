"""After each poll: detect signals per brand, record them, mail them at once, ping other channels.

``check_and_alert`` is the shell around the pure ``detect`` module: it reads each brand's
history through ``store.queries``, lets ``detect`` decide, stores what fired in ``alerts``, and
sends every unsent alert in ONE message (HTML + text, in ``digest.language``).  An alert is
marked sent only after the server accepted the message; a failure is recorded (attempts,
last_error) and retried with backoff at the next check.  Alerts that could not be mailed within
``ALERT_MAX_AGE`` stay unsent in the table and still appear in the next digest (its signals are
the alerts fired in its window).
Extra channels (apprise URLs in ``alerts.notify``) are best effort: each failure is a warning.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .config import Config
from .errors import MailError
from .store import queries

if TYPE_CHECKING:
    from .detect import BrandHistory, Signal
    from .store import Database

# The message side (jinja2 templates, the mail stack: ~40 ms to import) is imported where a
# message is built, and detection (statistics, ~10 ms) where it runs: most checks send
# nothing and have no new mention to look at, and ``run --once`` should not pay for them.

log = logging.getLogger(__name__)

ALERT_MAX_AGE = timedelta(hours=24)  # unsent alerts older than this are left to the digest
PAST_LOOKBACK = timedelta(days=3)  # alerts consulted for cooldown and known new voices


def brand_history(
    db: Database, brand: str, now: datetime, monitoring_start: datetime | None
) -> BrandHistory:
    """What detection needs about ``brand`` at ``now``: third-party mentions only.

    ``monitoring_start``: ``monitoring_since(db, now)``, the same for every brand of a check.
    """
    from .detect import BASELINE_DAYS, WINDOW, BrandHistory, FirstMention, Mention

    since = now - WINDOW * (BASELINE_DAYS + 1)
    events = queries.mention_events(db, since, now + timedelta(days=1), brand=brand, owned=False)
    firsts = queries.outlet_first_mentions(db, brand, now - WINDOW)
    return BrandHistory(
        brand=brand,
        mentions=tuple(
            Mention(
                at=queries.parse_ts(at),
                outlet=outlet,
                label=label,
                story_id=story_id,
                title=title or "",
                url=url or "",
            )
            for at, outlet, label, story_id, title, url in events
        ),
        first_mentions=tuple(
            FirstMention(
                outlet=r["outlet"],
                at=queries.parse_ts(r["first_at"]),
                found_at=queries.parse_ts(r["first_found_at"]),
                title=r["title"] or "",
                url=r["url"] or "",
            )
            for r in firsts
        ),
        brand_first_found_at=queries.brand_first_found_at(db, brand),
        monitoring_since=monitoring_start,
        confirmed=lambda story: frozenset(
            queries.confirmed_story_articles(db, [story])[story].values()
        ),
    )


def monitoring_since(db: Database, now: datetime) -> datetime | None:
    """When monitoring began (first item seen or mention found), as the baseline at ``now``
    needs it.

    The exact moment reads every seen item (``queries.first_seen_at``).  The baseline only
    asks whether each of its slots began after it, so once the first mention (an index away)
    is older than every slot, that moment gives the same answer.
    """
    from .detect import BASELINE_DAYS, WINDOW

    first = queries.first_found_at(db)
    if first is not None and first <= now - WINDOW * (BASELINE_DAYS + 1):
        return first
    return min((m for m in (queries.first_seen_at(db), first) if m is not None), default=None)


def check_and_alert(config: Config, db: Database, now: datetime) -> list[Signal]:
    """Detect, store and send; return the signals that fired now (after cooldown).

    Also sends alerts fired earlier that no server accepted yet.  Never raises for a mail or
    channel failure: those are recorded and logged.
    """
    fired: list[Signal] = []
    marker = queries.detection_marker(db, _settings_key(config))
    if queries.detection_due(db, marker, now):
        fired, recheck_at = _detect(config, db, now)
        queries.save_detection(db, marker, now, recheck_at)
    send_pending_alerts(config, db, now)
    notify_channels(config, fired)
    return fired


def _settings_key(config: Config) -> str:
    """What detection depends on besides the mentions: the brands and their alert settings.

    A hash: ``notify`` URLs may hold webhook tokens, which must not reach the database.
    """
    settings = repr(sorted((brand.name, repr(brand.alerts)) for brand in config.brands))
    return hashlib.sha256(settings.encode("utf-8")).hexdigest()[:24]


def _detect(config: Config, db: Database, now: datetime) -> tuple[list[Signal], datetime | None]:
    """The signals that fired now (recorded), and when the first one held by a cooldown may
    fire.  ``check_and_alert`` skips this when no mention was stored since the last run with
    the same settings and nothing held is due: a signal is about new mentions, and mentions
    only leaving the window must not raise an alarm.
    """
    from .detect import PastAlert, detect_signals, select_new

    fired: list[Signal] = []
    recheck: list[datetime] = []
    start = monitoring_since(db, now)
    for brand in config.brands:
        settings = brand.alerts
        signals = detect_signals(brand_history(db, brand.name, now, start), settings, now)
        past = [
            PastAlert(a["kind"], a["key"], queries.parse_ts(a["fired_at"]), a["details"])
            for a in queries.alerts_between(
                db, now - PAST_LOOKBACK, now + timedelta(seconds=1), brand=brand.name
            )
        ]
        chosen = select_new(signals, past, now, settings.cooldown)
        held = {s.kind for s in signals} - {s.kind for s in chosen}
        for kind in held:
            last = max((a.fired_at for a in past if a.kind == kind), default=None)
            if last is not None and last + timedelta(seconds=settings.cooldown) > now:
                recheck.append(last + timedelta(seconds=settings.cooldown))
        for signal in chosen:
            queries.record_alert(
                db,
                brand=signal.brand,
                kind=signal.kind,
                key=signal.key,
                details={**signal.details, "reason": signal.reason},
                fired_at=now,
            )
            log.info("signal %s for %s: %s", signal.kind, signal.brand, signal.reason)
            fired.append(signal)
    return fired, min(recheck, default=None)


def _alert_lines(rows: Sequence[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    from .digest import describe_signal, safe_url, text_for

    strings = text_for(language)
    lines = []
    for row in rows:
        details = row["details"]
        lines.append(
            {
                "brand": row["brand"],
                "kind": row["kind"],
                "title": strings.get(row["kind"], row["kind"]),
                "reason": describe_signal(row["kind"], details, language),
                "link_title": (details.get("title") or "").strip(),
                "url": safe_url(details.get("url")),
            }
        )
    return lines


def render_alert(
    rows: Sequence[dict[str, Any]], language: str, local_time: str
) -> tuple[str, str, str]:
    """(subject, html, text) of one alert message for stored alert ``rows`` (pure)."""
    from .digest import render, text_for

    strings = text_for(language)
    lines = _alert_lines(rows, language)
    kinds = ", ".join(dict.fromkeys(line["title"] for line in lines))
    brands = list(dict.fromkeys(line["brand"] for line in lines))
    if len(brands) == 1:
        subject = strings["alert_subject"].format(brand=brands[0], kinds=kinds)
    else:
        subject = strings["alert_subject_many"].format(kinds=kinds)
    context = {
        "t": strings,
        "language": language,
        "subject": subject,
        "intro": strings["alert_intro"].format(time=local_time),
        "alerts": lines,
    }
    return subject, render("alert.html.j2", **context), render("alert.txt.j2", **context)


def send_pending_alerts(config: Config, db: Database, now: datetime) -> str | None:
    """Mail every unsent alert whose retry is due, in one message; return where it went.

    Returns None when there was nothing to send or the send failed (recorded for retry).
    """
    rows = queries.due_unsent_alerts(db, now - ALERT_MAX_AGE, now)
    if not rows:
        return None
    from .delivery import email_settings, retry_delay
    from .mail import compose_message, deliver

    language = config.digest.language
    local = now.astimezone(ZoneInfo(config.timezone)).strftime("%d/%m %H:%M")
    subject, html, text = render_alert(rows, language, local)
    email = email_settings(config)
    message = compose_message(
        sender=email.sender,
        recipients=config.digest.to,
        subject=subject,
        text=text,
        html=html,
        brands=list(dict.fromkeys(row["brand"] for row in rows)),
        kind="alert",
        date=now,
    )
    ids = [row["id"] for row in rows]
    try:
        where = deliver(message, email, config.digest.to)
    except MailError as err:
        attempts = max(row["attempts"] for row in rows) + 1
        queries.mark_alerts_failed(db, ids, str(err), now + retry_delay(attempts))
        log.warning("alert mail not sent (attempt %d): %s", attempts, err)
        return None
    queries.mark_alerts_sent(db, ids, now)
    log.info("alert mail with %d signal(s) sent via %s", len(rows), where)
    return where


def notify_channels(config: Config, signals: Sequence[Signal]) -> None:
    """Push fresh signals to each brand's apprise URLs; failures are warnings, never errors."""
    if not signals or not any(brand.alerts.notify for brand in config.brands):
        return
    from .digest import describe_signal, text_for

    language = config.digest.language
    strings = text_for(language)
    for brand in config.brands:
        urls = brand.alerts.notify
        mine = [s for s in signals if s.brand == brand.name]
        if not urls or not mine:
            continue
        title = strings["alert_subject"].format(
            brand=brand.name, kinds=", ".join(dict.fromkeys(strings[s.kind] for s in mine))
        )
        body = "\n".join(f"- {describe_signal(s.kind, s.details, language)}" for s in mine)
        for url in urls:
            _notify_one(url, title, body)


def _notify_one(url: str, title: str, body: str) -> None:
    scheme = url.partition("://")[0] or "?"  # never log the URL: it often holds a token
    try:
        import apprise

        channel = apprise.Apprise()
        if not channel.add(url):
            log.warning("notify channel %s:// is not a valid apprise URL; skipped", scheme)
            return
        if not channel.notify(title=title, body=body):
            log.warning("notify channel %s:// failed; the alert mail is unaffected", scheme)
    except Exception as err:  # noqa: BLE001 - a side channel must never break the job
        log.warning("notify channel %s:// failed: %s", scheme, type(err).__name__)
