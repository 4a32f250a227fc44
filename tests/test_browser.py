"""The digest and an alert as a real browser shows them: headless Chromium on the HTML we mail.

Mail clients are not browsers, but a browser is the strictest reader we can run in CI: it
loads anything the page asks for and runs any script.  Each page is rendered from values with
French text, Arabic (right-to-left) snippets next to French, a hostile title and the 14-day
chart, then Chromium dumps the DOM it built and takes screenshots at desktop and phone widths.
The checks: no script and nothing loaded from outside (no <img>, stylesheet, frame or any
src/href that is not an http(s) link), the expected items present, Arabic marked rtl, the page
not wider than a phone, and a screenshot that is not blank.  Screenshots and pages are kept in
tests/artifacts/ (git-ignored) for a human to look at.

Skipped, saying why, when Chromium is not installed (`.ci/run` installs Debian's `chromium`).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from ereputation.alerting import render_alert
from ereputation.digest import (
    BrandSummary,
    ChartDay,
    Counts,
    Item,
    NewOutlet,
    SignalLine,
    Story,
    Window,
    render_digest,
)

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install chromium; .ci/run does it in CI)",
)

DAY = date(2026, 11, 26)
TZ = ZoneInfo("Africa/Casablanca")
HOSTILE = "Atlas Télécom <script>alert(1)</script><img src=x onerror=alert(2)>"
ARABIC_TITLE = "عطل كبير في شبكة اتصالات الأطلس"
ARABIC_SNIPPET = "اشتكى المشتركون من انقطاع الإنترنت بسبب عطل في شبكة اتصالات الأطلس منذ الصباح."


def _item(title, outlet, label, *, url=None, snippet="", language="fr", owned=False, when=""):
    return Item(
        title=title,
        url=url,
        outlet=outlet,
        snippet=snippet,
        label=label,
        sentiment={"negative": -0.8, "positive": 0.6}.get(label or "", 0.0),
        owned=owned,
        language=language,
        when=when or "publié le 26 nov. à 09:12",
    )


def _chart() -> tuple[ChartDay, ...]:
    counts = [(1, 1), (0, 1), (1, 0), (0, 2), (0, 1), (1, 1), (0, 0)] * 2
    counts[-1] = (1, 6)
    peak = max(o + t for o, t in counts)
    return tuple(
        ChartDay(
            day=DAY - timedelta(days=13 - n),
            owned=owned,
            third_party=third,
            owned_width=round(240 * owned / peak),
            third_party_width=round(240 * third / peak),
        )
        for n, (owned, third) in enumerate(counts)
    )


def digest_html() -> str:
    signals = (
        SignalLine("Atlas Télécom", "negative_wave", "Vague négative",
                   "5 mentions négatives sur 6 par des tiers en 24 h (83 %)", "26/11 11:05"),
        SignalLine("Atlas Télécom", "spreading_story", "Histoire qui se propage",
                   "une même histoire reprise par 4 médias en 2 h : depeche.example, "
                   "quotidien.example, hebdo.example, presse.example", "26/11 11:05"),
        SignalLine("Atlas Télécom", "new_voice", "Nouvelle voix",
                   "première mention par akhbar.example", "26/11 11:05"),
    )  # fmt: skip
    brand = BrandSummary(
        name="Atlas Télécom",
        today=Counts(owned=1, third_party=6, negative=5, positive=1),
        previous_day=Counts(third_party=1, neutral=1),
        week_average=Counts(owned=0.4, third_party=1, neutral=0.7, positive=0.3),
        signals=signals,
        third_party=(
            _item("Panne géante chez Atlas Télécom", "depeche.example", "negative",
                  url="https://depeche.example/panne-atlas",
                  snippet="Le réseau d'Atlas Télécom est coupé depuis ce matin, les abonnés "
                  "furieux dénoncent un service catastrophique."),
            _item(ARABIC_TITLE, "akhbar.example", "negative", url="https://akhbar.example/a",
                  snippet=ARABIC_SNIPPET, language="ar"),
            _item(HOSTILE, "javascript.example", "negative", url=None,
                  snippet="Un titre qui essaie d'injecter du code."),
            _item("Atlas Télécom ouvre une boutique à Agadir", "eco.example", "positive",
                  url="https://eco.example/agadir"),
        ),
        third_party_more=2,
        third_party_more_command="ereputation mentions --brand 'Atlas Télécom' --third-party "
        "--since 2026-11-26",
        owned=(
            _item("Atlas Télécom mobilise ses équipes", "atlastelecom.example", "neutral",
                  url="https://atlastelecom.example/blog/incident", owned=True),
        ),
        owned_more=0,
        stories=(
            Story(7, "Panne géante chez Atlas Télécom", "https://depeche.example/panne-atlas",
                  "depeche.example", "26/11 09:22",
                  ("depeche.example", "quotidien.example", "hebdo.example", "presse.example")),
        ),
        new_outlets=(
            NewOutlet("depeche.example", "Panne géante chez Atlas Télécom",
                      "https://depeche.example/panne-atlas"),
            NewOutlet("akhbar.example", ARABIC_TITLE, "https://akhbar.example/a"),
        ),
        chart=_chart(),
    )  # fmt: skip
    window = Window(datetime(2026, 11, 25, 7, tzinfo=UTC), datetime(2026, 11, 26, 7, tzinfo=UTC))
    return render_digest(DAY, window, "fr", (brand,), TZ).html


def alert_html() -> str:
    rows = [
        {"brand": "Atlas Télécom", "kind": "negative_wave",
         "details": {"negative": 5, "total": 6, "share": 0.833}},
        {"brand": "Atlas Télécom", "kind": "new_voice",
         "details": {"outlet": "akhbar.example", "title": ARABIC_TITLE,
                     "url": "https://akhbar.example/a"}},
        {"brand": "Atlas Télécom", "kind": "spreading_story",
         "details": {"outlets": ["depeche.example", "quotidien.example", "hebdo.example"],
                     "hours": 2, "title": HOSTILE, "url": "javascript:alert(3)"}},
    ]  # fmt: skip
    return render_alert(rows, "fr", "26/11 11:05")[1]


def chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``page`` with every name resolution refused: nothing can load."""
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND", *args, page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def png_rows(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    step = 3 if color == 2 else 4
    stride = width * step
    raw = zlib.decompress(idat)
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up = previous[x]
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = previous[x - step] if x >= step else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def assert_not_blank(path: Path) -> None:
    width, height, rows = png_rows(path)
    colours = {row[x : x + 3] for row in rows[::7] for x in range(0, len(row), 3 * 5)}
    assert len(colours) > 20, f"{path}: {len(colours)} colours, looks blank"
    dark = sum(1 for row in rows[::7] for x in range(0, len(row), 15) if max(row[x : x + 3]) < 90)
    assert dark > 50, f"{path}: almost no dark (text) pixels"


def assert_fits(path: Path) -> None:
    """The right edge of the screenshot shows the page background (#f4f4f4) beside the card:
    the card is no wider than the window, nothing is cut off."""
    width, _, rows = png_rows(path)
    step = len(rows[0]) // width
    edge = {row[-step:][:3] for row in rows[20:600]}
    assert edge == {bytes((244, 244, 244))}, f"{path}: content reaches the right edge"


def check_page(html: str, name: str, tmp_path: Path) -> BeautifulSoup:
    """Write ``html``, have Chromium dump its DOM and screenshot it (desktop and phone)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    dumped = chromium(page, tmp_path, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = BeautifulSoup(dumped.stdout, "html.parser")
    for width, height in ((800, 2400), (390, 2400)):
        shot = ARTIFACTS / f"{name}-{width}.png"
        shot.unlink(missing_ok=True)
        result = chromium(page, tmp_path, f"--screenshot={shot}", f"--window-size={width},{height}")
        assert result.returncode == 0, result.stderr[-2000:]
        assert shot.exists(), result.stderr[-2000:]
        assert_not_blank(shot)
        assert_fits(shot)
    return dom


def assert_self_contained(dom: BeautifulSoup) -> None:
    assert not dom.find_all(["script", "img", "iframe", "object", "embed", "svg", "video"])
    assert not dom.find_all("link"), "no stylesheet or other linked resource"
    assert not dom.find_all("style")
    for tag in dom.find_all(True):
        for attr, value in tag.attrs.items():
            assert not attr.lower().startswith("on"), (tag.name, attr)
            if attr in ("src", "srcset", "background", "poster", "data", "action"):
                raise AssertionError(f"<{tag.name} {attr}={value!r}> loads something")
            if attr == "href":
                assert value.startswith(("https://", "http://")), value
            if attr == "style":
                assert "url(" not in value and "expression(" not in value, value


def test_the_digest_in_chromium(tmp_path):
    dom = check_page(digest_html(), "digest", tmp_path)
    assert_self_contained(dom)
    text = dom.get_text(" ", strip=True)
    for expected in (
        "Signaux du jour",
        "Vague négative",
        "5 mentions négatives sur 6 par des tiers en 24 h (83 %)",
        "Panne géante chez Atlas Télécom",
        "publiée d'abord par depeche.example à 26/11 09:22",
        "Nouveaux médias",
        "Publications de la marque",
        "Atlas Télécom mobilise ses équipes",
        "Volume sur 14 jours",
        HOSTILE,  # shown as text, never run
    ):
        assert expected in text, expected
    assert text.index("Signaux du jour") < text.index("Mentions par des tiers")
    assert text.index("Mentions par des tiers") < text.index("Publications de la marque")
    rtl = [tag for tag in dom.find_all(dir="rtl") if ARABIC_TITLE in tag.get_text()]
    assert rtl, "the Arabic title is marked right-to-left"
    snippet = dom.find(string=lambda s: ARABIC_SNIPPET in s)
    assert snippet is not None and snippet.parent.get("dir") == "rtl"
    bars = dom.find_all("td", attrs={"bgcolor": "#1f4e79"})
    assert len(bars) == sum(1 for day in _chart() if day.third_party)  # one per day with any
    assert dom.find("html").get("lang") == "fr"


def test_an_alert_in_chromium(tmp_path):
    dom = check_page(alert_html(), "alert", tmp_path)
    assert_self_contained(dom)
    text = dom.get_text(" ", strip=True)
    assert "Alerte Atlas Télécom : Vague négative, Nouvelle voix, Histoire qui se propage" in text
    assert "5 mentions négatives sur 6 par des tiers en 24 h (83 %)" in text
    assert "première mention par akhbar.example" in text
    assert HOSTILE in text
    assert not dom.find("a", string=lambda s: s and "script" in s), "javascript: link dropped"
    arabic = dom.find(string=lambda s: ARABIC_TITLE in s)
    assert arabic is not None and arabic.parent.get("dir") == "rtl"
