"""The SQL of the reporting side: what detection, alerts and the digest read and record.

Every function takes a ``Database`` and plain values, and returns plain rows
(``dict``) or values; nothing here decides anything.  Time bounds are aware datetimes turned
into the stored UTC ISO-8601 text, so comparisons are text comparisons on indexed columns.
Ranges are half-open: ``start <= t < end``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..records import STORY_TEXT_SQL

if TYPE_CHECKING:
    from . import Database

Row = dict[str, Any]


def format_ts(moment: datetime) -> str:
    """The stored form of a timestamp: UTC ISO-8601 to the second (``…T08:00:00+00:00``)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_ts(text: str) -> datetime:
    """The inverse of ``format_ts``; naive stored values are taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rows(db: Database, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
    cursor = db.execute(sql, dict(params) if isinstance(params, Mapping) else list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


# --- mentions -------------------------------------------------------------------------------


def mention_events(
    db: Database, start: datetime, end: datetime, *, brand: str, owned: bool
) -> Iterator[tuple[str, str, str | None, int | None, str | None, str | None]]:
    """``brand``'s mentions published in ``[start, end)``, oldest first, as detection reads them.

    Tuples of (mentioned_at, outlet, label, story_id, title, url), read from the cursor one
    at a time: detection looks at eight days of mentions, ~23,000 rows per brand at 10,000
    feeds, and whole ``mentions_full`` rows as dicts held +55 MB at once.  Title and url are
    None for a mention that is its story's only one here: detection reports them only for a
    story told several times, and they were most of the memory a check held.
    """
    yield from db.execute(
        "SELECT mentioned_at, outlet, label, story_id, "
        "       CASE WHEN told > 1 THEN title END, CASE WHEN told > 1 THEN link END "
        "FROM (SELECT m.id, m.mentioned_at, a.outlet, m.label, a.story_id, a.title, "
        "             coalesce(a.link, a.url) AS link, "
        "             count(*) OVER (PARTITION BY a.story_id) AS told "
        "      FROM mentions m JOIN articles a ON a.id = m.article_id "
        "      WHERE m.mentioned_at >= ? AND m.mentioned_at < ? AND m.brand = ? AND m.owned = ?) "
        "ORDER BY mentioned_at, id",
        [format_ts(start), format_ts(end), brand, int(owned)],
    )


def mentions_found_between(
    db: Database, start: datetime, end: datetime, *, brand: str | None = None
) -> list[Row]:
    """Mentions *stored* (``found_at``) in ``[start, end)`` with their article, in found order.

    What a digest covers: however late an article was fetched, it falls in exactly one such
    window.  Rows are those of ``mentions_full``.
    """
    sql = "SELECT * FROM mentions_full WHERE found_at >= ? AND found_at < ?"
    params: list[Any] = [format_ts(start), format_ts(end)]
    if brand is not None:
        sql += " AND brand = ?"
        params.append(brand)
    return _rows(db, sql + " ORDER BY found_at, id", params)


def mention_labels_found_between(db: Database, start: datetime, end: datetime) -> list[Row]:
    """Mentions stored in ``[start, end)``, only what counting them needs, in found order.

    Rows: brand, owned, label, found_at.  For averages over past days, where the full rows of
    ``mentions_found_between`` (joined with articles and sources) would be read for nothing.
    """
    return _rows(
        db,
        "SELECT brand, owned, label, found_at FROM mentions"
        " WHERE found_at >= ? AND found_at < ? ORDER BY found_at, id",
        [format_ts(start), format_ts(end)],
    )


def mention_times_between(db: Database, start: datetime, end: datetime, *, brand: str) -> list[Row]:
    """``brand``'s mentions published in ``[start, end)``, only when and whose: for charts.

    Rows: mentioned_at, owned, oldest first; read through the (brand, mentioned_at) index.
    """
    return _rows(
        db,
        "SELECT mentioned_at, owned FROM mentions"
        " WHERE brand = ? AND mentioned_at >= ? AND mentioned_at < ? ORDER BY mentioned_at, id",
        [brand, format_ts(start), format_ts(end)],
    )


def outlet_first_mentions(
    db: Database,
    brand: str,
    start: datetime,
    end: datetime | None = None,
    *,
    by_found: bool = False,
) -> list[Row]:
    """Outlets whose first third-party mention of ``brand`` (ever) was published in the range.

    With ``by_found`` the range applies to when the first mention was stored instead (what a
    digest window means by "new").  Rows: outlet, first_at (publication), first_found_at (when
    stored), mentions, title, url (of that first article), earliest first.

    An outlet's first mention is in ``[start, end)`` when it has one in the range and none
    before ``start``: the candidates come from the range (an index range), each is dropped at
    its first older mention (index ``articles_outlet``), and only the new outlets are summed.
    Grouping every mention of the brand by outlet took 3.8 s over 1 M mentions.
    """
    column = "found_at" if by_found else "mentioned_at"
    in_range = f"m.{column} >= :start" + (f" AND m.{column} < :end" if end is not None else "")
    sql = f"""
        WITH candidates AS (
            SELECT DISTINCT a.outlet FROM mentions m JOIN articles a ON a.id = m.article_id
            WHERE m.brand = :brand AND m.owned = 0 AND {in_range}
        ), new AS (
            SELECT outlet FROM candidates c WHERE NOT EXISTS (
                SELECT 1 FROM articles a JOIN mentions m ON m.article_id = a.id
                WHERE a.outlet = c.outlet AND m.brand = :brand AND m.owned = 0
                  AND m.{column} < :start)
        )
        SELECT outlet, first_at, first_found_at, mentions,
               (SELECT a.title FROM mentions m2 JOIN articles a ON a.id = m2.article_id
                 WHERE m2.brand = f.brand AND a.outlet = f.outlet AND m2.owned = 0
                 ORDER BY m2.mentioned_at, m2.id LIMIT 1) AS title,
               (SELECT coalesce(a.link, a.url)
                 FROM mentions m2 JOIN articles a ON a.id = m2.article_id
                 WHERE m2.brand = f.brand AND a.outlet = f.outlet AND m2.owned = 0
                 ORDER BY m2.mentioned_at, m2.id LIMIT 1) AS url
        FROM (
            SELECT m.brand, a.outlet, min(m.mentioned_at) AS first_at,
                   min(m.found_at) AS first_found_at, count(*) AS mentions
            FROM articles a JOIN mentions m ON m.article_id = a.id
            WHERE a.outlet IN (SELECT outlet FROM new) AND m.brand = :brand AND m.owned = 0
            GROUP BY a.outlet
        ) AS f
        ORDER BY {"first_found_at" if by_found else "first_at"}, outlet"""
    params: dict[str, Any] = {"brand": brand, "start": format_ts(start)}
    if end is not None:
        params["end"] = format_ts(end)
    return _rows(db, sql, params)


def brand_first_found_at(db: Database, brand: str) -> datetime | None:
    """When the daemon stored its first mention of ``brand``; None if it never did."""
    value = db.execute("SELECT min(found_at) FROM mentions WHERE brand = ?", [brand]).fetchone()[0]
    return parse_ts(value) if value else None


def first_found_at(db: Database) -> datetime | None:
    """When the first mention of any brand was stored (index ``mentions_found``)."""
    value = db.execute("SELECT min(found_at) FROM mentions").fetchone()[0]
    return parse_ts(value) if value else None


def first_seen_at(db: Database) -> datetime | None:
    """When the first item that named no brand was seen.

    Reads every seen item (no index on ``seen_at``: one would cost every stored item a write):
    43 ms at 580,000; ``alerting.monitoring_since`` asks ``first_found_at`` first."""
    value = db.execute("SELECT min(seen_at) FROM seen_items").fetchone()[0]
    return parse_ts(value) if value else None


def story_articles(db: Database, story_ids: Iterable[int]) -> list[Row]:
    """Every article of the given stories, in publication order (unknown dates by fetch time).

    Rows: story_id, story_title, article_id, outlet, url, title, published_at, fetched_at.
    """
    ids = sorted(set(story_ids))
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return _rows(
        db,
        f"""SELECT a.story_id, s.title AS story_title, a.id AS article_id, a.outlet,
                   coalesce(a.link, a.url) AS url, a.title, a.published_at, a.fetched_at
            FROM articles a LEFT JOIN stories s ON s.id = a.story_id
            WHERE a.story_id IN ({marks})
            ORDER BY a.story_id, coalesce(a.published_at, a.fetched_at), a.id""",
        ids,
    )


def confirmed_story_articles(db: Database, story_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """Per story, its articles (id: link) whose words confirm they belong to it.

    Stories stored before the store counted the words of each join were joined on an
    estimate of their similarity, off by ~0.05 near the threshold, so an article sharing only
    boilerplate, the brand and the topic with one may have joined it;
    ``stories.confirmed_members`` checks the words themselves (the title and
    ``STORY_TEXT_SQL``, as the fingerprint read them) against the story's first
    article, the one that started it (the lowest id: a story is created with its first
    article).  What the spreading-story alert counts and the digest lists as a story.
    """
    from ..stories import confirmed_members  # numpy: only when a story is checked

    ids = sorted(set(story_ids))
    confirmed: dict[int, dict[int, str]] = {}
    for start in range(0, len(ids), 500):  # well under SQLite's limit of bound parameters
        chunk = ids[start : start + 500]  # and the texts of 500 stories at a time in memory
        told: dict[int, list[tuple[int, str, str, str]]] = {story: [] for story in chunk}
        for story, article_id, link, title, text in db.execute(
            f"SELECT story_id, id, coalesce(link, url), coalesce(title, ''), {STORY_TEXT_SQL} "
            f"FROM articles WHERE story_id IN ({', '.join('?' for _ in chunk)}) ORDER BY id",
            chunk,
        ):
            told[story].append((article_id, link, title, text))
        for story, articles in told.items():
            ok = confirmed_members([(title, text) for _, _, title, text in articles])
            confirmed[story] = {
                article_id: link
                for (article_id, link, _, _), yes in zip(articles, ok, strict=True)
                if yes
            }
    return confirmed


# --- alerts ---------------------------------------------------------------------------------


def _alert(row: Row) -> Row:
    row["details"] = json.loads(row["details"]) if row.get("details") else {}
    return row


def alerts_between(
    db: Database, start: datetime, end: datetime, *, brand: str | None = None
) -> list[Row]:
    """Alerts fired in ``[start, end)``, oldest first, with ``details`` decoded."""
    sql = "SELECT * FROM alerts WHERE fired_at >= ? AND fired_at < ?"
    params: list[Any] = [format_ts(start), format_ts(end)]
    if brand is not None:
        sql += " AND brand = ?"
        params.append(brand)
    return [_alert(row) for row in _rows(db, sql + " ORDER BY fired_at, id", params)]


def record_alert(
    db: Database,
    *,
    brand: str,
    kind: str,
    key: str,
    details: dict[str, Any],
    fired_at: datetime,
) -> int:
    """Store one fired signal (unsent); return its id."""
    row = db.execute(
        "INSERT INTO alerts (brand, kind, key, details, fired_at) VALUES (?, ?, ?, ?, ?) "
        "RETURNING id",
        [brand, kind, key, json.dumps(details, ensure_ascii=False, sort_keys=True),
         format_ts(fired_at)],
    ).fetchone()  # fmt: skip
    return int(row[0])


def detection_marker(db: Database, settings: str) -> tuple[int, str]:
    """(newest mention id, ``settings``): detection has nothing new to see while it holds."""
    newest = db.execute("SELECT max(id) FROM mentions").fetchone()[0]
    return int(newest or 0), settings


def detection_due(db: Database, marker: tuple[int, str], now: datetime) -> bool:
    """Whether detection must run: new mentions or settings since its last run, or a held
    signal's cooldown is over."""
    row = db.execute("SELECT last_mention_id, settings, recheck_at FROM detection_state").fetchone()
    if row is None or (int(row[0]), str(row[1])) != marker:
        return True
    return row[2] is not None and parse_ts(row[2]) <= now


def save_detection(
    db: Database, marker: tuple[int, str], now: datetime, recheck_at: datetime | None
) -> None:
    with db.conn:
        db.execute(
            "INSERT OR REPLACE INTO detection_state "
            "(id, last_mention_id, settings, checked_at, recheck_at) VALUES (1, ?, ?, ?, ?)",
            [marker[0], marker[1], format_ts(now), format_ts(recheck_at) if recheck_at else None],
        )


def due_unsent_alerts(db: Database, since: datetime, now: datetime) -> list[Row]:
    """Alerts fired since ``since`` that no server accepted yet and whose retry is due."""
    rows = _rows(
        db,
        """SELECT * FROM alerts
           WHERE sent_at IS NULL AND fired_at >= ?
             AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
           ORDER BY fired_at, id""",
        [format_ts(since), format_ts(now)],
    )
    return [_alert(row) for row in rows]


def mark_alerts_sent(db: Database, ids: Sequence[int], sent_at: datetime) -> None:
    with db.conn:
        for alert_id in ids:
            db.execute(
                "UPDATE alerts SET sent_at = ?, attempts = attempts + 1, last_error = NULL,"
                " next_attempt_at = NULL WHERE id = ?",
                [format_ts(sent_at), alert_id],
            )


def mark_alerts_failed(
    db: Database, ids: Sequence[int], error: str, next_attempt_at: datetime
) -> None:
    with db.conn:
        for alert_id in ids:
            db.execute(
                "UPDATE alerts SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE id = ?",
                [error, format_ts(next_attempt_at), alert_id],
            )


# --- digests --------------------------------------------------------------------------------


def digest_row(db: Database, day: str, recipient: str) -> Row | None:
    rows = _rows(db, "SELECT * FROM digests WHERE date = ? AND recipient = ?", [day, recipient])
    return rows[0] if rows else None


def digests_of_day(db: Database, day: str) -> list[Row]:
    """Every digest row dated ``day``, sent ones first."""
    return _rows(
        db,
        "SELECT * FROM digests WHERE date = ? ORDER BY status != 'sent', recipient",
        [day],
    )


def previous_digest_end(db: Database, recipient: str, day: str) -> datetime | None:
    """Where the last digest *sent* to ``recipient`` before ``day`` stopped covering mentions.

    Its ``period_end``; for rows written before windows were stored, its ``sent_at`` (the old
    digests covered mentions published the day before, all found before they were sent).
    None when ``recipient`` never received one.
    """
    value = db.execute(
        "SELECT max(coalesce(period_end, sent_at)) FROM digests"
        " WHERE recipient = ? AND status = 'sent' AND date < ?",
        [recipient, day],
    ).fetchone()[0]
    return parse_ts(value) if value else None


def first_unsent_start(db: Database, recipient: str) -> datetime | None:
    """The earliest window start of the digests to ``recipient`` that were tried but never sent.

    For a recipient who never received a digest: what its failed first attempts covered.
    """
    value = db.execute(
        "SELECT min(period_start) FROM digests WHERE recipient = ? AND status != 'sent'",
        [recipient],
    ).fetchone()[0]
    return parse_ts(value) if value else None


def claim_digest(
    db: Database,
    *,
    day: str,
    recipient: str,
    language: str,
    built_at: datetime,
    message_id: str,
) -> Row:
    """The row of (day, recipient), created as ``pending`` if absent (UNIQUE keeps it single)."""
    db.execute(
        """INSERT OR IGNORE INTO digests (date, recipient, language, status, built_at, message_id)
           VALUES (?, ?, ?, 'pending', ?, ?)""",
        [day, recipient, language, format_ts(built_at), message_id],
    )
    db.conn.commit()
    row = digest_row(db, day, recipient)
    assert row is not None
    return row


def mark_digest_sent(
    db: Database,
    digest_id: int,
    sent_at: datetime,
    period_start: datetime,
    period_end: datetime,
) -> None:
    """Record that a server accepted the digest covering ``[period_start, period_end)``."""
    with db.conn:
        db.execute(
            "UPDATE digests SET status = 'sent', sent_at = ?, built_at = ?,"
            " attempts = attempts + 1, last_error = NULL, next_attempt_at = NULL,"
            " period_start = ?, period_end = ? WHERE id = ?",
            [
                format_ts(sent_at),
                format_ts(sent_at),
                format_ts(period_start),
                format_ts(period_end),
                digest_id,
            ],
        )


def mark_digest_failed(
    db: Database,
    digest_id: int,
    error: str,
    next_attempt_at: datetime,
    period_start: datetime,
    period_end: datetime,
) -> None:
    """Record a failed attempt; the window is the one tried (the retry rebuilds a later end)."""
    with db.conn:
        db.execute(
            "UPDATE digests SET status = 'failed', attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ?, period_start = ?, period_end = ? WHERE id = ?",
            [
                error,
                format_ts(next_attempt_at),
                format_ts(period_start),
                format_ts(period_end),
                digest_id,
            ],
        )
