"""The naive monitor the daemon is measured against: one feed after another, nothing clever.

HTTP with libcurl (pycurl, one plain GET after another, 3 s timeout, as the daemon uses it),
feedparser on the body, a regular expression per brand over title and summary (tags stripped
by a regex), VADER on the text, one sqlite-utils insert per mention.  (It used httpx until the
daemon moved to pycurl; urllib made it about 3x slower in wall time on this corpus, which would
flatter the ratio.)
This is what a careful first script looks like; the ratio to it says what the design buys.

Run as a process by ``scale.py`` (so its CPU time and memory are measured like the daemon's):
``python bench/baseline.py URLS_FILE DATABASE`` — one feed URL per line.
"""

from __future__ import annotations

import re
import sys
from io import BytesIO
from pathlib import Path

import feedparser
import pycurl
import sqlite_utils
from corpus import BRAND_TERMS
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_TAGS = re.compile(r"<[^>]+>")


def run_baseline(urls: list[str], database: Path) -> int:
    """Poll ``urls`` in order and store (url, brand, sentiment) rows; return the rows stored."""
    patterns = {
        brand: re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b", re.IGNORECASE)
        for brand, terms in BRAND_TERMS.items()
    }
    vader = SentimentIntensityAnalyzer()
    db = sqlite_utils.Database(database)
    table = db["mentions"]
    stored = 0
    curl = pycurl.Curl()
    curl.setopt(pycurl.TIMEOUT, 3)
    for url in urls:
        buffer = BytesIO()
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.WRITEDATA, buffer)
        try:
            curl.perform()
        except pycurl.error:  # timeouts, refused connections
            continue
        if curl.getinfo(pycurl.RESPONSE_CODE) != 200:
            continue
        body = buffer.getvalue()
        parsed = feedparser.parse(body)
        for entry in parsed.entries:
            text = _TAGS.sub(" ", f"{entry.get('title', '')}\n{entry.get('summary', '')}")
            for brand, pattern in patterns.items():
                if pattern.search(text):
                    score = vader.polarity_scores(text)["compound"]
                    row = {"url": entry.get("link"), "brand": brand, "sentiment": score}
                    table.insert(row, pk=("url", "brand"), replace=True)
                    stored += 1
    return stored


if __name__ == "__main__":
    urls = Path(sys.argv[1]).read_text().split()
    print(run_baseline(urls, Path(sys.argv[2])))
