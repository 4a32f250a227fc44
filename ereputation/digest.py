"""The daily digest: every mention found since the previous digest, as HTML and plain text.

A digest covers a *window* of discovery time: the mentions the daemon stored (``found_at``) in
``[start, end)``.  ``delivery`` chooses the window (from the end of the previous sent digest to
now), so a mention is in exactly one digest whatever its publication date; each listed mention
shows when it was published, because an article fetched late may be days old.

``build_digest`` reads the stored mentions and alerts (through ``store.queries``), summarises
them into frozen values (``summarize_brand`` is pure), and renders the templates in
``ereputation/templates``.  Comparisons ("previous 24 h", "7-day average") count mentions by
``found_at`` too, so the three columns measure the same thing; the 14-day chart counts them by
publication day (``mentioned_at``) because it shows when things were said.

Everything that came from a feed is escaped by jinja2's autoescape in HTML; links are kept only
when they are http(s).  Arabic text is marked right-to-left in HTML (``dir``) and wrapped in
Unicode isolates in plain text so it never scrambles the French or English around it.  The mail
clients we target (Gmail, Outlook, Apple Mail) get tables with ``bgcolor``/``width`` attributes
and inline styles only: no scripts, images or ``<style>``.
"""

from __future__ import annotations

import shlex
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2

from .config import Config
from .store import queries

if TYPE_CHECKING:
    from .store import Database

CHART_DAYS = 14
CHART_WIDTH = 240  # pixels of the longest bar
MAX_THIRD_PARTY = 25  # mentions listed per brand; the rest are counted, with a command to list them
MAX_OWNED = 10
COMPARE_DAYS = 7  # the average column: mentions found per 24 h over the 7 days before the window
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
        "no_signal": "Aucun signal sur la période.",
        "no_mention": "Aucune nouvelle mention.",
        "period": "Mentions trouvées du {start} au {end}",
        "third_party": "Par des tiers",
        "owned": "Votre propre voix",
        "total": "Total",
        "today": "Ce relevé",
        "previous_day": "24 h préc.",
        "week_average": "Moyenne 7 j",
        "positive": "positif",
        "negative": "négatif",
        "neutral": "neutre",
        "unscored": "non évalué",
        "sentiment_mix": "Tonalité des tiers",
        "mentions_third_party": "Mentions par des tiers (les négatives d'abord)",
        "mentions_owned": "Publications de la marque",
        "more": "… et {n} de plus",
        "more_command": "… et {n} de plus : {command}",
        "published": "publié le {date}",
        "found": "date de publication inconnue, trouvé le {date}",
        "at": "à",
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
        "months_short": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
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
        "no_signal": "No signal in this period.",
        "no_mention": "No new mention.",
        "period": "Mentions found from {start} to {end}",
        "third_party": "Third parties",
        "owned": "Your own voice",
        "total": "Total",
        "today": "This digest",
        "previous_day": "Prev. 24 h",
        "week_average": "7-day average",
        "positive": "positive",
        "negative": "negative",
        "neutral": "neutral",
        "unscored": "unscored",
        "sentiment_mix": "Third-party sentiment",
        "mentions_third_party": "Third-party mentions (negative first)",
        "mentions_owned": "The brand's own posts",
        "more": "… and {n} more",
        "more_command": "… and {n} more: {command}",
        "published": "published {date}",
        "found": "publication date unknown, found {date}",
        "at": "at",
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
        "months_short": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
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


def format_moment(moment: datetime, language: str, year: int | None = None) -> str:
    """``14 nov. à 09:12`` / ``14 Nov at 09:12``; the year is added when it is not ``year``."""
    strings = text_for(language)
    text = f"{moment.day} {strings['months_short'].split()[moment.month - 1]}"
    if year is not None and moment.year != year:
        text += f" {moment.year}"
    return f"{text} {strings['at']} {moment:%H:%M}"


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
class Window:
    """What a digest covers: the mentions stored (``found_at``) in ``[start, end)``, UTC-aware.

    Bounds are kept at whole seconds, the precision of the stored timestamps, so the end of one
    digest's window is exactly the start of the next one and no mention falls between them.
    """

    start: datetime
    end: datetime
    # The bounds as stored text, formatted once: ``holds`` runs for every mention row.
    _stored: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        object.__setattr__(self, "start", self.start.replace(microsecond=0))
        object.__setattr__(self, "end", max(self.start, self.end).replace(microsecond=0))
        object.__setattr__(
            self, "_stored", (queries.format_ts(self.start), queries.format_ts(self.end))
        )

    def holds(self, stored: str) -> bool:
        """Whether a stored timestamp (text, as in the database) falls in the window."""
        start, end = self._stored
        return start <= stored < end


@dataclass(frozen=True)
class Counts:
    """Mentions of one brand over one period (a window, or a daily average when ``days`` > 1)."""

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
    when: str  # "publié le 14 nov. à 09:12", or when it was found if the date is unknown

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
    time: str  # local "DD/MM HH:MM" it fired


@dataclass(frozen=True)
class BrandSummary:
    name: str
    today: Counts  # the mentions of the window
    previous_day: Counts  # found in the 24 h before the window
    week_average: Counts  # found per 24 h, on average, in the 7 days before the window
    signals: tuple[SignalLine, ...]
    third_party: tuple[Item, ...]  # negative first
    third_party_more: int
    owned: tuple[Item, ...]
    owned_more: int
    stories: tuple[Story, ...]
    new_outlets: tuple[NewOutlet, ...]
    chart: tuple[ChartDay, ...] = field(default=())
    third_party_more_command: str = ""  # lists every third-party mention of the window
    owned_more_command: str = ""


@dataclass(frozen=True)
class Digest:
    """One digest, ready to mail: the same content as HTML and as plain text."""

    date: date  # the local day it is dated by (the day it is sent)
    language: str
    subject: str
    html: str
    text: str
    window: Window
    brands: tuple[BrandSummary, ...] = ()
    signal_count: int = 0
    mention_count: int = 0


_LABEL_ORDER = {"negative": 0, "neutral": 1, None: 2, "positive": 3}


def _item(row: Mapping[str, Any], tz: ZoneInfo, language: str, year: int) -> Item:
    strings = text_for(language)
    if row.get("published_at"):
        moment = queries.parse_ts(row["published_at"]).astimezone(tz)
        when = strings["published"].format(date=format_moment(moment, language, year))
    else:
        moment = queries.parse_ts(row["found_at"]).astimezone(tz)
        when = strings["found"].format(date=format_moment(moment, language, year))
    return Item(
        title=(row.get("title") or row.get("url") or "").strip(),
        url=safe_url(row.get("url")),
        outlet=row.get("outlet") or "",
        snippet=(row.get("snippet") or "").strip(),
        label=row.get("label"),
        sentiment=row.get("sentiment"),
        owned=bool(row.get("owned")),
        language=row.get("language"),
        when=when,
    )


def _local_day(text: str, tz: ZoneInfo) -> date:
    return queries.parse_ts(text).astimezone(tz).date()


def more_command(name: str, rows: Sequence[Mapping[str, Any]], *, owned: bool) -> str:
    """The ``ereputation mentions`` command that lists all of ``rows`` (and possibly more).

    ``mentions --since`` filters by publication, so it starts on the UTC day of the oldest
    publication among ``rows``: a superset of the window's mentions, never fewer.
    """
    since = min(str(row["mentioned_at"]) for row in rows)[:10]
    limit = max(100, len(rows))
    voice = "--owned" if owned else "--third-party"
    return f"ereputation mentions --brand {shlex.quote(name)} {voice} --since {since}" + (
        f" --limit {limit}" if limit > 100 else ""
    )


def summarize_brand(
    name: str,
    day: date,
    window: Window,
    tz: ZoneInfo,
    found: Sequence[Mapping[str, Any]],
    published: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    story_rows: Sequence[Mapping[str, Any]],
    new_outlets: Sequence[Mapping[str, Any]],
    language: str,
) -> BrandSummary:
    """Summarise one brand for the digest dated ``day`` covering ``window`` (pure).

    ``found`` are the brand's mention rows stored from ``COMPARE_DAYS`` days before the window
    up to its end (the window's mentions and what they are compared with; before the window,
    rows need only owned, label and found_at); ``published`` its mentions published in the
    ``CHART_DAYS`` local days ending with ``day`` (the chart: mentioned_at and owned);
    ``alerts`` the brand's alerts fired in the window; ``story_rows`` every article of the
    stories the window's mentions belong to; ``new_outlets`` outlets first found in the window.
    """
    start = queries.format_ts(window.start)
    day_before = queries.format_ts(window.start - timedelta(days=1))
    week_before = queries.format_ts(window.start - timedelta(days=COMPARE_DAYS))
    current = [row for row in found if window.holds(row["found_at"])]
    previous = [row for row in found if day_before <= row["found_at"] < start]
    week = [row for row in found if week_before <= row["found_at"] < start]

    third = sorted(
        (row for row in current if not row["owned"]),
        key=lambda r: (
            _LABEL_ORDER.get(r["label"], 2),
            r["sentiment"] if r["sentiment"] is not None else 0.0,
            r["mentioned_at"],
        ),
    )
    owned = sorted((row for row in current if row["owned"]), key=lambda r: r["mentioned_at"])

    stories: list[Story] = []
    by_story: dict[int, list[Mapping[str, Any]]] = {}
    for row in story_rows:
        by_story.setdefault(int(row["story_id"]), []).append(row)
    current_stories = {row["story_id"] for row in current if row.get("story_id") is not None}
    for story_id in sorted(current_stories):
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

    by_day: dict[date, list[Mapping[str, Any]]] = {}
    for row in published:
        by_day.setdefault(_local_day(row["mentioned_at"], tz), []).append(row)
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
            time=queries.parse_ts(alert["fired_at"]).astimezone(tz).strftime("%d/%m %H:%M"),
        )
        for alert in alerts
    )
    return BrandSummary(
        name=name,
        today=count_mentions(current),
        previous_day=count_mentions(previous),
        week_average=count_mentions(week, days=COMPARE_DAYS),
        signals=signals,
        third_party=tuple(_item(row, tz, language, day.year) for row in third[:MAX_THIRD_PARTY]),
        third_party_more=max(0, len(third) - MAX_THIRD_PARTY),
        third_party_more_command=(
            more_command(name, third, owned=False) if len(third) > MAX_THIRD_PARTY else ""
        ),
        owned=tuple(_item(row, tz, language, day.year) for row in owned[:MAX_OWNED]),
        owned_more=max(0, len(owned) - MAX_OWNED),
        owned_more_command=more_command(name, owned, owned=True) if len(owned) > MAX_OWNED else "",
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


def build_digest(config: Config, db: Database, day: date, window: Window) -> Digest:
    """Build the digest dated ``day`` covering the mentions found in ``window``, every brand.

    Reads only; choosing the window, mailing and idempotence are ``delivery``'s job.  The
    language is ``config.digest.language`` (fr or en).  Brands are those of the config, then
    any other brand with a mention in the window (a brand removed from feeds.yaml).
    """
    language = config.digest.language if config.digest.language in LANGUAGES else "en"
    tz = ZoneInfo(config.timezone)
    chart_start, _ = day_bounds(day - timedelta(CHART_DAYS - 1), tz)
    _, chart_end = day_bounds(day, tz)
    # Full rows for the window; the days before it are only counted.
    found = queries.mention_labels_found_between(
        db, window.start - timedelta(days=COMPARE_DAYS), window.start
    ) + queries.mentions_found_between(db, window.start, window.end)
    all_alerts = queries.alerts_between(db, window.start, window.end)
    current = [row for row in found if window.holds(row["found_at"])]
    names = [brand.name for brand in config.brands]
    names += sorted({row["brand"] for row in current} - set(names))

    summaries = []
    for name in names:
        story_ids = {
            row["story_id"]
            for row in current
            if row["brand"] == name and row["story_id"] is not None
        }
        summaries.append(
            summarize_brand(
                name,
                day,
                window,
                tz,
                [row for row in found if row["brand"] == name],
                queries.mention_times_between(db, chart_start, chart_end, brand=name),
                [alert for alert in all_alerts if alert["brand"] == name],
                _confirmed(db, queries.story_articles(db, story_ids)),
                queries.outlet_first_mentions(db, name, window.start, window.end, by_found=True),
                language,
            )
        )
    return render_digest(day, window, language, tuple(summaries), tz)


def _confirmed(db: Database, rows: list[queries.Row]) -> list[queries.Row]:
    """``story_articles`` rows without the articles a story told by two outlets or more
    does not confirm (``queries.confirmed_story_articles``): listed under a story, an article
    that only shares boilerplate with it would show one story picked up by outlets that
    told others.  Where one is left out, the story is titled by its first confirmed article
    (the story's own title is its earliest article's, confirmed or not)."""
    outlets: dict[int, set[str]] = {}
    articles: Counter[int] = Counter()
    for row in rows:
        outlets.setdefault(int(row["story_id"]), set()).add(row["outlet"])
        articles[int(row["story_id"])] += 1
    checked = queries.confirmed_story_articles(
        db, [story for story, told in outlets.items() if len(told) >= 2]
    )
    kept = []
    for row in rows:
        story = int(row["story_id"])
        confirmed = checked.get(story)
        if confirmed is None:
            kept.append(row)
        elif row["article_id"] in confirmed:
            whole = len(confirmed) == articles[story]
            kept.append(row if whole else {**row, "story_title": None})
    return kept


def render_digest(
    day: date,
    window: Window,
    language: str,
    brands: tuple[BrandSummary, ...],
    tz: ZoneInfo,
) -> Digest:
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
    period = strings["period"].format(
        start=format_moment(window.start.astimezone(tz), language, day.year),
        end=format_moment(window.end.astimezone(tz), language, day.year),
    )
    context = {
        "t": strings,
        "language": language,
        "day": day,
        "day_text": format_day(day, language),
        "period_text": period,
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
        window=window,
        brands=brands,
        signal_count=signal_count,
        mention_count=mention_count,
    )
