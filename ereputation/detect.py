"""Signals: when third parties start shaping a brand's reputation (DESIGN.md, "Signals").

Pure: ``detect_signals`` takes what is stored about one brand (``BrandHistory``, built by
``alerting`` from ``store.queries``) and returns the signals it shows now; ``select_new``
applies the cooldown against the alerts already fired.  No SQL, no clock, no I/O.

Why the rules are shaped this way:
- Time is publication time (``mentioned_at``), so the first poll over a feed's backlog places
  old articles in the past, where they cannot fire.
- The surge baseline counts only 24-hour slots that were fully monitored: before the daemon
  started, a feed's backlog covers a few days partially and would look like a quiet baseline.
  With fewer than ``MIN_BASELINE_DAYS`` such slots, no surge is claimed.
- A new voice is an outlet whose first mention of the brand is recent *and* was stored after the
  brand's first poll: on that first poll every outlet is "new" and none is alerted (they are in
  the digest's "new outlets").  Many at once (a new search source) make one signal, not many.
- Owned mentions are never given to this module: the brand's own voice triggers nothing.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .config import AlertSettings

WINDOW = timedelta(hours=24)
BASELINE_DAYS = 14
MIN_BASELINE_DAYS = 3  # fully monitored 24-hour slots needed before a surge can be claimed
FIRST_POLL_GRACE = timedelta(hours=1)  # mentions stored this soon after the first are backlog
FUTURE_SLACK = timedelta(hours=1)  # publication times a little ahead (clock skew) still count
NEW_VOICE_BURST = 5  # more new outlets than this at once are one signal

KINDS = ("surge", "negative_wave", "new_voice", "spreading_story")


@dataclass(frozen=True)
class Signal:
    """One fired signal.  ``reason`` is an English sentence with the numbers (for logs and
    apprise); mails render their own French or English text from ``details``."""

    brand: str
    kind: str  # surge | negative_wave | new_voice | spreading_story
    key: str  # what it is about, for cooldown: '' (brand-wide), an outlet, a story id
    details: dict[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)  # tens of thousands per brand in a check
class Mention:
    """A third-party mention as detection sees it."""

    at: datetime  # publication time (mentions.mentioned_at)
    outlet: str
    label: str | None = None
    story_id: int | None = None
    title: str = ""
    url: str = ""


@dataclass(frozen=True)
class FirstMention:
    """An outlet's first third-party mention of the brand, ever."""

    outlet: str
    at: datetime  # publication time
    found_at: datetime  # when it was stored
    title: str = ""
    url: str = ""


@dataclass(frozen=True)
class BrandHistory:
    brand: str
    mentions: tuple[Mention, ...]  # third-party, published within the last 15 days
    first_mentions: tuple[FirstMention, ...] = ()  # outlets whose first mention is recent
    brand_first_found_at: datetime | None = None  # when the brand's first mention was stored
    monitoring_since: datetime | None = None  # when the daemon started storing anything
    # A story's article urls whose words confirm they belong to it (None: all do).  Asked
    # only about a story that would be reported as spreading: see ``_spreading_stories``.
    confirmed: Callable[[int], frozenset[str]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PastAlert:
    kind: str
    key: str
    fired_at: datetime
    details: dict[str, Any] = field(default_factory=dict)


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def detect_signals(history: BrandHistory, settings: AlertSettings, now: datetime) -> list[Signal]:
    """Every signal ``history`` shows at ``now`` under ``settings`` (cooldown not applied)."""
    start = now - WINDOW
    recent = [m for m in history.mentions if start < m.at <= now + FUTURE_SLACK]
    signals = []
    surge = _surge(history, settings, now, recent)
    if surge:
        signals.append(surge)
    wave = _negative_wave(history.brand, settings, recent)
    if wave:
        signals.append(wave)
    if settings.new_voice:
        signals.extend(_new_voices(history, start))
    signals.extend(_spreading_stories(history, settings, start))
    return signals


def baseline_counts(
    mentions: Iterable[Mention], now: datetime, monitoring_since: datetime | None
) -> list[int]:
    """Mentions per 24-hour slot before the current window, for fully monitored slots only."""
    if monitoring_since is None:
        return []
    slots = []
    for n in range(1, BASELINE_DAYS + 1):
        slot_start = now - WINDOW * (n + 1)
        if slot_start >= monitoring_since:
            slots.append((slot_start, slot_start + WINDOW))
    times = [m.at for m in mentions]
    return [sum(1 for t in times if lo <= t < hi) for lo, hi in slots]


def _surge(
    history: BrandHistory, settings: AlertSettings, now: datetime, recent: Sequence[Mention]
) -> Signal | None:
    counts = baseline_counts(history.mentions, now, history.monitoring_since)
    if len(counts) < MIN_BASELINE_DAYS:
        return None
    median = float(statistics.median(counts))
    count = len(recent)
    if count < settings.surge_min or count < settings.surge_factor * median:
        return None
    return Signal(
        brand=history.brand,
        kind="surge",
        key="",
        details={
            "count": count,
            "median": median,
            "factor": settings.surge_factor,
            "minimum": settings.surge_min,
            "baseline_days": len(counts),
        },
        reason=f"{count} third-party mentions in 24 h against a median of "
        f"{_fmt(median)}/day over {len(counts)} days",
    )


def _negative_wave(brand: str, settings: AlertSettings, recent: Sequence[Mention]) -> Signal | None:
    total = len(recent)
    negative = sum(1 for m in recent if m.label == "negative")
    if not total or negative < settings.negative_min:
        return None
    share = negative / total
    if share < settings.negative_share:
        return None
    return Signal(
        brand=brand,
        kind="negative_wave",
        key="",
        details={
            "negative": negative,
            "total": total,
            "share": round(share, 3),
            "minimum": settings.negative_min,
            "min_share": settings.negative_share,
        },
        reason=f"{negative} of {total} third-party mentions in 24 h are negative "
        f"({round(100 * share)} %)",
    )


def _new_voices(history: BrandHistory, start: datetime) -> list[Signal]:
    if history.brand_first_found_at is None:
        return []
    settled = history.brand_first_found_at + FIRST_POLL_GRACE
    fresh = [f for f in history.first_mentions if f.at > start and f.found_at >= settled]
    if not fresh:
        return []
    if len(fresh) > NEW_VOICE_BURST:
        outlets = [f.outlet for f in fresh]
        return [
            Signal(
                brand=history.brand,
                kind="new_voice",
                key="",
                details={"outlets": outlets, "count": len(outlets)},
                reason=f"{len(outlets)} outlets mention the brand for the first time: "
                + ", ".join(outlets),
            )
        ]
    return [
        Signal(
            brand=history.brand,
            kind="new_voice",
            key=f.outlet,
            details={
                "outlet": f.outlet,
                "first_at": f.at.isoformat(),
                "title": f.title,
                "url": f.url,
            },
            reason=f"first mention of the brand by {f.outlet}",
        )
        for f in fresh
    ]


def _spreading_stories(
    history: BrandHistory, settings: AlertSettings, start: datetime
) -> list[Signal]:
    span = timedelta(hours=settings.spreading_hours)
    need = settings.spreading_outlets
    by_story: dict[int, list[Mention]] = {}
    for mention in history.mentions:
        if mention.story_id is not None:
            by_story.setdefault(mention.story_id, []).append(mention)
    signals = []
    for story_id, mentions in sorted(by_story.items()):
        reached = _reached(mentions, need, span, start)
        if reached is not None and history.confirmed is not None:
            # Stories stored before joins were counted on the words were joined on an
            # estimate (off by ~0.05 near the threshold): an article sharing only
            # boilerplate with one may have joined.  Counted as an outlet picking the story
            # up, it would make a false alarm.
            kept = history.confirmed(story_id)
            reached = _reached([m for m in mentions if m.url in kept], need, span, start)
        if reached is None:
            continue
        ordered, i, j = reached
        group = [m for m in ordered[i:] if m.at - ordered[i].at <= span]
        outlets = [m.outlet for m in group]
        hours = max(1, round((group[-1].at - group[0].at).total_seconds() / 3600))
        first = ordered[0]
        signals.append(
            Signal(
                brand=history.brand,
                kind="spreading_story",
                key=str(story_id),
                details={
                    "story_id": story_id,
                    "outlets": outlets,
                    "hours": hours,
                    "first_outlet": first.outlet,
                    "first_at": first.at.isoformat(),
                    "title": first.title,
                    "url": first.url,
                },
                reason=f"one story picked up by {len(outlets)} outlets within {hours} h: "
                + ", ".join(outlets),
            )
        )
    return signals


def _reached(
    mentions: list[Mention], need: int, span: timedelta, start: datetime
) -> tuple[list[Mention], int, int] | None:
    """Each outlet's first mention of the story in time order, and the first ``i``, ``j``
    (``need`` outlets) within ``span`` of each other; None if they never are, or were before
    ``start`` (it spread before the window: history, not news)."""
    firsts: dict[str, Mention] = {}
    for mention in sorted(mentions, key=lambda m: m.at):
        firsts.setdefault(mention.outlet, mention)
    ordered = sorted(firsts.values(), key=lambda m: m.at)
    for i in range(len(ordered)):
        j = i + need - 1
        if j < len(ordered) and ordered[j].at - ordered[i].at <= span:
            return (ordered, i, j) if ordered[j].at > start else None
    return None


def select_new(
    signals: Iterable[Signal], past: Iterable[PastAlert], now: datetime, cooldown: int
) -> list[Signal]:
    """The signals to fire now: a kind fires at most once per ``cooldown`` seconds (per brand:
    ``past`` holds one brand's alerts), whatever it is about.

    All the signals of one check may fire together (four new outlets at once are four lines of
    one mail), but within the cooldown a later new outlet or another spreading story waits:
    detection runs again at every poll, so a held signal fires once the cooldown is over if it
    is still true then (a new voice while its first mention is in the 24-hour window, a story
    while it keeps spreading); meanwhile it is in the digest (new outlets, stories).  Without
    this, a story spreading over an afternoon would send a mail at every poll.
    A new voice fires once per outlet, ever (``past`` should reach back past the window); a
    spreading story fires again after the cooldown only if it reached more outlets.
    """
    past = list(past)
    wait = timedelta(seconds=cooldown)
    cooling = {a.kind for a in past if now - a.fired_at < wait}
    known_voices = {a.key for a in past if a.kind == "new_voice" and a.key}
    for alert in past:
        if alert.kind == "new_voice":
            known_voices.update(alert.details.get("outlets", []))
    chosen = []
    for signal in signals:
        if signal.kind in cooling:
            continue
        same = [a for a in past if a.kind == signal.kind and a.key == signal.key]
        if signal.kind == "new_voice":
            outlets = signal.details.get("outlets") or [signal.details.get("outlet")]
            fresh = [o for o in outlets if o not in known_voices]
            if not fresh:
                continue
            if signal.key == "" and len(fresh) != len(outlets):
                details = {**signal.details, "outlets": fresh, "count": len(fresh)}
                signal = Signal(
                    signal.brand,
                    signal.kind,
                    signal.key,
                    details,
                    f"{len(fresh)} outlets mention the brand for the first time: "
                    + ", ".join(fresh),
                )
        if signal.kind == "spreading_story" and same:
            reached = max(len(a.details.get("outlets", [])) for a in same)
            if len(signal.details["outlets"]) <= reached:
                continue
        chosen.append(signal)
    return chosen
