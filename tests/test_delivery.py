"""Digest delivery: each mention in exactly one digest per recipient, once a day, never lost.

A digest covers the mentions *found* since the previous one sent; the daemon sends it once a day
after ``digest.at`` and ``digest --send`` sends it at once.  Real SQLite file, real SMTP server.
"""

from __future__ import annotations

import email
import email.policy
import re
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import mail_settings
from test_digest import History, at

from ereputation.config import Brand, Config, DigestSettings
from ereputation.delivery import digest_command, send_digest, send_due_digests
from ereputation.errors import EreputationError, MailError
from ereputation.store import open_database
from ereputation.store.queries import format_ts
from ereputation.store.schema import APPLICATION_ID, MIGRATIONS

DAY = date(2026, 11, 26)
# 08:00 in Casablanca (UTC+1) is 07:00 UTC: digest.at on DAY.
DUE = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def make_config(tmp_path, smtp=None, to=("com@example.ma",), language="fr") -> Config:
    mail = mail_settings(tmp_path, smtp)
    return Config(
        path=tmp_path / "feeds.yaml",
        database=tmp_path / "x.db",
        brands=(Brand("Atlas Télécom"),),
        digest=DigestSettings(at="08:00", language=language, to=tuple(to)),
        email=mail,
    )


@pytest.fixture
def history(tmp_path) -> History:
    h = History(tmp_path / "x.db")
    h.mention(at(DAY, 1), title="Atlas Télécom baisse ses prix")  # found at 01:10 UTC
    return h


def statuses(db):
    return [
        (row["date"], row["recipient"], row["status"], row["attempts"])
        for row in db.query("SELECT * FROM digests ORDER BY date, recipient")
    ]


def titles(message) -> set[str]:
    """The titles of the mentions listed in a digest's plain text (our test titles only)."""
    text = message.get_body(("plain",)).get_content()
    return set(re.findall(r"\] (Atlas Télécom [^\n]+|Article [^\n]+)", text))


def test_nothing_is_sent_before_digest_time_then_todays_digest_once(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    assert send_due_digests(config, history.db, DUE - timedelta(minutes=1)) == []
    (result,) = send_due_digests(config, history.db, DUE)
    assert (result.date, result.status, result.mentions) == (DAY, "sent", 1)
    assert [r.status for r in send_due_digests(config, history.db, DUE + timedelta(hours=9))] == [
        "already_sent"
    ]
    assert len(smtp.wait_for(1)) == 1
    assert statuses(history.db) == [(DAY.isoformat(), "com@example.ma", "sent", 1)]


def test_a_mention_published_days_ago_but_found_today_is_in_todays_digest(tmp_path, smtp, history):
    history.mention(
        at(DAY - timedelta(12), 9), found_at=at(DAY, 5), title="Atlas Télécom : un vieil article"
    )
    send_due_digests(make_config(tmp_path, smtp), history.db, DUE)
    (message,) = smtp.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    assert "Atlas Télécom : un vieil article" in text
    assert "publié le 14 nov. à 10:00" in text


def test_the_next_digest_holds_only_what_was_found_since(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    send_due_digests(config, history.db, DUE)
    # Found after the digest was built: at the very second it was built, and later that day.
    history.mention(at(DAY, 6), found_at=DUE, title="Atlas Télécom à la seconde même")
    history.mention(at(DAY - timedelta(3), 9), found_at=at(DAY, 15), title="Atlas Télécom tard")
    send_due_digests(config, history.db, DUE + timedelta(days=1))
    first, second = smtp.wait_for(2)
    assert titles(first) == {"Atlas Télécom baisse ses prix"}
    assert titles(second) == {"Atlas Télécom à la seconde même", "Atlas Télécom tard"}
    rows = list(history.db.query("SELECT * FROM digests ORDER BY date"))
    assert rows[0]["period_end"] == rows[1]["period_start"] == "2026-11-26T07:00:00+00:00"
    assert rows[1]["period_end"] == "2026-11-27T07:00:00+00:00"


def test_after_three_days_down_one_digest_covers_everything(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    send_due_digests(config, history.db, DUE)
    for offset in (1, 2, 3):  # found by `run --once` from cron while the daemon was stopped
        history.mention(at(DAY, 12), found_at=DUE + timedelta(days=offset, hours=-3),
                        title=f"Atlas Télécom jour {offset}")  # fmt: skip
    back = DUE + timedelta(days=3, hours=2)  # 10:00 local, three days later
    results = send_due_digests(config, history.db, back)
    assert [(r.date, r.status, r.mentions) for r in results] == [(DAY + timedelta(3), "sent", 3)]
    first, second = smtp.wait_for(2)
    assert titles(second) == {f"Atlas Télécom jour {n}" for n in (1, 2, 3)}
    assert [row[0] for row in statuses(history.db)] == ["2026-11-26", "2026-11-29"]


def test_digest_send_right_after_a_poll_contains_what_was_found(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    poll = DUE - timedelta(hours=5)  # 03:00 local: long before digest.at
    history.mention(at(DAY, 1, 30), found_at=poll, title="Atlas Télécom vient d'être trouvé")
    # Stored to the second: the mention is stamped 02:00:00 and the digest built within that
    # second, half a second later.
    now = poll + timedelta(milliseconds=500)
    lines = list(digest_command(config, None, send=True, db=history.db, now=now))
    assert lines == [
        f"digest of {DAY} to com@example.ma: sent via smtp://{smtp.host}:{smtp.port}"
        " (2 mentions found since 2026-11-25 03:00)"
    ]
    (message,) = smtp.wait_for(1)
    assert titles(message) == {"Atlas Télécom vient d'être trouvé", "Atlas Télécom baisse ses prix"}


def test_send_twice_the_same_day_sends_once_and_the_scheduled_one_says_sent(
    tmp_path, smtp, history
):
    config = make_config(tmp_path, smtp)
    now = DUE - timedelta(hours=2)
    list(digest_command(config, None, send=True, db=history.db, now=now))
    again = list(digest_command(config, None, send=True, db=history.db, now=now))
    assert again == [f"digest of {DAY} to com@example.ma: already_sent"]
    history.mention(at(DAY, 6), found_at=DUE - timedelta(minutes=30), title="Atlas Télécom 07:30")
    assert [r.status for r in send_due_digests(config, history.db, DUE)] == ["already_sent"]
    assert len(smtp.wait_for(1)) == 1
    # ... and what was found after the manual send is in tomorrow's.
    send_due_digests(config, history.db, DUE + timedelta(days=1))
    assert titles(smtp.wait_for(2)[1]) == {"Atlas Télécom 07:30"}


def test_smtp_failure_then_recovery_sends_once_with_what_was_found_meanwhile(
    tmp_path, smtp, history
):
    config = make_config(tmp_path, smtp)
    smtp.fail_with = "451 try later"
    (failed,) = send_due_digests(config, history.db, DUE)
    assert failed.status == "failed" and "451" in (failed.error or "")
    row = next(history.db.query("SELECT * FROM digests"))
    assert (row["status"], row["attempts"], row["sent_at"]) == ("failed", 1, None)
    history.mention(at(DAY, 7, 20), found_at=DUE + timedelta(minutes=3), title="Atlas Télécom 2")

    smtp.fail_with = None
    (waiting,) = send_due_digests(config, history.db, DUE + timedelta(seconds=10))
    assert waiting.status == "waiting" and smtp.messages == []  # backoff not elapsed
    (sent,) = send_due_digests(config, history.db, DUE + timedelta(minutes=5))
    assert (sent.status, sent.mentions) == ("sent", 2)
    send_due_digests(config, history.db, DUE + timedelta(minutes=10))
    (message,) = smtp.wait_for(1)
    assert titles(message) == {"Atlas Télécom baisse ses prix", "Atlas Télécom 2"}
    assert statuses(history.db) == [(DAY.isoformat(), "com@example.ma", "sent", 2)]
    row = next(history.db.query("SELECT * FROM digests"))
    assert row["period_end"] == "2026-11-26T07:05:00+00:00"
    assert message["Message-ID"] == row["message_id"]  # the same id as the failed attempt's


def test_a_failure_until_midnight_is_carried_by_the_next_days_digest(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    send_due_digests(config, history.db, DUE - timedelta(days=1))  # the 25th: sent
    smtp.fail_with = "451 try later"
    send_due_digests(config, history.db, DUE)  # the 26th: fails all day
    smtp.fail_with = None
    send_due_digests(config, history.db, DUE + timedelta(days=1))  # the 27th
    first, second = smtp.wait_for(2)
    assert titles(first) == set()
    assert titles(second) == {"Atlas Télécom baisse ses prix"}  # found on the 26th, not lost
    assert [s[2] for s in statuses(history.db)] == ["sent", "failed", "sent"]


def test_a_first_digest_that_failed_all_day_is_carried_whole_by_the_next(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    smtp.fail_with = "451 try later"
    send_due_digests(config, history.db, DUE)  # the very first digest: refused all day
    smtp.fail_with = None
    send_due_digests(config, history.db, DUE + timedelta(days=1, hours=2))  # 26 h later
    (message,) = smtp.wait_for(1)
    assert titles(message) == {"Atlas Télécom baisse ses prix"}  # found 29 h before: kept


def test_sent_once_per_day_and_recipient_even_across_restarts(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp, to=("a@example.ma", "b@example.ma"))
    first = send_due_digests(config, history.db, DUE)
    assert [(r.recipient, r.status) for r in first] == [
        ("a@example.ma", "sent"),
        ("b@example.ma", "sent"),
    ]
    reopened = open_database(tmp_path / "x.db")  # a restart: a new connection to the file
    again = send_due_digests(config, reopened, DUE + timedelta(hours=3))
    assert {r.status for r in again} == {"already_sent"}
    messages = smtp.wait_for(2)
    assert len(messages) == 2
    assert sorted(to for _, (to,) in smtp.envelopes) == ["a@example.ma", "b@example.ma"]
    assert all(m["To"] in ("a@example.ma", "b@example.ma") for m in messages)  # one each
    assert "Atlas Télécom baisse ses prix" in messages[0].get_body(("plain",)).get_content()
    assert messages[0]["X-Ereputation-Brand"] == "Atlas Télécom"


def test_without_smtp_the_digest_goes_to_the_outbox_and_counts_as_sent(tmp_path, history):
    config = make_config(tmp_path, smtp=None, to=())
    (result,) = send_due_digests(config, history.db, DUE)
    assert result.status == "sent" and result.recipient == "outbox"
    (path,) = (tmp_path / "outbox").iterdir()
    assert str(path) == result.where
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith("Veille e-réputation")
    assert parsed["To"] is None
    assert "Atlas Télécom baisse ses prix" in parsed.get_body(("plain",)).get_content()
    send_due_digests(config, history.db, DUE + timedelta(hours=1))
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_digest_command_dry_run_prints_and_writes_without_sending(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    lines = list(digest_command(config, None, dry_run=True, db=history.db, now=DUE))
    assert "Atlas Télécom baisse ses prix" in "\n".join(lines)
    path = Path(lines[-1].rpartition(" ")[2])
    assert path.parent == tmp_path / "outbox" / "dry-run" and path.exists()
    assert smtp.messages == [] and statuses(history.db) == []
    # --dry-run with --send still sends nothing.
    list(digest_command(config, None, send=True, dry_run=True, db=history.db, now=DUE))
    assert smtp.messages == [] and statuses(history.db) == []


def test_a_past_digest_is_rebuilt_from_its_stored_window(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    send_due_digests(config, history.db, DUE)
    history.mention(at(DAY, 9), title="Atlas Télécom après coup")  # found later: not in it
    later = DUE + timedelta(days=2)
    lines = "\n".join(digest_command(config, DAY, db=history.db, now=later))
    assert "Atlas Télécom baisse ses prix" in lines
    assert "après coup" not in lines
    # A day with no digest: the 24 h before that day's digest.at.
    before = "\n".join(digest_command(config, DAY + timedelta(1), db=history.db, now=later))
    assert "Atlas Télécom après coup" in before and "baisse ses prix" not in before
    assert "Mentions trouvées du 26 nov. à 08:00 au 27 nov. à 08:00" in before


def test_today_given_as_date_shows_todays_sent_digest_else_what_is_new(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    send_due_digests(config, history.db, DUE)
    history.mention(at(DAY, 9), title="Atlas Télécom après coup")
    later = DUE + timedelta(hours=3)
    sent = "\n".join(digest_command(config, DAY, db=history.db, now=later))
    assert "baisse ses prix" in sent and "après coup" not in sent
    new = "\n".join(digest_command(config, None, db=history.db, now=later))
    assert "après coup" in new and "baisse ses prix" not in new  # what tomorrow's will hold


def test_a_past_or_future_day_cannot_be_sent(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    with pytest.raises(EreputationError, match="only sends today's digest"):
        list(digest_command(config, DAY - timedelta(1), send=True, db=history.db, now=DUE))
    with pytest.raises(EreputationError, match="does not exist yet"):
        list(digest_command(config, DAY + timedelta(1), db=history.db, now=DUE))
    assert smtp.messages == [] and statuses(history.db) == []


def test_a_refused_send_from_the_command_line_is_an_error_after_the_report(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    smtp.fail_with = "550 no"
    lines: list[str] = []
    with pytest.raises(MailError, match="recorded for retry"):
        lines.extend(digest_command(config, None, send=True, db=history.db, now=DUE))
    assert lines and "failed" in lines[0] and "550" in lines[0]
    assert [s[2] for s in statuses(history.db)] == ["failed"]


def test_a_digest_sent_before_windows_were_stored_is_where_the_next_one_starts(tmp_path, smtp):
    # A database at schema 2, with a digest sent by the old code: no period columns yet.
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        conn.executescript(migration)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        "INSERT INTO digests (date, recipient, language, status, built_at, sent_at)"
        " VALUES ('2026-11-25', 'com@example.ma', 'fr', 'sent', ?, ?)",
        ["2026-11-25T07:00:00+00:00", "2026-11-25T07:00:00+00:00"],
    )
    conn.commit()
    conn.close()
    history = History(path)  # migrates to the current schema
    history.mention(at(DAY - timedelta(1), 6), found_at=at(DAY - timedelta(1), 6, 59),
                    title="Atlas Télécom déjà envoyé")  # fmt: skip
    history.mention(at(DAY - timedelta(1), 9), title="Atlas Télécom nouveau")
    (result,) = send_digest(make_config(tmp_path, smtp), history.db, DUE)
    assert result.window is not None
    assert result.window.start == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert titles(smtp.wait_for(1)[0]) == {"Atlas Télécom nouveau"}


def test_a_mention_stamped_before_the_digest_but_committed_during_it_is_in_it(tmp_path, history):
    """``digest --send`` and a poll in two processes: a mention stamped before the digest's
    ``now`` but committed after the digest started must not fall between two digests.

    The poll holds the write lock from the stamp to the commit; the digest's claim is a write,
    so the digest reads only once the poll has committed.
    """
    config = make_config(tmp_path)
    stamp = format_ts(DUE - timedelta(minutes=1))
    poll = sqlite3.connect(tmp_path / "x.db", isolation_level=None, timeout=30)
    poll.execute("BEGIN IMMEDIATE")
    poll.execute(
        "INSERT INTO articles (id, url, source_id, outlet, title, published_at, fetched_at,"
        " language, content_hash) VALUES (9001, 'https://le360.ma/late', 1, 'le360.ma',"
        " 'Atlas Télécom : la mention tardive', ?, ?, 'fr', 'late')",
        [stamp, stamp],
    )
    poll.execute(
        "INSERT INTO mentions (article_id, brand, snippet, label, owned, mentioned_at, found_at)"
        " VALUES (9001, 'Atlas Télécom', '… Atlas Télécom …', 'neutral', 0, ?, ?)",
        [stamp, stamp],
    )
    results: list = []

    def digest() -> None:
        db = open_database(tmp_path / "x.db")
        try:
            results.extend(send_digest(config, db, DUE))
        finally:
            db.conn.close()

    sender = threading.Thread(target=digest)
    sender.start()
    sender.join(0.5)
    assert sender.is_alive()  # it writes to the ledger, so it waits for the poll's lock
    poll.execute("COMMIT")
    sender.join(60)
    (result,) = results
    assert (result.status, result.mentions) == ("sent", 2)
