"""Signals decided from values: surge, negative wave, new voice, spreading story, cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ereputation.config import AlertSettings
from ereputation.detect import (
    BrandHistory,
    FirstMention,
    Mention,
    PastAlert,
    Signal,
    detect_signals,
    select_new,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = AlertSettings()
LONG_AGO = NOW - timedelta(days=30)


def daily(per_day: int, days: int = 14, outlet: str = "le360.ma") -> list[Mention]:
    """``per_day`` mentions in each 24-hour slot before the current window."""
    return [
        Mention(at=NOW - timedelta(days=d, hours=1 + n), outlet=outlet)
        for d in range(1, days + 1)
        for n in range(per_day)
    ]


def burst(count: int, label: str = "neutral", outlet: str = "le360.ma") -> list[Mention]:
    return [
        Mention(at=NOW - timedelta(minutes=10 + n), outlet=outlet, label=label)
        for n in range(count)
    ]


def history(mentions, **extra) -> BrandHistory:
    values = dict(
        brand="Atlas",
        mentions=tuple(mentions),
        brand_first_found_at=LONG_AGO,
        monitoring_since=LONG_AGO,
    )
    values.update(extra)
    return BrandHistory(**values)


def kinds(signals: list[Signal]) -> list[str]:
    return [s.kind for s in signals]


def test_surge_fires_with_its_numbers():
    (signal,) = detect_signals(history(daily(2) + burst(14)), SETTINGS, NOW)
    assert signal.kind == "surge"
    assert signal.details["count"] == 14 and signal.details["median"] == 2
    assert signal.reason == "14 third-party mentions in 24 h against a median of 2/day over 14 days"


def test_no_surge_below_factor_or_minimum():
    assert detect_signals(history(daily(2) + burst(5)), SETTINGS, NOW) == []  # < 3 x 2
    assert detect_signals(history(burst(4)), SETTINGS, NOW) == []  # < surge_min on a 0 median


def test_quiet_history_fires_nothing():
    assert detect_signals(history(daily(3) + burst(3)), SETTINGS, NOW) == []


def test_no_surge_without_enough_monitored_days():
    # A first run over a backlog: the days before monitoring started look empty but are not.
    just_started = history(daily(0) + burst(20), monitoring_since=NOW - timedelta(hours=2))
    assert "surge" not in kinds(detect_signals(just_started, SETTINGS, NOW))


def test_mentions_older_than_the_window_never_fire():
    old = [
        Mention(at=NOW - timedelta(days=2, minutes=n), outlet="x.ma", label="negative")
        for n in range(30)
    ]
    assert detect_signals(history(old), SETTINGS, NOW) == []


def test_negative_wave_needs_count_and_share():
    (signal,) = detect_signals(history(daily(3) + burst(4, "negative") + burst(2)), SETTINGS, NOW)
    assert signal.kind == "negative_wave"
    assert signal.details == {
        "negative": 4,
        "total": 6,
        "share": 0.667,
        "minimum": 3,
        "min_share": 0.4,
    }
    assert signal.reason == "4 of 6 third-party mentions in 24 h are negative (67 %)"
    diluted = history(daily(10) + burst(3, "negative") + burst(7))  # 30 %
    assert "negative_wave" not in kinds(detect_signals(diluted, SETTINGS, NOW))


def test_per_brand_thresholds_apply():
    strict = AlertSettings(negative_min=10)
    assert detect_signals(history(daily(3) + burst(4, "negative")), strict, NOW) == []


def first(outlet: str, hours_ago: float, found_hours_ago: float | None = None) -> FirstMention:
    found = hours_ago if found_hours_ago is None else found_hours_ago
    return FirstMention(
        outlet=outlet,
        at=NOW - timedelta(hours=hours_ago),
        found_at=NOW - timedelta(hours=found) + timedelta(minutes=5),
        title="Titre",
        url=f"https://{outlet}/a",
    )


def test_new_voice_for_an_outlet_first_seen_now():
    (signal,) = detect_signals(history([], first_mentions=(first("goud.ma", 2),)), SETTINGS, NOW)
    assert (signal.kind, signal.key) == ("new_voice", "goud.ma")
    assert signal.details["url"] == "https://goud.ma/a"


def test_no_new_voice_on_the_brands_first_poll():
    fresh = history(
        [],
        first_mentions=(first("goud.ma", 2, 0), first("le360.ma", 3, 0)),
        brand_first_found_at=NOW - timedelta(minutes=10),
    )
    assert detect_signals(fresh, SETTINGS, NOW) == []


def test_no_new_voice_for_an_old_first_mention_or_when_disabled():
    old = history([], first_mentions=(first("goud.ma", 30, 1),))
    assert detect_signals(old, SETTINGS, NOW) == []
    off = history([], first_mentions=(first("goud.ma", 2),))
    assert detect_signals(off, AlertSettings(new_voice=False), NOW) == []


def test_many_new_voices_at_once_are_one_signal():
    many = tuple(first(f"site{n}.ma", 2) for n in range(8))
    (signal,) = detect_signals(history([], first_mentions=many), SETTINGS, NOW)
    assert signal.kind == "new_voice" and signal.key == ""
    assert signal.details["count"] == 8


def story(outlet: str, hours_ago: float, story_id: int = 7) -> Mention:
    return Mention(
        at=NOW - timedelta(hours=hours_ago),
        outlet=outlet,
        story_id=story_id,
        title="Panne du réseau",
        url=f"https://{outlet}/p",
    )


def test_spreading_story_on_three_outlets_within_hours():
    mentions = [
        story("le360.ma", 5),
        story("hespress.com", 3),
        story("medias24.com", 1),
        story("le360.ma", 0.5),
    ]
    (signal,) = detect_signals(history(mentions), SETTINGS, NOW)
    assert (signal.kind, signal.key) == ("spreading_story", "7")
    assert signal.details["outlets"] == ["le360.ma", "hespress.com", "medias24.com"]
    assert signal.details["first_outlet"] == "le360.ma"
    assert signal.details["hours"] == 4


def test_no_spreading_story_when_slow_or_in_the_past():
    slow = [story("a.ma", 20), story("b.ma", 12), story("c.ma", 1)]  # never 3 within 6 h
    assert detect_signals(history(slow), SETTINGS, NOW) == []
    past = [story("a.ma", 40), story("b.ma", 39), story("c.ma", 38)]
    assert detect_signals(history(past), SETTINGS, NOW) == []


def test_a_spreading_story_counts_only_its_confirmed_articles():
    """Asked only about a story that would spread (not one on two outlets, nor one that spread
    in the past), the history's ``confirmed`` keeps the articles whose words confirm the story:
    an unconfirmed outlet does not count, and a story left on two outlets does not spread."""
    asked: list[int] = []
    confirmed_urls = {
        7: frozenset({"https://le360.ma/p", "https://hespress.com/p"}),
        8: frozenset({"https://a.ma/p", "https://b.ma/p", "https://c.ma/p"}),
    }

    def confirmed(story_id: int) -> frozenset[str]:
        asked.append(story_id)
        return confirmed_urls.get(story_id, frozenset())

    mentions = [
        story("le360.ma", 5), story("hespress.com", 3), story("medias24.com", 1),
        story("a.ma", 4, 8), story("b.ma", 3, 8), story("d.ma", 2, 8), story("c.ma", 1, 8),
        story("x.ma", 2, 9), story("y.ma", 1, 9),  # two outlets: not asked
        story("p.ma", 40, 10), story("q.ma", 39, 10), story("r.ma", 38, 10),  # in the past
    ]  # fmt: skip
    signals = detect_signals(history(mentions, confirmed=confirmed), SETTINGS, NOW)
    (signal,) = [s for s in signals if s.kind == "spreading_story"]  # and a surge: 9 in 24 h
    assert (signal.key, signal.details["outlets"]) == ("8", ["a.ma", "b.ma", "c.ma"])
    assert signal.details["hours"] == 3
    assert sorted(asked) == [7, 8]


def signal(kind: str, key: str = "", **details) -> Signal:
    return Signal("Atlas", kind, key, details, "why")


def test_cooldown_per_kind():
    past = [PastAlert("surge", "", NOW - timedelta(hours=2))]
    assert select_new([signal("surge")], past, NOW, 6 * 3600) == []
    assert select_new([signal("negative_wave")], past, NOW, 6 * 3600) == [signal("negative_wave")]
    later = [PastAlert("surge", "", NOW - timedelta(hours=7))]
    assert select_new([signal("surge")], later, NOW, 6 * 3600) == [signal("surge")]


def test_within_the_cooldown_a_kind_waits_whatever_it_is_about():
    past = [PastAlert("new_voice", "goud.ma", NOW - timedelta(hours=2))]
    other = signal("new_voice", "hespress.com", outlet="hespress.com")
    assert select_new([other], past, NOW, 6 * 3600) == []
    later = [PastAlert("new_voice", "goud.ma", NOW - timedelta(hours=7))]
    assert select_new([other], later, NOW, 6 * 3600) == [other]
    story = [PastAlert("spreading_story", "7", NOW - timedelta(hours=1), {"outlets": ["a"] * 3})]
    another = signal("spreading_story", "8", outlets=["d", "e", "f"])
    assert select_new([another], story, NOW, 6 * 3600) == []


def test_signals_of_one_check_fire_together():
    voices = [signal("new_voice", o, outlet=o) for o in ("a.ma", "b.ma", "c.ma")]
    assert select_new(voices, [], NOW, 6 * 3600) == voices


def test_a_new_voice_fires_once_per_outlet():
    past = [PastAlert("new_voice", "goud.ma", NOW - timedelta(hours=10))]
    assert select_new([signal("new_voice", "goud.ma", outlet="goud.ma")], past, NOW, 3600) == []


def test_a_spreading_story_fires_again_only_when_it_spread_further():
    past = [
        PastAlert("spreading_story", "7", NOW - timedelta(hours=8), {"outlets": ["a", "b", "c"]})
    ]
    same = signal("spreading_story", "7", outlets=["a", "b", "c"])
    wider = signal("spreading_story", "7", outlets=["a", "b", "c", "d"])
    assert select_new([same], past, NOW, 6 * 3600) == []
    assert select_new([wider], past, NOW, 6 * 3600) == [wider]
