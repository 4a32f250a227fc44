"""The unit file: it parses, systemd accepts it, and its sandbox scores as well as we promise.

``systemd-analyze`` works on a unit file without a running systemd (a container, CI as root),
so these tests run wherever the tool is installed and skip elsewhere.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ereputation.config import EmailSettings

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "ereputation.service"
EXEC_START = "/usr/local/bin/ereputation run -c /etc/ereputation/feeds.yaml"
MAX_EXPOSURE = 2.0

analyze = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(analyze is None, reason="systemd-analyze is not installed")


def read_unit(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; keys may repeat, as systemd allows."""
    settings = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        settings.append((section, key.strip(), value.strip()))
    return settings


def values(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in read_unit(UNIT.read_text()) if s == section and k == key]


def copy_with_runnable_exec_start(tmp_path: Path) -> Path:
    """The unit with only ExecStart's binary replaced by a stub that exists on this machine.

    ``verify`` refuses a unit whose binary is missing, and /usr/local/bin/ereputation exists
    only on an installed host; everything else it checks stays exactly as shipped.
    """
    stub = tmp_path / "bin" / "ereputation"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = UNIT.read_text()
    assert f"ExecStart={EXEC_START}\n" in text
    copy = tmp_path / UNIT.name  # verify derives the unit's name from the file name
    copy.write_text(text.replace("ExecStart=/usr/local/bin/ereputation ", f"ExecStart={stub} "))
    return copy


@needs_analyze
def test_security_exposure_is_at_most_two() -> None:
    result = subprocess.run(
        [str(analyze), "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    found = re.search(r"Overall exposure level for ereputation\.service: (\d+\.\d+)", output)
    assert found, output
    assert float(found.group(1)) <= MAX_EXPOSURE, output


@needs_analyze
def test_verify_accepts_the_unit_without_warnings(tmp_path: Path) -> None:
    copy = copy_with_runnable_exec_start(tmp_path)
    result = subprocess.run(
        [str(analyze), "verify", "--no-pager", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Unknown keys and bad values are only warnings (exit 0), so any output about our unit fails.
    ours = [line for line in result.stderr.splitlines() if "ereputation" in line]
    assert result.returncode == 0, result.stderr
    assert ours == [], result.stderr


@needs_analyze
def test_verify_would_catch_a_misspelt_key(tmp_path: Path) -> None:
    copy = copy_with_runnable_exec_start(tmp_path)
    copy.write_text(copy.read_text().replace("ProtectClock=yes", "ProtectClok=yes"))
    result = subprocess.run(
        [str(analyze), "verify", "--no-pager", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Unknown key 'ProtectClok'" in result.stderr


def test_daemon_contract_settings() -> None:
    assert values("ExecStart") == [EXEC_START]
    assert values("Type") == ["notify"]
    assert values("NotifyAccess") == ["main"]
    assert values("WatchdogSec") and values("TimeoutStopSec")
    assert values("ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert values("Restart") == ["on-failure"]
    # A config error (exit 2, ConfigError.exit_code) must not restart in a loop.
    assert values("RestartPreventExitStatus") == ["2"]
    assert values("DynamicUser") == ["yes"]


def test_paths_and_credential_match_what_the_daemon_reads() -> None:
    assert values("ConfigurationDirectory") == ["ereputation"]
    assert values("StateDirectory") == ["ereputation"]
    assert "EREPUTATION_STATE_DIR=%S/ereputation" in values("Environment")
    assert values("WorkingDirectory") == ["%S/ereputation"]
    assert "-c /etc/ereputation/feeds.yaml" in EXEC_START
    # The daemon looks for $CREDENTIALS_DIRECTORY/<password_file>: the credential id must match.
    credential = EmailSettings().password_file
    assert values("LoadCredential") == [f"{credential}:/etc/ereputation/{credential}"]


def test_sandbox_settings_present() -> None:
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "",
        "MemoryDenyWriteExecute": "yes",
        "UMask": "0077",
        "ProtectProc": "invisible",
        "ProcSubset": "pid",
        "PrivateUsers": "yes",
        "SystemCallErrorNumber": "EPERM",
    }
    for key, value in expected.items():
        assert values(key) == [value], key
    assert values("SystemCallFilter") == ["@system-service", "~@privileged @resources"]


# --- The unit's seccomp sandbox, rebuilt without systemd ------------------------------------
# systemd applies SystemCallFilter=, SystemCallErrorNumber=, RestrictAddressFamilies= and
# MemoryDenyWriteExecute= as a seccomp filter.  The test below builds the same filter with
# libseccomp (as systemd does), loads it into a child process and runs the daemon's libraries
# through real work there, so a dependency that needs a filtered call is found on a developer
# machine, not on the server.  (It was: numpy's OpenBLAS calls mbind(), in @resources; with
# systemd's default action, SIGSYS, that would kill the daemon at import time, hence
# SystemCallErrorNumber=EPERM.)

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
PROT_WRITE, PROT_EXEC = 0x2, 0x4
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def scmp_act_errno(errno: int) -> int:
    return 0x00050000 | (errno & 0xFFFF)


class ArgCmp(ctypes.Structure):
    """``struct scmp_arg_cmp`` from seccomp.h."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


@functools.cache
def expand_syscall_group(group: str) -> frozenset[str]:
    """The system calls of a systemd group such as ``@system-service``, nested groups included."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager", group],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names: set[str] = set()
    for line in listing.splitlines()[1:]:
        name = line.strip()
        if name and not name.startswith("#"):
            names |= expand_syscall_group(name) if name.startswith("@") else {name}
    return frozenset(names)


def unit_syscall_allow_list() -> frozenset[str]:
    """The calls the unit allows: its first SystemCallFilter= minus the ``~`` groups."""
    allow, deny = values("SystemCallFilter")
    allowed: frozenset[str] = frozenset()
    for group in allow.split():
        allowed |= expand_syscall_group(group)
    for group in deny.removeprefix("~").split():
        allowed -= expand_syscall_group(group)
    return allowed


def load_unit_sandbox() -> None:
    """Confine this process as the unit would (seccomp part); irreversible."""
    seccomp = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ArgCmp),
    ]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    errno = {"EPERM": 1}[values("SystemCallErrorNumber")[0]]
    ctx = seccomp.seccomp_init(scmp_act_errno(errno))

    def allow(name: str, *conditions: tuple[int, int, int, int]) -> None:
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # not a call on this architecture
            return
        array = (ArgCmp * max(1, len(conditions)))(*(ArgCmp(*c) for c in conditions))
        status = seccomp.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number, len(conditions), array)
        assert status == 0, (name, status)

    # MemoryDenyWriteExecute=: no W+X mapping, no mprotect() adding PROT_EXEC.
    conditional = {"socket", "mmap", "mprotect", "pkey_mprotect", "shmat"}
    for name in unit_syscall_allow_list() - conditional:
        allow(name)
    allow("mmap", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))
    allow("mmap", (2, SCMP_CMP_MASKED_EQ, PROT_WRITE, 0))
    allow("mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))
    allow("pkey_mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))
    # RestrictAddressFamilies=
    for family in values("RestrictAddressFamilies")[0].split():
        allow("socket", (0, SCMP_CMP_EQ, getattr(__import__("socket"), family), 0))
    assert values("MemoryDenyWriteExecute") == ["yes"]
    # The kernel's own W^X switch (Linux >= 6.3), which newer systemd also sets.
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0)
    assert seccomp.seccomp_load(ctx) == 0


def sandboxed_workload(folder: Path) -> None:
    """Import and exercise what the daemon uses, inside the sandbox; prints ``ok`` at the end."""
    load_unit_sandbox()
    import http.server
    import mmap
    import socket
    import ssl
    import threading
    import zoneinfo

    import apprise
    import feedparser
    import jinja2
    import numpy
    import py3langid
    import trafilatura
    from apscheduler.schedulers.background import BackgroundScheduler
    from bs4 import BeautifulSoup
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from ereputation import sdnotify
    from ereputation.lock import acquire_lock
    from ereputation.store import open_database

    # The sandbox is in force: what the unit forbids fails with EPERM, even for root.
    refused = [
        lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW),  # RestrictAddressFamilies=
        lambda: os.sched_setaffinity(0, os.sched_getaffinity(0)),  # ~@resources
        lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC),  # W^X
    ]
    for attempt in refused:
        try:
            attempt()
        except PermissionError:
            continue
        raise AssertionError("the sandbox allowed a call the unit forbids")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from ereputation.config import FetchSettings
    from ereputation.fetch import Conditional, Fetcher, FetchResult

    with Fetcher(FetchSettings(timeout=30)) as fetcher:  # libcurl: its resolver thread too
        url = f"http://localhost:{server.server_address[1]}/"
        result = fetcher.fetch(url)
        assert result.ok and result.status == 200, result.error
        # A poll's GETs: one multi handle waiting on its sockets (select, poll).
        [(_, many)] = [
            answer for batch in fetcher.fetch_many([Conditional(url)]) for answer in batch
        ]
        assert isinstance(many, FetchResult) and many.status == 200, many
    ssl.create_default_context()

    with acquire_lock(folder / "ereputation.db"):
        db = open_database(folder / "ereputation.db")
        assert "articles" in db.table_names()
        db.conn.close()

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(folder / "notify.sock"))
    os.environ["NOTIFY_SOCKET"] = str(folder / "notify.sock")
    assert sdnotify.ready() and listener.recv(64) == b"READY=1"

    feed = b"<rss version='2.0'><channel><item><title>Atlas</title></item></channel></rss>"
    assert feedparser.parse(feed).entries[0].title == "Atlas"
    page = "<html><body><article><p>" + "Atlas T\u00e9l\u00e9com annonce une panne. " * 20
    assert "panne" in (trafilatura.extract(page + "</p></article></body></html>") or "")
    assert BeautifulSoup(page, "lxml").p is not None
    assert py3langid.classify("Le service est en panne depuis hier")[0] == "fr"
    matrix = numpy.ones((64, 64))
    assert float((matrix @ matrix)[0, 0]) == 64.0  # OpenBLAS starts its threads here
    from ereputation.language import detect_language
    from ereputation.sentiment import score_sentiment

    assert detect_language("La panne du réseau a duré toute la journée") == "fr"
    assert score_sentiment("Un service catastrophique et des clients furieux", "fr") is not None
    assert SentimentIntensityAnalyzer().polarity_scores("great service")["compound"] > 0
    assert jinja2.Template("{{ n }} mentions").render(n=3) == "3 mentions"
    assert apprise.Apprise().add("json://127.0.0.1:9/")
    # The feed reader process (spawn: fork, exec, pipes, a POSIX semaphore in /dev/shm).
    from datetime import UTC, datetime

    from ereputation.config import Brand
    from ereputation.feed_reading import FeedReaders
    from ereputation.judge import Analyzer

    readers = FeedReaders(Analyzer([Brand(name="Atlas")]), 1)
    try:
        read = readers.read(feed, "http://127.0.0.1/feed.xml", datetime.now(UTC), "never")
        assert readers.processes == 1  # no fallback to reading in this process
    finally:
        readers.close()
    assert read.problem is None and 0 in read.records, read
    scheduler = BackgroundScheduler(timezone=zoneinfo.ZoneInfo("Africa/Casablanca"))
    done = threading.Event()
    scheduler.add_job(done.set)
    scheduler.start()
    assert done.wait(30)
    scheduler.shutdown()
    print("ok", flush=True)


@needs_analyze
@pytest.mark.skipif(ctypes.util.find_library("seccomp") is None, reason="libseccomp missing")
def test_daemon_libraries_work_inside_the_units_seccomp_sandbox(tmp_path: Path) -> None:
    repo = str(UNIT.parents[1])
    result = subprocess.run(
        [sys.executable, __file__, "--sandboxed-workload", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": repo},
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


if __name__ == "__main__" and sys.argv[1:2] == ["--sandboxed-workload"]:
    sandboxed_workload(Path(sys.argv[2]))
