"""Lint and type checks, run with the tests so CI enforces them (STYLE.md: ruff and mypy)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the test extras")
def test_ruff_finds_nothing() -> None:
    lint = run("ruff", "check", "ereputation", "tests", "bench")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatted = run("ruff", "format", "--check", "ereputation", "tests", "bench")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_mypy_finds_nothing() -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extras")
    types = run(sys.executable, "-m", "mypy", "ereputation")
    assert types.returncode == 0, types.stdout + types.stderr


def test_every_cli_verb_is_in_the_readme() -> None:
    from ereputation.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in main.commands if f"`{name}" not in readme]
    assert not missing, f"verbs not documented in README.md: {missing}"
