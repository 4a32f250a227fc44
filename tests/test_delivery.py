"""Digest delivery: once per day and recipient, across restarts, retried on failure, never lost."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from test_digest import History, at

from ereputation.config import Brand, Config, DigestSettings, EmailSettings
from ereputation.delivery import digest_command, latest_due_day, send_digest, send_due_digests
from ereputation.errors import EreputationError
from ereputation.store import open_database

DAY = date(2026, 11, 25)
# 08:00 in Casablanca (UTC+1) is 07:00 UTC.
DUE = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def make_config(tmp_path, smtp=None, to=("com@example.ma",), language="fr") -> Config:
    mail = (
        EmailSettings(
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            starttls=False,
            sender="e-réputation <alerts@example.ma>",
        )
        if smtp
        else EmailSettings(outbox=tmp_path / "outbox")
    )
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
    h.mention(at(DAY, 9), title="Atlas Télécom baisse ses prix")
    return h


def statuses(db):
    return [
        (row["date"], row["recipient"], row["status"], row["attempts"])
        for row in db.query("SELECT * FROM digests ORDER BY date, recipient")
    ]


def test_the_digest_of_a_day_is_due_at_digest_time_the_next_morning(tmp_path):
    config = make_config(tmp_path)
    assert latest_due_day(config, DUE) == DAY
    assert latest_due_day(config, DUE - timedelta(minutes=1)) == DAY - timedelta(1)


def test_nothing_new_is_sent_before_digest_time(tmp_path, smtp, history):
    results = send_due_digests(make_config(tmp_path, smtp), history.db, DUE - timedelta(hours=1))
    assert [r.date for r in results if r.status == "sent"] == [DAY - timedelta(1)]
    assert all(r.date != DAY for r in results)


def test_sent_once_per_day_and_recipient_even_across_restarts(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp, to=("a@example.ma", "b@example.ma"))
    first = send_due_digests(config, history.db, DUE)
    assert [(r.date, r.recipient, r.status) for r in first] == [
        (DAY, "a@example.ma", "sent"),
        (DAY, "b@example.ma", "sent"),
    ]
    # A restart: a new connection to the same file, called again later the same day.
    reopened = open_database(tmp_path / "x.db")
    again = send_due_digests(config, reopened, DUE + timedelta(hours=3))
    assert {r.status for r in again if r.date == DAY} == {"already_sent"}
    messages = smtp.wait_for(2)
    assert len(messages) == 2
    assert sorted(to for _, (to,) in smtp.envelopes) == ["a@example.ma", "b@example.ma"]
    assert all(m["To"] in ("a@example.ma", "b@example.ma") for m in messages)  # one each
    assert "Atlas Télécom baisse ses prix" in messages[0].get_body(("plain",)).get_content()
    assert messages[0]["X-Ereputation-Brand"] == "Atlas Télécom"


def test_a_refused_digest_is_retried_with_backoff_and_sent_exactly_once(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    smtp.fail_with = "451 try later"
    (failed,) = send_due_digests(config, history.db, DUE)
    assert failed.status == "failed" and "451" in (failed.error or "")
    row = next(history.db.query("SELECT * FROM digests"))
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "451" in row["last_error"] and row["sent_at"] is None

    smtp.fail_with = None
    # Backoff not elapsed: not retried yet.
    (waiting,) = send_due_digests(config, history.db, DUE + timedelta(seconds=10))
    assert waiting.status == "waiting"
    assert smtp.messages == []
    # Later: sent, and only once however often the daemon calls.
    results = send_due_digests(config, history.db, DUE + timedelta(minutes=5))
    assert [r.status for r in results] == ["sent"]
    send_due_digests(config, history.db, DUE + timedelta(minutes=10))
    assert len(smtp.wait_for(1)) == 1
    assert statuses(history.db) == [(DAY.isoformat(), "com@example.ma", "sent", 2)]


def test_the_retried_message_keeps_its_message_id(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    smtp.fail_with = "451 try later"
    send_due_digests(config, history.db, DUE)
    stored = next(history.db.query("SELECT message_id FROM digests"))["message_id"]
    smtp.fail_with = None
    send_due_digests(config, history.db, DUE + timedelta(hours=1))
    (message,) = smtp.wait_for(1)
    assert message["Message-ID"] == stored


def test_a_digest_missed_while_down_is_sent_on_return(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    history.mention(at(DAY + timedelta(1), 9), title="Le jour manqué")
    send_due_digests(config, history.db, DUE)  # the service ran on the 26th ...
    # ... was down on the 27th at 08:00, and comes back on the 28th at 10:00 local.
    back = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    results = send_due_digests(config, history.db, back)
    assert [(r.date, r.status) for r in results] == [
        (DAY + timedelta(1), "sent"),
        (DAY + timedelta(2), "sent"),
    ]
    subjects = [m["Subject"] for m in smtp.wait_for(3)]
    assert any("26 novembre" in s for s in subjects)


def test_a_fresh_install_does_not_mail_the_past(tmp_path, smtp, history):
    results = send_due_digests(make_config(tmp_path, smtp), history.db, DUE)
    assert [(r.date, r.status) for r in results] == [(DAY, "sent")]
    later = send_due_digests(make_config(tmp_path, smtp), history.db, DUE + timedelta(hours=2))
    assert [r.date for r in later] == [DAY]  # the day before the install stays unsent


def test_without_smtp_the_digest_goes_to_the_outbox_and_counts_as_sent(tmp_path, history):
    config = make_config(tmp_path, smtp=None, to=())
    (result,) = send_due_digests(config, history.db, DUE)
    assert result.status == "sent" and result.recipient == "outbox"
    (path,) = (tmp_path / "outbox").iterdir()
    assert str(path) == result.where
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith("Veille e-réputation")
    assert parsed["To"] is None
    send_due_digests(config, history.db, DUE + timedelta(hours=1))
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_forcing_a_day_sends_it_through_the_same_ledger(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    forced = send_due_digests(config, history.db, DUE, force_day=DAY - timedelta(3))
    assert [r.status for r in forced] == ["sent"]
    assert [r.status for r in send_digest(config, history.db, DAY - timedelta(3), DUE)] == [
        "already_sent"
    ]
    assert len(smtp.wait_for(1)) == 1


def test_digest_command_dry_run_prints_and_writes_without_sending(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    lines = list(digest_command(config, DAY, dry_run=True, db=history.db, now=DUE))
    assert "Atlas Télécom baisse ses prix" in "\n".join(lines)
    path = Path(lines[-1].rpartition(" ")[2])
    assert path.parent == tmp_path / "outbox" / "dry-run" and path.exists()
    assert smtp.messages == [] and statuses(history.db) == []


def test_digest_command_send_uses_the_ledger_and_refuses_an_unfinished_day(tmp_path, smtp, history):
    config = make_config(tmp_path, smtp)
    lines = list(digest_command(config, None, send=True, db=history.db, now=DUE))
    assert lines == [f"digest of {DAY} to com@example.ma: sent via smtp://{smtp.host}:{smtp.port}"]
    again = list(digest_command(config, None, send=True, db=history.db, now=DUE))
    assert again == [f"digest of {DAY} to com@example.ma: already_sent"]
    with pytest.raises(EreputationError, match="not over"):
        list(digest_command(config, DAY + timedelta(1), send=True, db=history.db, now=DUE))
    assert len(smtp.wait_for(1)) == 1
