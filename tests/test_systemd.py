"""The unit file: it parses, systemd accepts it, and its sandbox scores as well as we promise.

``systemd-analyze`` works on a unit file without a running systemd (a container, CI as root),
so these tests run wherever the tool is installed and skip elsewhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess
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
    }
    for key, value in expected.items():
        assert values(key) == [value], key
    assert values("SystemCallFilter") == ["@system-service", "~@privileged @resources"]
