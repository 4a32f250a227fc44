"""sd_notify against a real AF_UNIX datagram socket standing in for systemd's."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ereputation import sdnotify


class Listener:
    """The receiving end systemd would hold: one datagram per ``notify`` call."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def receive(self) -> str:
        return self.sock.recv(4096).decode("utf-8")

    def pending(self) -> bool:
        try:
            self.sock.recv(4096, socket.MSG_DONTWAIT | socket.MSG_PEEK)
        except BlockingIOError:
            return False
        return True


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield Listener(sock)


def test_ready_stopping_watchdog_reach_the_socket(listener: Listener) -> None:
    assert sdnotify.ready() is True
    assert listener.receive() == "READY=1"
    assert sdnotify.watchdog() is True
    assert listener.receive() == "WATCHDOG=1"
    assert sdnotify.stopping() is True
    assert listener.receive() == "STOPPING=1"


def test_status_is_one_line_of_utf8(listener: Listener) -> None:
    assert sdnotify.status("polled 3 sources\n2 mentions of اتصالات الأطلس")
    assert listener.receive() == "STATUS=polled 3 sources 2 mentions of اتصالات الأطلس"


def test_reloading_carries_a_monotonic_timestamp(listener: Listener) -> None:
    assert sdnotify.reloading()
    lines = listener.receive().split("\n")
    assert lines[0] == "RELOADING=1"
    key, value = lines[1].split("=")
    assert key == "MONOTONIC_USEC" and int(value) > 0


def test_abstract_socket_name_with_at_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"ereputation-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready() is True
        assert sock.recv(4096) == b"READY=1"


def test_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    assert sdnotify.watchdog() is False


def test_unusable_socket_returns_false_instead_of_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    assert sdnotify.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert sdnotify.notify("READY=1") is False


def test_watchdog_interval_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 30.0


@pytest.mark.parametrize(
    ("usec", "pid"),
    [
        (None, None),  # no watchdog configured
        ("0", None),
        ("soon", None),
        ("30000000", "1"),  # meant for another process: inherited by a child
        ("30000000", "x"),
    ],
)
def test_watchdog_interval_absent(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None
) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert sdnotify.watchdog_interval() is None
