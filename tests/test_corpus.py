"""Hostile and broken input: the shared corpus through fetch → extract → match → store → digest.

Every file under ``../shared/corpus/{feedparser-tests,feed-suites,real-feeds,hostile}`` is served
on 127.0.0.1 as one feed source and polled in one real cycle into a real SQLite file, together
with XML bombs and external entities wrapped inside RSS and Atom; every stored mention is then
rendered through the digest template.  The harness is ``bench/corpus_report.py`` (which prints
the counts for docs/robustness.md); here its findings are asserted.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpus_report  # noqa: E402

# The daemon's own footprint (numpy, scikit-learn, trafilatura loaded) is about 150 MiB; a
# quadratic blowup of the 10 MB fetch cap would need terabytes.
MAX_PEAK_MIB = 700

pytestmark = pytest.mark.skipif(
    not (SHARED / "corpus").is_dir(), reason="../shared/corpus is not beside the clone"
)


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("corpus")
    secret = workdir / "secret.txt"
    secret.write_text(corpus_report.SECRET)
    root = SHARED / "corpus"
    files = corpus_report.corpus_files(SHARED)
    bodies = {str(p.relative_to(root)): p.read_bytes() for p in files}
    return corpus_report.run_corpus(bodies, workdir, secret), len(files)


def test_every_file_is_handled_or_rejected_with_a_reason_never_a_crash(corpus_run):
    run, file_count = corpus_run
    assert file_count > 3000  # the four folders really were read
    assert len(run.outcomes) == file_count + len(corpus_report.wrapped_attacks("http://x", Path()))
    crashes = {name: o for name, o in run.outcomes.items() if o.startswith("crash")}
    assert crashes == {}
    counts = run.counts()
    assert counts["ok"] > 3000  # well-formed feeds, even without entries, are not errors
    for name, outcome in run.outcomes.items():
        if outcome.startswith("rejected"):
            reason = outcome.removeprefix("rejected: ")
            assert reason.strip() and "\n" not in reason and len(reason) < 300, name


def test_web_text_flows_into_the_digest_and_nothing_in_it_is_active(corpus_run):
    run, _ = corpus_run
    assert run.mentions > 200  # the brands were chosen so that corpus text reaches the digest
    hrefs = []
    for page in run.digest_pages:
        problems, page_hrefs = corpus_report.audit_html(page)
        assert problems == []
        hrefs += page_hrefs
        lowered = page.lower()
        assert "<script" not in lowered
        assert 'href="javascript:' not in lowered and "href='javascript:" not in lowered
        assert " onerror=" not in lowered.replace("&lt;", "\0")  # only inside escaped text
    assert len(hrefs) > 100
    assert all(href.startswith(("http://", "https://")) for href in hrefs)


def test_payload_text_is_shown_escaped_not_dropped(corpus_run):
    """The brand "alert" catches XSS payloads' own words: they appear, as harmless text."""
    run, _ = corpus_run
    assert any("alert" in page and "&lt;" in page for page in run.digest_pages)


def test_external_entities_are_never_resolved(corpus_run):
    run, _ = corpus_run
    assert run.xxe_hits == 0  # the loopback server never received the entity's request
    assert not run.secret_in_database  # file:// entity aimed at a local secret
    assert not run.passwd_in_database  # file:///etc/passwd


def test_wrapped_bombs_are_refused_or_left_unexpanded(corpus_run):
    run, _ = corpus_run
    assert run.outcomes["wrapped/quadratic.rss"].startswith("rejected: refused")
    assert run.outcomes["wrapped/quadratic.atom"].startswith("rejected: refused")
    assert not run.outcomes["wrapped/billion-laughs.rss"].startswith("crash")


def test_bombs_finish_in_bounded_time_and_memory_through_the_cli(tmp_path, site):
    """``run --once`` on every bomb: it ends (time limit) with a bounded peak memory."""
    bombs = {
        name: (SHARED / "corpus" / name).read_bytes()
        for name in (
            "hostile/defusedxml/quadratic.xml",
            "hostile/defusedxml/xmlbomb.xml",
            "hostile/defusedxml/cyclic.xml",
            "hostile/payloadsallthethings/xxe/billion-laughs.xml",
        )
    }
    bombs.update(corpus_report.wrapped_attacks(site.url("/xxe"), tmp_path / "secret.txt"))
    # The fetch cap is 10 MB: a quadratic blowup of that size would expand to terabytes.
    bombs["big-quadratic.rss"] = corpus_report.rss(
        "&a;" * 1_000_000, f'<!ENTITY a "{"B" * 5_000_000}">'
    )
    sources = []
    for index, body in enumerate(bombs.values()):
        url = site.add(f"/bomb/{index}", body, Content_Type="application/rss+xml")
        sources.append(f'  - {{name: "bomb {index}", url: "{url}", full_text: never}}')
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "database: bombs.db\nbrands:\n  - name: Python\nsources:\n"
        + "\n".join(sources)
        + "\nfetch: {host_delay: 0, per_host: 4, max_size: 12MB}\n",
        encoding="utf-8",
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith("EREPUTATION_")}
    # A parent whose only child is the daemon reports that child's peak RSS; the address-space
    # limit is only a safety net so that a regression cannot take the machine down.
    runner = (
        "import resource, subprocess, sys\n"
        "limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))\n"
        "done = subprocess.run(sys.argv[1:], preexec_fn=limit)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(done.returncode)\n"
    )
    command = [sys.executable, "-m", "ereputation.cli", "run", "--once", "-c", str(config)]
    done = subprocess.run(
        [sys.executable, "-c", runner, *command],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    peak_mib = int(done.stdout.split()[-1]) / 1024
    assert peak_mib < MAX_PEAK_MIB
    assert site.hits("/xxe") == [] and site.hits("/xxe-dtd") == []
    with sqlite3.connect(tmp_path / "bombs.db") as conn:
        polled = conn.execute("SELECT count(*) FROM sources WHERE last_polled_at IS NOT NULL")
        assert polled.fetchone()[0] == len(bombs)
        longest = conn.execute("SELECT max(length(title) + length(summary)) FROM articles")
        assert (longest.fetchone()[0] or 0) < 1_000_000  # nothing expanded into the database
