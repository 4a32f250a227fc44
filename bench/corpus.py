"""A seeded corpus of generated news feeds with known brand mentions: the scale benchmark's input.

``make_corpus(n, seed)`` returns ``n`` feed documents (RSS 2.0, Atom 1.0 and RSS 1.0/RDF, 20–100
items each, French-heavy with English and Arabic) and the ground truth: the set of
(article URL, brand) pairs a correct daemon stores.  Mentions cover what users rely on —
accents dropped or kept, Arabic clitics glued to the name, a brand that is also a common word
(*Orange*) — and traps that must *not* count: ``orangeade``, lower-case ``orange``,
``Atlas Télécommunications``, an exclusion next to the hit (*Atlas Mountains*).  A share of
feeds fail on purpose (5xx, broken XML, a server that never answers in time).

Each item tells a story of its own, as real news does: its title and lead carry names,
places and figures drawn from a seeded vocabulary of made-up words, so the daemon's story
grouping holds one story per article (the rounds before 2026-11-26 had ~12 stories in all,
which hid the cost of many).  ``SYNDICATED_SHARE`` of the items are copies of an earlier
item's story in another feed, as agency dispatches are.

Same ``n`` and ``seed``: byte-identical documents, so runs and machines can be compared.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

BRANDS_YAML = """\
brands:
  - name: Atlas Télécom
    aliases: [Atlas Telecom, اتصالات الأطلس]
    exclude: [Atlas Mountains]
  - name: Banque Zellige
    aliases: [Zellige Bank, بنك الزليج]
  - name: Orange
    case_sensitive: true
"""

# What the naive baseline searches for: every configured name, nothing more clever.
BRAND_TERMS = {
    "Atlas Télécom": ["Atlas Télécom", "Atlas Telecom", "اتصالات الأطلس"],
    "Banque Zellige": ["Banque Zellige", "Zellige Bank", "بنك الزليج"],
    "Orange": ["Orange"],
}
# Per language: (brand, surface form) that must match.
MENTIONS = {
    "fr": [
        ("Atlas Télécom", "Atlas Télécom"),
        ("Atlas Télécom", "ATLAS TELECOM"),
        ("Atlas Télécom", "Atlas Telecom"),
        ("Banque Zellige", "Banque Zellige"),
        ("Banque Zellige", "la banque zellige"),
        ("Orange", "Orange"),
    ],
    "en": [
        ("Atlas Télécom", "Atlas Telecom"),
        ("Banque Zellige", "Zellige Bank"),
        ("Orange", "Orange"),
    ],
    "ar": [
        ("Atlas Télécom", "اتصالات الأطلس"),
        ("Atlas Télécom", "واتصالات الأطلس"),
        ("Banque Zellige", "بنك الزليج"),
        ("Banque Zellige", "وبنك الزليج"),
        ("Banque Zellige", "لبنك الزليج"),
    ],
}
# Near misses that must not match any brand.
TRAPS = {
    "fr": ["une orangeade fraîche", "le jus d'orange", "Atlas Télécommunications", "zelliges"],
    "en": ["an orangeade stand", "orange juice prices", "Atlas Telecommunications"],
    "ar": ["الزليجية", "برتقال"],
}
# A mention whose sentence also names an exclusion: not a mention of the brand.
EXCLUDED = {
    "fr": "Atlas Télécom organise une randonnée dans les Atlas Mountains.",
    "en": "Atlas Telecom sponsors a trek across the Atlas Mountains.",
}
SENTENCES = {
    "fr": [
        "Le gouvernement a présenté un nouveau plan pour l'économie numérique.",
        "Les usagers se plaignent d'une panne de réseau depuis ce matin.",
        "Le service client a été jugé excellent par une majorité de répondants.",
        "Les tarifs augmentent encore, au grand dam des consommateurs.",
        "La conférence de presse s'est tenue à Casablanca en présence des dirigeants.",
        "Une enquête révèle des retards répétés dans le traitement des dossiers.",
        "Les résultats trimestriels dépassent les attentes des analystes.",
        "Les syndicats annoncent une grève pour la semaine prochaine.",
        "Le lancement de la nouvelle offre a été salué par les clients.",
        "Des associations dénoncent des pratiques commerciales trompeuses.",
    ],
    "en": [
        "The ministry unveiled a new plan for the digital economy.",
        "Customers have been complaining about a network outage since this morning.",
        "Quarterly results beat analysts' expectations.",
        "The launch of the new offer was welcomed by customers.",
        "Consumer groups denounced misleading sales practices.",
        "Prices keep rising, to the dismay of households.",
    ],
    "ar": [
        "أعلنت الحكومة عن خطة جديدة للاقتصاد الرقمي.",
        "يشتكي المستخدمون من انقطاع الشبكة منذ صباح اليوم.",
        "تجاوزت النتائج الفصلية توقعات المحللين.",
        "رحب الزبناء بإطلاق العرض الجديد.",
        "نددت جمعيات حماية المستهلك بممارسات تجارية مضللة.",
        "عقدت الندوة الصحفية في الدار البيضاء بحضور المسؤولين.",
    ],
}
FORMATS = ("rss", "rss", "atom", "rdf")
SYNDICATED_SHARE = 0.10
STORY_WORDS = 48  # made-up names, places and figures: 4 in the title, the rest in the lead
# Made-up words must never be or contain a brand term or a trap: the truth would be wrong.
_FORBIDDEN = ("orang", "atlas", "zellig", "telecom", "télécom", "banqu", "bank",
              "الأطلس", "الزليج", "اتصالات", "بنك", "اورنج", "برتقال")  # fmt: skip
_SYLLABLES = {
    "latin": [c + v for c in "bcdfghjklmnprstvz" for v in ("a", "e", "i", "o", "u", "ou", "é")],
    "ar": [c + v for c in "بتثجحخدرزسشصطعغفقكلمنهي" for v in ("ا", "و", "ي", "")],
}
MENTION_SHARE = 0.12
TRAP_SHARE = 0.10
EXCLUDED_SHARE = 0.02


@dataclass(frozen=True)
class Feed:
    path: str  # served at this path
    kind: str  # ok | error | broken | timeout
    body: bytes  # the document (empty for error and timeout feeds)
    items: int


@dataclass(frozen=True)
class Corpus:
    feeds: tuple[Feed, ...]
    truth: frozenset[tuple[str, str]]  # (article URL, brand) of feeds that can be read
    # The same feeds a poll interval later: ``changed_share`` of the readable ones publish
    # ``changed_items`` new items each (on top, the oldest as many falling off the end, as a
    # real feed's window slides); the others are byte for byte the same.
    later: tuple[Feed, ...] = ()
    later_truth: frozenset[tuple[str, str]] = frozenset()  # what the new items add to truth

    @property
    def items(self) -> int:
        return sum(feed.items for feed in self.feeds if feed.kind == "ok")


def make_corpus(
    n: int,
    seed: int = 7,
    *,
    fail_share: float = 0.03,
    now: datetime | None = None,
    stories: bool = True,
    changed_share: float = 0.2,
    changed_items: int = 2,
) -> Corpus:
    """``n`` feeds; ``fail_share`` of them fail (split between 5xx, broken XML and timeouts).

    ``Corpus.later`` is drawn after everything else, from its own seed, so the first
    version of every feed is the same whatever ``changed_share`` is.

    ``stories=False``: the corpus of the rounds before 2026-11-26, byte for byte (items made
    of template sentences only, ~12 stories in all), to compare with their numbers.
    """
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    told = _Stories(random.Random(seed + 1)) if stories else None
    feeds = []
    truth: set[tuple[str, str]] = set()
    readable: list[tuple[int, str, str, list[_Item]]] = []  # index, format, language, items
    for index in range(n):
        path = f"/feeds/{index}.xml"
        roll = rng.random()
        if roll < fail_share:
            kind = ("error", "broken", "timeout")[index % 3]
        else:
            kind = "ok"
        language = rng.choices(("fr", "en", "ar"), weights=(6, 2.5, 1.5))[0]
        fmt = FORMATS[index % len(FORMATS)]
        items = [_item(rng, told, index, j, language, now) for j in range(rng.randint(20, 100))]
        if kind == "error" or kind == "timeout":
            feeds.append(Feed(path, kind, b"", 0))
            continue
        body = _render(fmt, index, language, items, now)
        if kind == "broken":
            # Cut before the first entry: no parser may salvage items, so the truth is clear.
            first = min(i for i in (body.find(b"<item"), body.find(b"<entry")) if i >= 0)
            body = body[:first] + b"<item><title>unterminated &"
            feeds.append(Feed(path, kind, body, 0))
            continue
        for url, _, _, _, brands in items:
            truth.update((url, brand) for brand in brands)
        feeds.append(Feed(path, kind, body, len(items)))
        readable.append((index, fmt, language, items))
    later, later_truth = _later(
        feeds, readable, told, random.Random(seed + 2), changed_share, changed_items, now
    )
    return Corpus(tuple(feeds), frozenset(truth), later, later_truth)


def _later(
    feeds: list[Feed],
    readable: list[tuple[int, str, str, list[_Item]]],
    told: _Stories | None,
    rng: random.Random,
    share: float,
    count: int,
    now: datetime,
) -> tuple[tuple[Feed, ...], frozenset[tuple[str, str]]]:
    """``Corpus.later`` and ``Corpus.later_truth``."""
    later = list(feeds)
    truth: set[tuple[str, str]] = set()
    polled = now + timedelta(minutes=15)  # a poll interval later
    changed = rng.sample(readable, round(share * len(readable))) if count > 0 else []
    for index, fmt, language, items in sorted(changed):
        # Numbered after the feed's first items: new URLs, never an earlier item's.
        fresh = [_item(rng, told, index, len(items) + j, language, polled) for j in range(count)]
        window = fresh + items[: len(items) - count]
        for url, _, _, _, brands in fresh:
            truth.update((url, brand) for brand in brands)
        body = _render(fmt, index, language, window, polled)
        later[index] = Feed(feeds[index].path, "ok", body, len(window))
    return tuple(later), frozenset(truth)


_Item = tuple[str, str, str, datetime, tuple[str, ...]]  # url, title, html, published, brands


class _Stories:
    """Each item's own story (title words and lead), or now and then an earlier one's copy."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = {script: self._vocabulary(script) for script in _SYLLABLES}
        self.told: dict[str, list[tuple[int, str, str]]] = {"fr": [], "en": [], "ar": []}

    def _vocabulary(self, script: str, size: int = 20_000) -> list[str]:
        words: set[str] = set()
        syllables = _SYLLABLES[script]
        while len(words) < size:
            word = "".join(self.rng.choices(syllables, k=self.rng.randint(2, 4)))
            if not any(bad in word for bad in _FORBIDDEN):
                words.add(word.capitalize() if script == "latin" else word)
        return sorted(words)

    def story(self, feed: int, language: str) -> tuple[str, str]:
        """(words for the title, a lead sentence): new, or an earlier feed's story again."""
        told = [t for t in self.told[language][-200:] if t[0] != feed]
        if told and self.rng.random() < SYNDICATED_SHARE:
            _, title, lead = self.rng.choice(told)
            return title, lead
        words = self.rng.sample(self.words["ar" if language == "ar" else "latin"], STORY_WORDS)
        figure = f"{self.rng.randint(2, 980)}"
        title = " ".join(words[:4])
        lead = " ".join(words[4:]) + f" {figure}."
        self.told[language].append((feed, title, lead))
        return title, lead


def _item(
    rng: random.Random, told: _Stories | None, feed: int, number: int, language: str, now: datetime
) -> _Item:
    sentences = rng.sample(SENTENCES[language], k=min(4, len(SENTENCES[language])))
    brands: list[str] = []
    roll = rng.random()
    if roll < MENTION_SHARE:
        brand, surface = rng.choice(MENTIONS[language])
        position = rng.randrange(len(sentences))
        sentences[position] = f"{sentences[position][:-1]}, selon {surface}."
        if language == "en":
            sentences[position] = sentences[position].replace(", selon", ", said")
        elif language == "ar":
            sentences[position] = sentences[position][:-1] + f" حسب {surface}."
        brands.append(brand)
    elif roll < MENTION_SHARE + TRAP_SHARE:
        sentences.insert(
            1, f"{rng.choice(SENTENCES[language])[:-1]} ({rng.choice(TRAPS[language])})."
        )
    elif roll < MENTION_SHARE + TRAP_SHARE + EXCLUDED_SHARE and language in EXCLUDED:
        sentences.insert(1, EXCLUDED[language])
    title = sentences[0][:-1]
    body = "".join(f"<p>{escape(s)}</p>" for s in sentences[1:])
    if told is not None:
        story_title, lead = told.story(feed, language)
        title = f"{story_title} : {title}"
        body = f"<p>{escape(lead)}</p>{body}"
    if rng.random() < 0.3:
        body += '<p><a href="https://example.com/x">Lire la suite</a> <img src="x.jpg"/></p>'
    url = f"https://site{feed % 97}.example.com/{feed}/article-{number}.html"
    published = now - timedelta(minutes=rng.randint(5, 3 * 24 * 60))
    return url, title, body, published, tuple(brands)


def _render(fmt: str, index: int, language: str, items: list[_Item], now: datetime) -> bytes:
    title = f"Flux {index}"
    if fmt == "atom":
        entries = "".join(
            f"<entry><id>{escape(url)}</id><title>{escape(t)}</title>"
            f'<link rel="alternate" href={quoteattr(url)}/>'
            f"<updated>{p.isoformat()}</updated><author><name>Rédaction</name></author>"
            f'<summary type="html">{escape(html)}</summary></entry>'
            for url, t, html, p, _ in items
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{language}">'
            f"<title>{title}</title><id>urn:bench:{index}</id><updated>{now.isoformat()}</updated>"
            f"{entries}</feed>"
        ).encode()
    if fmt == "rdf":
        entries = "".join(
            f"<item rdf:about={quoteattr(url)}><title>{escape(t)}</title><link>{escape(url)}</link>"
            f"<dc:date>{p.isoformat()}</dc:date><description>{escape(html)}</description></item>"
            for url, t, html, p, _ in items
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="urn:bench:{index}"><title>{title}</title>'
            f"<link>https://site{index % 97}.example.com/</link><description>bench</description>"
            f"<dc:language>{language}</dc:language></channel>{entries}</rdf:RDF>"
        ).encode()
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(url)}</link>"
        f'<guid isPermaLink="true">{escape(url)}</guid><pubDate>{format_datetime(p)}</pubDate>'
        f"<description>{escape(html)}</description></item>"
        for url, t, html, p, _ in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://site{index % 97}.example.com/</link>"
        f"<language>{language}</language>{entries}</channel></rss>"
    ).encode()
