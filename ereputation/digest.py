"""The daily digest: what was said about each brand on one local day, as HTML and plain text.

``build_digest`` reads the stored mentions and alerts (through ``store.queries``), summarises
them into frozen values (``summarize_brand`` is pure), and renders the templates in
``ereputation/templates``.  Everything that came from a feed is escaped by jinja2's autoescape
in HTML; links are kept only when they are http(s).  Arabic text is marked right-to-left in HTML
(``dir``) and wrapped in Unicode isolates in plain text so it never scrambles the French or
English around it.  The mail clients we target (Gmail, Outlook, Apple Mail) get tables with
``bgcolor``/``width`` attributes and inline styles only: no scripts, images or ``<style>``.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
import sqlite_utils

from .config import Config
from .store import queries

CHART_DAYS = 14
CHART_WIDTH = 240  # pixels of the longest bar
MAX_THIRD_PARTY = 25  # mentions listed per brand; the rest are counted
MAX_OWNED = 10
LANGUAGES = ("fr", "en")

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "digest": "Veille e-réputation",
        "subject": "{title} — {date} : {signals}, {mentions}",
        "signal_one": "{n} signal",
        "signal_many": "{n} signaux",
        "mention_one": "{n} mention",
        "mention_many": "{n} mentions",
        "signals_of_day": "Signaux du jour",
        "no_signal": "Aucun signal aujourd'hui.",
        "no_mention": "Aucune mention ce jour.",
        "third_party": "Par des tiers",
        "owned": "Votre propre voix",
        "total": "Total",
        "today": "Ce jour",
        "previous_day": "Jour préc.",
        "week_average": "Moyenne 7 j",
        "positive": "positif",
        "negative": "négatif",
        "neutral": "neutre",
        "unscored": "non évalué",
        "sentiment_mix": "Tonalité des tiers",
        "mentions_third_party": "Mentions par des tiers (les négatives d'abord)",
        "mentions_owned": "Publications de la marque",
        "more": "… et {n} de plus",
        "stories": "Histoires reprises",
        "first_by": "publiée d'abord par {outlet} à {time}",
        "outlets": "médias",
        "new_outlets": "Nouveaux médias",
        "chart": "Volume sur 14 jours",
        "legend": "foncé : tiers · clair : propre voix",
        "surge": "Pic de mentions",
        "negative_wave": "Vague négative",
        "new_voice": "Nouvelle voix",
        "spreading_story": "Histoire qui se propage",
        "why_surge": "{count} mentions par des tiers en 24 h contre une médiane de {median}/jour",
        "why_negative_wave": "{negative} mentions négatives sur {total} par des tiers en 24 h "
        "({share} %)",
        "why_new_voice": "première mention par {outlet}",
        "why_new_voices": "{n} médias mentionnent la marque pour la première fois : {outlets}",
        "why_spreading_story": "une même histoire reprise par {n} médias en {hours} h : {outlets}",
        "alert_subject": "Alerte {brand} : {kinds}",
        "alert_subject_many": "Alertes : {kinds}",
        "alert_intro": "Signaux détectés à {time} :",
        "footer": "Envoyé par ereputation. Seuils et destinataires : feeds.yaml.",
        "days": "lundi mardi mercredi jeudi vendredi samedi dimanche",
        "months": "janvier février mars avril mai juin juillet août septembre octobre "
        "novembre décembre",
        "date_format": "{weekday} {day} {month} {year}",
    },
    "en": {
        "digest": "E-reputation digest",
        "subject": "{title} — {date}: {signals}, {mentions}",
        "signal_one": "{n} signal",
        "signal_many": "{n} signals",
        "mention_one": "{n} mention",
        "mention_many": "{n} mentions",
        "signals_of_day": "Signals of the day",
        "no_signal": "No signal today.",
        "no_mention": "No mention on this day.",
        "third_party": "Third parties",
        "owned": "Your own voice",
        "total": "Total",
        "today": "This day",
        "previous_day": "Day before",
        "week_average": "7-day average",
        "positive": "positive",
        "negative": "negative",
        "neutral": "neutral",
        "unscored": "unscored",
        "sentiment_mix": "Third-party sentiment",
        "mentions_third_party": "Third-party mentions (negative first)",
        "mentions_owned": "The brand's own posts",
        "more": "… and {n} more",
        "stories": "Stories picked up",
        "first_by": "first published by {outlet} at {time}",
        "outlets": "outlets",
        "new_outlets": "New outlets",
        "chart": "14-day volume",
        "legend": "dark: third parties · light: own voice",
        "surge": "Surge",
        "negative_wave": "Negative wave",
        "new_voice": "New voice",
        "spreading_story": "Spreading story",
        "why_surge": "{count} third-party mentions in 24 h against a median of {median}/day",
        "why_negative_wave": "{negative} of {total} third-party mentions in 24 h are negative "
        "({share} %)",
        "why_new_voice": "first mention by {outlet}",
        "why_new_voices": "{n} outlets mention the brand for the first time: {outlets}",
        "why_spreading_story": "one story picked up by {n} outlets within {hours} h: {outlets}",
        "alert_subject": "Alert {brand}: {kinds}",
        "alert_subject_many": "Alerts: {kinds}",
        "alert_intro": "Signals detected at {time}:",
        "footer": "Sent by ereputation. Thresholds and recipients: feeds.yaml.",
        "days": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
        "months": "January February March April May June July August September October "
        "November December",
        "date_format": "{weekday} {day} {month} {year}",
    },
}

_ISOLATE_START, _ISOLATE_END = "\u2068", "\u2069"  # FSI … PDI


# --- small pure helpers used by the templates --------------------------------------------------


def text_for(language: str) -> Mapping[str, str]:
    """The fixed strings of ``language`` (fr or en); anything else falls back to English."""
    return STRINGS.get(language, STRINGS["en"])


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None: no ``javascript:`` link ever."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def is_rtl(text: str | None) -> bool:
    """Whether the first strong character of ``text`` is right-to-left (Arabic, Hebrew …)."""
    for char in text or "":
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def direction(text: str | None, language: str | None = None) -> str:
    """The ``dir`` attribute for an element holding feed text: rtl for Arabic, else auto."""
    return "rtl" if language == "ar" or is_rtl(text) else "auto"


def isolate(text: str | None) -> str:
    """Plain-text form of feed text: right-to-left runs wrapped in FSI…PDI isolates."""
    text = " ".join((text or "").split())
    if any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return f"{_ISOLATE_START}{text}{_ISOLATE_END}"
    return text


def format_number(value: float, language: str) -> str:
    """1 decimal at most; decimal comma in French."""
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", ",") if language == "fr" else text


def format_day(day: date, language: str) -> str:
    strings = text_for(language)
    return strings["date_format"].format(
        weekday=strings["days"].split()[day.weekday()],
        day=day.day,
        month=strings["months"].split()[day.month - 1],
        year=day.year,
    )


def plural(n: int, language: str, one: str, many: str) -> str:
    """``n`` with the right form: French counts 0 and 1 as singular, English only 1."""
    singular = n <= 1 if language == "fr" else n == 1
    return text_for(language)[one if singular else many].format(n=n)


def describe_signal(kind: str, details: Mapping[str, Any], language: str) -> str:
    """Why a signal fired, in ``language``, from the numbers stored in its ``details``."""
    strings = text_for(language)
    if kind == "surge":
        return strings["why_surge"].format(
            count=details.get("count", 0),
            median=format_number(float(details.get("median", 0)), language),
        )
    if kind == "negative_wave":
        return strings["why_negative_wave"].format(
            negative=details.get("negative", 0),
            total=details.get("total", 0),
            share=round(100 * float(details.get("share", 0))),
        )
    if kind == "new_voice":
        outlets = list(details.get("outlets") or [details.get("outlet", "?")])
        if len(outlets) == 1:
            return strings["why_new_voice"].format(outlet=outlets[0])
        return strings["why_new_voices"].format(n=len(outlets), outlets=", ".join(outlets))
    if kind == "spreading_story":
        outlets = list(details.get("outlets", []))
        return strings["why_spreading_story"].format(
            n=len(outlets), hours=details.get("hours", "?"), outlets=", ".join(outlets)
        )
    return str(details.get("reason", kind))


# --- the summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Mentions of one brand over one period (a day, or a 7-day average when ``days`` > 1)."""

    owned: float = 0
    third_party: float = 0
    positive: float = 0  # the sentiment mix is of third-party mentions only
    negative: float = 0
    neutral: float = 0
    unscored: float = 0

    @property
    def total(self) -> float:
        return self.owned + self.third_party

    def share(self, label: str) -> int:
        """Percentage of third-party mentions with ``label`` (0 when there are none)."""
        if not self.third_party:
            return 0
        return round(100 * float(getattr(self, label)) / self.third_party)


def count_mentions(rows: Iterable[Mapping[str, Any]], days: int = 1) -> Counts:
    """Counts of ``rows`` (mention rows), divided by ``days`` for an average."""
    tally: Counter[str] = Counter()
    for row in rows:
        if row["owned"]:
            tally["owned"] += 1
            continue
        tally["third_party"] += 1
        tally[
            row["label"] if row["label"] in ("positive", "negative", "neutral") else "unscored"
        ] += 1
    return Counts(**{name: value / days for name, value in tally.items()})


@dataclass(frozen=True)
class Item:
    """One mention as listed in the digest."""

    title: str
    url: str | None  # None when not http(s): shown without a link
    outlet: str
    snippet: str
    label: str | None
    sentiment: float | None
    owned: bool
    language: str | None
    time: str  # local HH:MM of publication

    @property
    def dir(self) -> str:
        return direction(self.title or self.snippet, self.language)


@dataclass(frozen=True)
class Story:
    story_id: int
    title: str
    url: str | None
    first_outlet: str
    first_time: str  # local "DD/MM HH:MM" of the first publication
    outlets: tuple[str, ...]


@dataclass(frozen=True)
class NewOutlet:
    outlet: str
    title: str
    url: str | None


@dataclass(frozen=True)
class ChartDay:
    day: date
    owned: int
    third_party: int
    owned_width: int  # pixels
    third_party_width: int

    @property
    def total(self) -> int:
        return self.owned + self.third_party


@dataclass(frozen=True)
class SignalLine:
    brand: str
    kind: str
    title: str  # translated kind
    reason: str  # translated "why", with numbers
    time: str


@dataclass(frozen=True)
class BrandSummary:
    name: str
    today: Counts
    previous_day: Counts
    week_average: Counts
    signals: tuple[SignalLine, ...]
    third_party: tuple[Item, ...]  # negative first
    third_party_more: int
    owned: tuple[Item, ...]
    owned_more: int
    stories: tuple[Story, ...]
    new_outlets: tuple[NewOutlet, ...]
    chart: tuple[ChartDay, ...] = field(default=())


@dataclass(frozen=True)
class Digest:
    """One day's digest, ready to mail: the same content as HTML and as plain text."""

    date: date
    language: str
    subject: str
    html: str
    text: str
    brands: tuple[BrandSummary, ...] = ()
    signal_count: int = 0
    mention_count: int = 0


_LABEL_ORDER = {"negative": 0, "neutral": 1, None: 2, "positive": 3}


def _item(row: Mapping[str, Any], tz: ZoneInfo) -> Item:
    return Item(
        title=(row.get("title") or row.get("url") or "").strip(),
        url=safe_url(row.get("url")),
        outlet=row.get("outlet") or "",
        snippet=(row.get("snippet") or "").strip(),
        label=row.get("label"),
        sentiment=row.get("sentiment"),
        owned=bool(row.get("owned")),
        language=row.get("language"),
        time=queries.parse_ts(row["mentioned_at"]).astimezone(tz).strftime("%H:%M"),
    )


def _local_day(text: str, tz: ZoneInfo) -> date:
    return queries.parse_ts(text).astimezone(tz).date()


def summarize_brand(
    name: str,
    day: date,
    tz: ZoneInfo,
    mentions: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    story_rows: Sequence[Mapping[str, Any]],
    new_outlets: Sequence[Mapping[str, Any]],
    language: str,
) -> BrandSummary:
    """Summarise one brand for ``day`` (pure).

    ``mentions`` are the brand's mention rows of the 14 local days ending with ``day``;
    ``alerts`` the brand's alerts fired on ``day``; ``story_rows`` every article of the stories
    its mentions of ``day`` belong to; ``new_outlets`` outlets whose first mention was on ``day``.
    """
    by_day: dict[date, list[Mapping[str, Any]]] = {}
    for row in mentions:
        by_day.setdefault(_local_day(row["mentioned_at"], tz), []).append(row)
    todays = by_day.get(day, [])
    week = [row for offset in range(1, 8) for row in by_day.get(day - timedelta(offset), [])]

    third = sorted(
        (row for row in todays if not row["owned"]),
        key=lambda r: (
            _LABEL_ORDER.get(r["label"], 2),
            r["sentiment"] if r["sentiment"] is not None else 0.0,
            r["mentioned_at"],
        ),
    )
    owned = [row for row in todays if row["owned"]]

    stories: list[Story] = []
    by_story: dict[int, list[Mapping[str, Any]]] = {}
    for row in story_rows:
        by_story.setdefault(int(row["story_id"]), []).append(row)
    todays_stories = {row["story_id"] for row in todays if row.get("story_id") is not None}
    for story_id in sorted(todays_stories):
        articles = by_story.get(int(story_id), [])
        outlets = tuple(dict.fromkeys(a["outlet"] for a in articles))
        if len(articles) < 2 or len(outlets) < 2:
            continue
        first = articles[0]
        first_at = queries.parse_ts(first["published_at"] or first["fetched_at"]).astimezone(tz)
        stories.append(
            Story(
                story_id=int(story_id),
                title=(first.get("story_title") or first.get("title") or "").strip(),
                url=safe_url(first.get("url")),
                first_outlet=first["outlet"],
                first_time=first_at.strftime("%d/%m %H:%M"),
                outlets=outlets,
            )
        )
    stories.sort(key=lambda s: -len(s.outlets))

    chart_counts = [
        (day - timedelta(offset), by_day.get(day - timedelta(offset), []))
        for offset in range(CHART_DAYS - 1, -1, -1)
    ]
    peak = max((len(rows) for _, rows in chart_counts), default=0) or 1
    chart = []
    for chart_day, rows in chart_counts:
        own = sum(1 for r in rows if r["owned"])
        others = len(rows) - own
        chart.append(
            ChartDay(
                day=chart_day,
                owned=own,
                third_party=others,
                owned_width=round(CHART_WIDTH * own / peak),
                third_party_width=round(CHART_WIDTH * others / peak),
            )
        )

    strings = text_for(language)
    signals = tuple(
        SignalLine(
            brand=name,
            kind=alert["kind"],
            title=strings.get(alert["kind"], alert["kind"]),
            reason=describe_signal(alert["kind"], alert["details"], language),
            time=queries.parse_ts(alert["fired_at"]).astimezone(tz).strftime("%H:%M"),
        )
        for alert in alerts
    )
    return BrandSummary(
        name=name,
        today=count_mentions(todays),
        previous_day=count_mentions(by_day.get(day - timedelta(1), [])),
        week_average=count_mentions(week, days=7),
        signals=signals,
        third_party=tuple(_item(row, tz) for row in third[:MAX_THIRD_PARTY]),
        third_party_more=max(0, len(third) - MAX_THIRD_PARTY),
        owned=tuple(_item(row, tz) for row in owned[:MAX_OWNED]),
        owned_more=max(0, len(owned) - MAX_OWNED),
        stories=tuple(stories),
        new_outlets=tuple(
            NewOutlet(
                outlet=r["outlet"], title=(r.get("title") or "").strip(), url=safe_url(r.get("url"))
            )
            for r in new_outlets
        ),
        chart=tuple(chart),
    )


# --- rendering --------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ereputation", "templates"),
        # Only HTML templates escape; plain-text templates must not show "&amp;".
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["isolate"] = isolate
    env.filters["dir"] = direction
    env.filters["number"] = format_number
    env.globals["safe_url"] = safe_url
    return env


_ENV = _environment()


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``; missing names are errors."""
    return _ENV.get_template(template).render(**context)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as an aware half-open range ``[midnight, next midnight)``."""
    return (
        datetime.combine(day, time(0), tzinfo=tz),
        datetime.combine(day + timedelta(1), time(0), tzinfo=tz),
    )


def build_digest(config: Config, db: sqlite_utils.Database, day: date) -> Digest:
    """Build the digest of local ``day`` (in ``config.timezone``) for every configured brand.

    Reads only; mailing and idempotence are ``delivery``'s job.  The language is
    ``config.digest.language`` (fr or en).  Mentions are placed by publication time
    (``mentioned_at``), so a mention published on ``day`` but fetched after the digest was sent
    appears in no digest (it is in the database and in ``ereputation mentions``).
    """
    language = config.digest.language if config.digest.language in LANGUAGES else "en"
    tz = ZoneInfo(config.timezone)
    start, end = day_bounds(day, tz)
    chart_start, _ = day_bounds(day - timedelta(CHART_DAYS - 1), tz)
    all_mentions = queries.mentions_between(db, chart_start, end)
    all_alerts = queries.alerts_between(db, start, end)
    names = [brand.name for brand in config.brands]
    names += sorted({row["brand"] for row in all_mentions} - set(names))

    summaries = []
    for name in names:
        mentions = [row for row in all_mentions if row["brand"] == name]
        todays_stories = {
            row["story_id"]
            for row in mentions
            if row["story_id"] is not None and start <= queries.parse_ts(row["mentioned_at"]) < end
        }
        summaries.append(
            summarize_brand(
                name,
                day,
                tz,
                mentions,
                [alert for alert in all_alerts if alert["brand"] == name],
                queries.story_articles(db, todays_stories),
                queries.outlet_first_mentions(db, name, start, end),
                language,
            )
        )
    return render_digest(day, language, tuple(summaries))


def render_digest(day: date, language: str, brands: tuple[BrandSummary, ...]) -> Digest:
    """Render summaries into a ``Digest`` (pure)."""
    strings = text_for(language)
    signal_count = sum(len(b.signals) for b in brands)
    mention_count = sum(int(b.today.total) for b in brands)
    title = strings["digest"]
    if len(brands) == 1:
        title = f"{title} {brands[0].name}"
    subject = strings["subject"].format(
        title=title,
        date=format_day(day, language),
        signals=plural(signal_count, language, "signal_one", "signal_many"),
        mentions=plural(mention_count, language, "mention_one", "mention_many"),
    )
    context = {
        "t": strings,
        "language": language,
        "day": day,
        "day_text": format_day(day, language),
        "subject": subject,
        "brands": brands,
        "signals": [s for b in brands for s in b.signals],
    }
    return Digest(
        date=day,
        language=language,
        subject=subject,
        html=render("digest.html.j2", **context),
        text=render("digest.txt.j2", **context),
        brands=brands,
        signal_count=signal_count,
        mention_count=mention_count,
    )
