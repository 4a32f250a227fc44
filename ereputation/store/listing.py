"""Read queries behind the ``mentions`` and ``sources`` commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .record import iso

if TYPE_CHECKING:
    from . import Database


def list_mentions(
    db: Database,
    *,
    brand: str | None = None,
    since: datetime | None = None,
    label: str | None = None,
    source: str | None = None,
    owned: bool | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Mentions newest first (by publication, else discovery time), filtered as asked.

    ``label='unscored'`` selects mentions whose text could not be scored.
    """
    where: list[str] = []
    params: list[Any] = []
    if brand:
        where.append("m.brand = ?")
        params.append(brand)
    if since:
        where.append("m.mentioned_at >= ?")
        params.append(iso(since))
    if label == "unscored":
        where.append("m.label IS NULL")
    elif label:
        where.append("m.label = ?")
        params.append(label)
    if source:
        where.append("s.name = ?")
        params.append(source)
    if owned is not None:
        where.append("m.owned = ?")
        params.append(int(owned))
    sql = (
        "SELECT m.mentioned_at, m.brand, CASE m.owned WHEN 1 THEN 'owned' ELSE 'third-party' END "
        "AS voice, m.label, m.sentiment, a.outlet, a.title, coalesce(a.link, a.url) AS url, "
        "s.name AS source, m.snippet "
        "FROM mentions m JOIN articles a ON a.id = m.article_id "
        "LEFT JOIN sources s ON s.id = a.source_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY m.mentioned_at DESC, m.id DESC LIMIT ?"
    )
    params.append(limit)
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def source_health(db: Database, urls: Sequence[str]) -> list[dict[str, Any]]:
    """One row per configured source (in config order), with its counts of items and mentions."""
    rows = []
    for url in urls:
        cursor = db.execute(
            "SELECT s.name, s.kind, s.url, s.last_ok_at, s.last_polled_at, s.failures, "
            "s.last_error, s.items_seen AS items, "
            "(SELECT count(*) FROM mentions m JOIN articles a ON a.id = m.article_id "
            " WHERE a.source_id = s.id) AS mentions, s.next_poll_at "
            "FROM sources s WHERE s.url = ?",
            [url],
        )
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
        if row is not None:
            rows.append(dict(zip(names, row, strict=True)))
    return rows
