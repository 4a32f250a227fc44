"""Mail: composed messages and their delivery to a real SMTP server on loopback or the outbox."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ereputation.config import EmailSettings
from ereputation.errors import MailError
from ereputation.mail import compose_message, deliver, stable_message_id

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _message(**overrides):
    values = dict(
        sender="e-réputation <alerts@example.ma>",
        recipients=["com@example.ma"],
        subject="Veille e-réputation — 25 novembre : 2 signaux",
        text="Bonjour\nاتصالات الأطلس",
        html="<p>Bonjour</p>",
        brands=["Atlas Télécom"],
        kind="digest",
        date=NOW,
    )
    values.update(overrides)
    return compose_message(**values)


def test_message_has_the_headers_users_filter_on():
    message = _message()
    assert message["From"].addresses[0].addr_spec == "alerts@example.ma"
    assert message["To"] == "com@example.ma"
    assert message["Subject"] == "Veille e-réputation — 25 novembre : 2 signaux"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"].endswith("@example.ma>")
    assert message["List-Id"] == "ereputation digest <digest.ereputation.example.ma>"
    assert message.get_all("X-Ereputation-Brand") == ["Atlas Télécom"]
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "اتصالات الأطلس" in message.get_body(("plain",)).get_content()


def test_subject_is_encoded_so_it_survives_the_wire():
    raw = bytes(_message())
    header = raw.split(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n", 1)[0]
    assert "é".encode() not in header  # RFC 2047 encoded, 7-bit header
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Veille e-réputation — 25 novembre : 2 signaux"


def test_stable_message_id_is_the_same_for_the_same_digest():
    one = stable_message_id("digest", "2026-11-25", "a@x.ma", sender="a <b@example.ma>")
    assert one == stable_message_id("digest", "2026-11-25", "a@x.ma", sender="a <b@example.ma>")
    assert one != stable_message_id("digest", "2026-11-26", "a@x.ma", sender="a <b@example.ma>")


def test_deliver_over_smtp(smtp):
    settings = EmailSettings(smtp_host=smtp.host, smtp_port=smtp.port, starttls=False)
    where = deliver(_message(), settings, ["com@example.ma"])
    assert where == f"smtp://{smtp.host}:{smtp.port}"
    (received,) = smtp.wait_for(1)
    assert received["Subject"] == "Veille e-réputation — 25 novembre : 2 signaux"
    assert smtp.envelopes == [("alerts@example.ma", ["com@example.ma"])]


def test_refusal_raises_mail_error_with_the_server_reply(smtp):
    smtp.fail_with = "451 try later"
    settings = EmailSettings(smtp_host=smtp.host, smtp_port=smtp.port, starttls=False)
    with pytest.raises(MailError) as info:
        deliver(_message(), settings, ["com@example.ma"])
    assert "451" in str(info.value)
    assert info.value.hint


def test_unreachable_server_raises_mail_error(tmp_path):
    settings = EmailSettings(smtp_host="127.0.0.1", smtp_port=1, starttls=False, timeout=5)
    with pytest.raises(MailError, match="cannot reach smtp://127.0.0.1:1"):
        deliver(_message(), settings, ["com@example.ma"])


def test_starttls_asked_of_a_server_without_it_is_a_clear_error(smtp):
    settings = EmailSettings(smtp_host=smtp.host, smtp_port=smtp.port, starttls=True)
    with pytest.raises(MailError) as info:
        deliver(_message(), settings, ["com@example.ma"])
    assert "starttls" in info.value.hint.lower()
    assert smtp.messages == []


def test_login_without_password_says_where_to_put_it(smtp, monkeypatch):
    pytest.importorskip("ereputation.credentials")
    monkeypatch.delenv("EREPUTATION_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    settings = EmailSettings(
        smtp_host=smtp.host, smtp_port=smtp.port, starttls=False, username="alerts@example.ma"
    )
    with pytest.raises(MailError) as info:
        deliver(_message(), settings, ["com@example.ma"])
    assert "EREPUTATION_SMTP_PASSWORD" in info.value.hint


def test_without_smtp_the_message_lands_in_the_outbox(tmp_path):
    outbox = tmp_path / "outbox"
    where = deliver(_message(), EmailSettings(outbox=outbox), ["com@example.ma"])
    path = Path(where)
    assert path.parent == outbox and path.suffix == ".eml"
    assert [p.name for p in outbox.iterdir()] == [path.name]  # no temporary file left behind
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["X-Ereputation-Brand"] == "Atlas Télécom"


def test_unwritable_outbox_raises_mail_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MailError, match="cannot write to outbox"):
        deliver(_message(), EmailSettings(outbox=blocker / "outbox"), ["com@example.ma"])
