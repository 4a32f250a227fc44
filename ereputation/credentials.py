"""Where secrets come from: the environment or systemd credentials, never feeds.yaml.

The SMTP password is looked up when a mail is about to be sent, not at load time, so a
credential rotated on disk is picked up without a restart and the ``Config`` value never
holds a secret (it gets logged, printed by ``check`` and compared in tests).
"""

from __future__ import annotations

import os
from pathlib import Path

from ereputation.config import EmailSettings
from ereputation.errors import MailError

CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"


def smtp_password(email: EmailSettings) -> str | None:
    """The SMTP password, or None when none is provided.

    Looks in ``os.environ[email.password_env]`` first (an empty value counts as unset), then
    in the file ``$CREDENTIALS_DIRECTORY/<email.password_file>`` that systemd's
    ``LoadCredential=`` provides.  One trailing newline in the file is dropped (editors add
    it); any other whitespace is kept, since it may be part of the password.

    Raises ``MailError`` when the credentials file exists but cannot be read, or is empty:
    sending without a password would only fail later with a vaguer SMTP error.  It is a
    ``MailError`` so callers treat it like any failed delivery: record it, retry later (by
    then someone may have fixed the file), never lose the message.
    """
    from_env = os.environ.get(email.password_env)
    if from_env:
        return from_env
    folder = os.environ.get(CREDENTIALS_DIRECTORY)
    if not folder:
        return None
    path = Path(folder) / email.password_file
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise MailError(
            f"${CREDENTIALS_DIRECTORY}/{email.password_file}: cannot read ({err.strerror})",
            hint="let the service user read it (systemd LoadCredential= does this)",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MailError(
            f"${CREDENTIALS_DIRECTORY}/{email.password_file}: not UTF-8 text",
            hint="save the password file as UTF-8",
        ) from None
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise MailError(
            f"${CREDENTIALS_DIRECTORY}/{email.password_file}: the file is empty",
            hint=f"write the SMTP password in it, or set ${email.password_env}",
        )
    return password
