"""Sample feeds shared by the end-to-end and daemon tests: French, English, Arabic, owned.

Publication dates are relative to the moment the tests run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

NOW = datetime.now(UTC)


def rss(items: list[tuple[str, str, str, str, float]], lang: str = "fr") -> str:
    """items: (guid, title, link, description, hours ago)."""
    body = "".join(
        f"<item><guid>{escape(g)}</guid><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=h))}</pubDate>"
        f"<description>{escape(d)}</description></item>"
        for g, t, link, d, h in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<language>{lang}</language>{body}</channel></rss>"
    )


FR = rss(
    [
        ("fr-1", "Panne géante chez Atlas Télécom",
         "https://presse.example/panne-atlas?utm_source=rss",
         "Les abonnés d'Atlas Télécom sont furieux : le réseau est coupé depuis ce matin, "
         "un service catastrophique et aucune explication.", 2),
        ("fr-2", "Le festival de musique ouvre ses portes",
         "https://presse.example/festival", "Trois jours de concerts gratuits.", 3),
        ("fr-3", "Randonnée dans les Atlas Mountains",
         "https://presse.example/rando", "Les sentiers de l'Atlas Mountains sont superbes.", 4),
        ("fr-4", "Orangeade : la boisson de l'été", "https://presse.example/orangeade",
         "Une orangeade fraîche pour l'été.", 5),
    ]
)  # fmt: skip
EN = rss(
    [
        ("en-1", "Zellige Bank wins award for excellent service",
         "https://business.example/zellige-award",
         "Banque Zellige was praised for its excellent, friendly customer service.", 6),
        ("en-2", "Weather: rain expected", "https://business.example/rain",
         "Showers on the coast.", 7),
    ],
    lang="en",
)  # fmt: skip
AR = rss(
    [
        ("ar-1", "عطل كبير في شبكة اتصالات الأطلس",
         "https://akhbar.example/atlas-3otl",
         "اشتكى المشتركون من انقطاع الإنترنت بسبب عطل في شبكة اتصالات الأطلس.", 8),
        ("ar-2", "الرجاء يفوز في الديربي", "https://akhbar.example/raja",
         "فوز ثمين في مباراة مثيرة.", 9),
    ],
    lang="ar",
)  # fmt: skip
OWNED = rss(
    [
        ("own-1", "Atlas Télécom mobilise ses équipes",
         "https://www.atlastelecom.example/blog/incident",
         "Atlas Télécom informe ses clients qu'un incident technique est en cours.", 1),
    ]
)  # fmt: skip
