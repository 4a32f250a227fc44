"""Mail: compose a multipart message and hand it to an SMTP server or the outbox folder.

This is one of the three modules that do I/O.  ``compose_message`` is pure; ``deliver`` talks
to the outside world and raises ``MailError`` (never anything else) when the message could not
be handed over, so callers can record the failure and retry later.  The SMTP password is read
only at the moment of login and never appears in logs, exceptions or the database.
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path

from .config import EmailSettings
from .errors import MailError

log = logging.getLogger(__name__)

LIST_ID = "ereputation"


def sender_domain(sender: str) -> str:
    """The domain of the ``from:`` address, for Message-ID and List-Id ("localhost" if none)."""
    addresses = getaddresses([sender])
    address = addresses[0][1] if addresses else ""
    domain = address.rpartition("@")[2]
    return domain or "localhost"


def compose_message(
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    brands: Sequence[str] = (),
    kind: str = "digest",
    date: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """Build a ``multipart/alternative`` message (plain text first, then HTML), all UTF-8.

    ``kind`` (digest | alert) goes into List-Id so users can filter; ``brands`` go into
    ``X-Ereputation-Brand`` (one header per brand).  ``message_id`` may be given so that a
    retried send carries the same id and mail clients can drop a duplicate.  With no
    recipients the To header is omitted (outbox use).
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    if recipients:
        message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    domain = sender_domain(sender)
    message["Message-ID"] = message_id or make_msgid(kind, domain=domain)
    message["List-Id"] = f"ereputation {kind} <{kind}.{LIST_ID}.{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Ereputation-Kind"] = kind
    for brand in brands:
        message["X-Ereputation-Brand"] = brand
    message.set_content(text, subtype="plain", charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def stable_message_id(*parts: str, sender: str) -> str:
    """A Message-ID derived from ``parts``: the same digest re-sent keeps the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]
    return f"<{digest}.ereputation@{sender_domain(sender)}>"


def deliver(message: EmailMessage, email: EmailSettings, recipients: Sequence[str]) -> str:
    """Hand ``message`` over; return where it went (``smtp://host:port`` or the .eml path).

    With ``email.smtp_host`` unset, or no recipients, the message is written to ``email.outbox``
    (temp file then rename, so a reader never sees half a file) and that counts as delivered.
    Raises ``MailError`` when the server refuses or cannot be reached, or the outbox is unwritable.
    A message is delivered only when the server accepted it for at least one recipient.
    """
    if email.smtp_host is None:
        return str(write_outbox(message, email.outbox))
    if not recipients:
        # Nobody to send to (no `digest: to:`): keep the message where the user can find it.
        log.warning("no recipient under `digest: to:`; message written to %s", email.outbox)
        return str(write_outbox(message, email.outbox))
    return _send_smtp(message, email, recipients)


def write_outbox(message: EmailMessage, outbox: Path) -> Path:
    """Write ``message`` as ``<outbox>/<UTC time>-<hash>.eml`` atomically; return the path."""
    data = bytes(message)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"{stamp}-{hashlib.sha256(data).hexdigest()[:12]}.eml"
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            target = outbox / name
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise MailError(
            f"cannot write to outbox {outbox}: {err.strerror or err}",
            hint="make the outbox folder writable, or configure `email: smtp:`",
        ) from err
    return target


def _smtp_password(email: EmailSettings) -> str | None:
    # Imported lazily: the credentials module is written separately and only needed for login.
    from .credentials import smtp_password

    return smtp_password(email)


def _send_smtp(message: EmailMessage, email: EmailSettings, recipients: Sequence[str]) -> str:
    host, port = email.smtp_host or "", email.smtp_port
    where = f"smtp://{host}:{port}"
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if email.ssl:
            client = smtplib.SMTP_SSL(host, port, timeout=email.timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=email.timeout)
        with client:
            client.ehlo()
            if email.starttls and not email.ssl:
                client.starttls(context=context)
                client.ehlo()
            if email.username:
                password = _smtp_password(email)
                if password is None:
                    raise MailError(
                        f"no SMTP password for {email.username}",
                        hint=f"set ${email.password_env} or put the password in "
                        f"$CREDENTIALS_DIRECTORY/{email.password_file}",
                    )
                client.login(email.username, password)
            # The envelope sender is taken from the From header (EmailSettings.sender).
            refused = client.send_message(message, to_addrs=list(recipients))
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as err:
        raise MailError(
            f"{where} refused the login of {email.username}: {_smtp_reply(err)}",
            hint="check `email: username:` and the SMTP password",
        ) from None
    except smtplib.SMTPNotSupportedError as err:
        raise MailError(
            f"{where} does not support what was asked: {err}",
            hint="set `email: starttls: false` or `ssl: true` to match the server",
        ) from None
    except smtplib.SMTPRecipientsRefused as err:
        raise MailError(
            f"{where} refused every recipient: {', '.join(err.recipients)}",
            hint="check the addresses under `digest: to:`",
        ) from None
    except smtplib.SMTPResponseException as err:
        raise MailError(
            f"{where} refused the message: {_smtp_reply(err)}",
            hint="a 4xx reply is temporary and will be retried; a 5xx needs a fix on your side",
        ) from None
    except (smtplib.SMTPException, OSError) as err:
        raise MailError(
            f"cannot reach {where}: {err}",
            hint="check `email: smtp:` (host:port), the network and the TLS setting",
        ) from None
    if refused:
        log.warning("%s refused some recipients: %s", where, ", ".join(sorted(refused)))
    return where


def _smtp_reply(err: smtplib.SMTPResponseException) -> str:
    text = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) else ""
    return f"{err.smtp_code} {text}".strip()
