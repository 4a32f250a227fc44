"""The configuration contract: feeds.yaml turned into frozen values, validated all at once.

The key names are a contract with users (see DESIGN.md); the loader rejects unknown keys and
reports every problem with its place and line in one ``ConfigError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_USER_AGENT = "ereputation/{version} (+https://github.com/ereputation/ereputation)"


@dataclass(frozen=True)
class AlertSettings:
    """Signal thresholds; global under ``alerts:``, overridable per brand under ``brands[i].alerts``."""

    cooldown: int = 6 * 3600  # seconds between two mails of one (brand, kind)
    surge_factor: float = 3.0  # third-party mentions in 24 h >= factor x 14-day daily median
    surge_min: int = 5  # ... and at least this many
    negative_min: int = 3  # negative third-party mentions in 24 h
    negative_share: float = 0.4  # ... and at least this share of third-party mentions
    new_voice: bool = True  # an outlet's first mention of the brand
    spreading_outlets: int = 3  # one story on this many distinct outlets ...
    spreading_hours: int = 6  # ... within this many hours
    notify: tuple[str, ...] = ()  # extra channels as apprise URLs (chat webhooks, …)


@dataclass(frozen=True)
class Brand:
    name: str
    aliases: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    case_sensitive: bool = False
    query: str | None = None  # optional Boolean query: '"Atlas Télécom" AND (panne OR tarif)'
    owned: tuple[str, ...] = ()  # domains or URL prefixes of the brand's own voice
    alerts: AlertSettings = field(default_factory=AlertSettings)

    @property
    def terms(self) -> tuple[str, ...]:
        """The name then each alias: every spelling that counts as the brand."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Source:
    name: str
    url: str  # for kind=search: already expanded for ``brand``
    kind: str = "feed"  # feed | page | search
    every: int = 900  # seconds between polls (inherits poll_every)
    selector: str | None = None  # page: CSS selector of article links on the listing
    max_articles: int = 20  # page / full text: article pages fetched per poll at most
    full_text: str = "auto"  # auto | always | never: fetch the article page for short items
    brand: str | None = None  # kind=search: the brand this expansion searches for
    template: str | None = None  # kind=search: the URL with ``{query}`` as configured


@dataclass(frozen=True)
class DigestSettings:
    at: str = "08:00"  # local time in ``timezone``
    language: str = "fr"  # fr | en
    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str | None = None  # None: messages go to ``outbox`` as .eml files
    smtp_port: int = 587
    starttls: bool = True
    ssl: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password_env: str = "EREPUTATION_SMTP_PASSWORD"
    password_file: str = "smtp_password"  # looked up in $CREDENTIALS_DIRECTORY
    sender: str = "ereputation <ereputation@localhost>"  # the ``from:`` key
    outbox: Path = Path("outbox")
    timeout: int = 30


@dataclass(frozen=True)
class FetchSettings:
    timeout: int = 20  # seconds per request (connect, read each, overall)
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 16  # requests in flight over all hosts
    per_host: int = 2  # requests in flight to one host
    host_delay: float = 1.0  # seconds between two requests to one host
    user_agent: str = DEFAULT_USER_AGENT


@dataclass(frozen=True)
class Config:
    path: Path  # the file it was loaded from; relative paths resolve against its folder
    database: Path
    timezone: str = "Africa/Casablanca"
    brands: tuple[Brand, ...] = ()
    sources: tuple[Source, ...] = ()
    poll_every: int = 900
    digest: DigestSettings = field(default_factory=DigestSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)

    def brand(self, name: str) -> Brand:
        for brand in self.brands:
            if brand.name == name:
                return brand
        raise KeyError(name)
