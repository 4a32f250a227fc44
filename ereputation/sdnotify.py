"""Tell systemd how the daemon is doing: the sd_notify protocol, in the standard library only.

The unit runs with ``Type=notify`` and ``WatchdogSec=``: systemd considers the service started
only after ``ready()``, and restarts it when ``watchdog()`` stops arriving in time (a hung poll
loop, a deadlock).  Outside systemd (``$NOTIFY_SOCKET`` unset, e.g. ``ereputation run`` in a
terminal or in the tests) every call is a no-op that returns ``False``, so callers never check
whether they run under systemd.

Why hand-written rather than a dependency: the protocol is one datagram of ``KEY=value`` lines
to an AF_UNIX socket, about twenty lines of code, and the ``sdnotify`` package on PyPI has not
been maintained since 2017 (``systemd-python`` needs libsystemd headers to build).

Protocol reference: sd_notify(3).  ``$NOTIFY_SOCKET`` is a filesystem path, or an abstract
socket name written with a leading ``@`` (replaced by a NUL byte on the wire).
"""

from __future__ import annotations

import os
import socket
import time

__all__ = [
    "notify",
    "ready",
    "reloading",
    "status",
    "stopping",
    "watchdog",
    "watchdog_interval",
]


def notify(state: str) -> bool:
    """Send ``state`` (one or more ``KEY=value`` lines) to systemd.

    Returns ``True`` when the datagram was sent, ``False`` when not under systemd or when the
    socket is unusable.  Never raises: a monitoring hiccup must not stop the daemon.
    """
    address = _socket_address()
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError:
        return False
    return True


def ready() -> bool:
    """Start-up is complete (config loaded, database open): ``systemctl start`` returns now."""
    return notify("READY=1")


def reloading() -> bool:
    """A reload (SIGHUP) has begun; call ``ready()`` when the new configuration is in place.

    ``MONOTONIC_USEC`` lets newer systemd (>= 253) match the reload to this notification.
    """
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")


def stopping() -> bool:
    """Shutdown has begun (SIGTERM received); systemd waits up to ``TimeoutStopSec=``."""
    return notify("STOPPING=1")


def watchdog() -> bool:
    """Keep-alive: the main loop is alive.  Send at least every ``watchdog_interval() / 2``."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """One line shown by ``systemctl status`` (e.g. ``polled 42 sources, 3 new mentions``).

    Newlines would start a new ``KEY=value`` assignment, so they are folded into spaces.
    """
    return notify("STATUS=" + " ".join(text.splitlines()))


def watchdog_interval() -> float | None:
    """The watchdog timeout in seconds that systemd enforces on this process, or ``None``.

    ``None`` when ``$WATCHDOG_USEC`` is unset or invalid, or when ``$WATCHDOG_PID`` names
    another process (the variables were inherited by a child).  Callers should ping at half
    this interval, as sd_watchdog_enabled(3) recommends, to absorb scheduling delays.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value / 1_000_000


def _socket_address() -> str | None:
    """``$NOTIFY_SOCKET`` as an address for ``socket.connect``, or ``None`` if unusable."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    # Empty (not under systemd) or a form we do not speak (``vsock:`` for VMs, systemd >= 254).
    return None
