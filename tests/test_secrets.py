"""The SMTP password: used to log in, never shown, logged or stored."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sample_feeds import FR

SECRET = "s3cr3t-Zellige-42!"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def auth_smtp():
    """An SMTP server on loopback that requires AUTH (plain text allowed: loopback test)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    received: list[bytes] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(envelope.content)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        logins.append((login, password))
        return AuthResult(success=password == SECRET)

    port = free_port()
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator,
        auth_require_tls=False, auth_required=True,
    )  # fmt: skip
    controller.start()
    yield port, received, logins
    controller.stop()


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "ereputation.cli", "-v", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_login_works_and_the_password_appears_nowhere(tmp_path, site, auth_smtp):
    port, received, logins = auth_smtp
    site.add("/fr.xml", FR)
    (tmp_path / "feeds.yaml").write_text(
        f"""
database: t.db
brands: [{{name: Atlas Télécom}}]
sources: [{{name: FR, url: "{site.url("/fr.xml")}", full_text: never}}]
digest: {{to: [com@example.ma]}}
email:
  smtp: "127.0.0.1:{port}"
  starttls: false
  username: alerts@example.ma
  timeout: 5s
""",
        encoding="utf-8",
    )
    check = run(["check"], tmp_path, EREPUTATION_SMTP_PASSWORD=SECRET)
    polled = run(["run", "--once"], tmp_path, EREPUTATION_SMTP_PASSWORD=SECRET)
    sent = run(["digest", "--send"], tmp_path, EREPUTATION_SMTP_PASSWORD=SECRET)
    assert check.returncode == polled.returncode == sent.returncode == 0, sent.stderr
    assert ("alerts@example.ma", SECRET) in logins
    assert received
    for result in (check, polled, sent):
        assert SECRET not in result.stdout + result.stderr
    for stored in tmp_path.rglob("*"):
        if stored.is_file():
            assert SECRET.encode() not in stored.read_bytes(), stored

    # A wrong password: a clear error, still without the password in it.
    wrong = "wrong-" + SECRET
    (tmp_path / "t.db").unlink()
    run(["run", "--once"], tmp_path, EREPUTATION_SMTP_PASSWORD=wrong)
    failed = run(["digest", "--send"], tmp_path, EREPUTATION_SMTP_PASSWORD=wrong)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert wrong not in failed.stdout + failed.stderr
    assert "recorded for retry" in failed.stderr
