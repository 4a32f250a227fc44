"""The configuration contract: feeds.yaml turned into frozen values, validated all at once.

The key names are a contract with users (see DESIGN.md); the loader rejects unknown keys and
reports every problem with its place and line in one ``ConfigError``.

``load_config`` reads the file; ``parse_config`` does the rest on text and never touches the
disk, so the whole of validation is testable as values in, values (or one error) out.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ereputation.errors import ConfigError, EreputationError
from ereputation.yaml_tree import Tagged, YamlProblem, read_tree

DEFAULT_USER_AGENT = "ereputation/{version} (+https://github.com/ereputation/ereputation)"
CONFIG_ENV = "EREPUTATION_CONFIG"
DEFAULT_CONFIG_NAME = "feeds.yaml"


@dataclass(frozen=True)
class AlertSettings:
    """Signal thresholds: global under ``alerts:``, overridable under ``brands[i].alerts``."""

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
    max_bytes: int = 10 * 1024 * 1024  # the ``max_size:`` key
    concurrency: int = 16  # requests in flight over all hosts
    per_host: int = 2  # requests in flight to one host
    host_delay: float = 1.0  # seconds between two requests to one host
    user_agent: str = DEFAULT_USER_AGENT
    # Helper processes that parse feeds and match brands (feed_reading.py); None: one on a
    # machine with 2+ cores, none on one core.
    parse_processes: int | None = None


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


# --------------------------------------------------------------------------- public API


def find_config_path(explicit: str | None) -> Path:
    """The config file to use: ``explicit`` (``-c``), else ./feeds.yaml, else $EREPUTATION_CONFIG.

    Raises ``ConfigError`` when the chosen file does not exist, naming where it looked, so
    ``ereputation run`` in the wrong folder says why instead of starting with nothing to do.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError([f"{path}: no such file (given with -c/--config)"])
        return path
    local = Path(DEFAULT_CONFIG_NAME)
    if local.is_file():
        return local
    from_env = os.environ.get(CONFIG_ENV, "").strip()
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError([f"{path}: no such file (named by ${CONFIG_ENV})"])
        return path
    raise ConfigError(
        [
            f"no configuration found: no ./{DEFAULT_CONFIG_NAME} in {Path.cwd()}, "
            f"no -c/--config and no ${CONFIG_ENV}"
        ]
    )


def state_folder(config_path: Path) -> Path:
    """Where relative ``database:`` and ``email.outbox`` paths live.

    Next to the config file, except under systemd, where the unit sets
    ``EREPUTATION_STATE_DIR`` to its ``StateDirectory``: /etc is read-only there.
    """
    state = os.environ.get("EREPUTATION_STATE_DIR")
    return Path(state) if state else config_path.parent


def load_config(path: Path | str) -> Config:
    """Read and validate the YAML file at ``path``.

    Returns a ``Config`` whose relative paths (``database``, ``email.outbox``) are resolved
    against the file's folder and whose ``search`` sources are expanded, one per brand.
    Raises ``ConfigError`` listing every problem found (never a parser traceback).
    """
    path = Path(path).expanduser().absolute()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"], str(path)) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a folder, not a YAML file"], str(path)) from None
    except OSError as err:
        raise ConfigError([f"{path}: cannot read ({err.strerror})"], str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            [f"line {line}: not UTF-8 text — save the file as UTF-8"], str(path)
        ) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | str) -> Config:
    """Validate YAML ``text`` as if read from ``path`` (which anchors relative paths).

    Pure apart from time zone lookups: reads no file.  Raises ``ConfigError`` with every
    problem at once.
    """
    path = Path(path).expanduser().absolute()
    data = _parse_yaml(text, path)
    reader = _Reader()
    config = reader.read_config(data, path)
    if reader.problems or config is None:
        raise ConfigError(reader.problems or ["unusable configuration"], str(path))
    return config


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_DURATION_FULL = re.compile(r"(?:\d+[smhdw])+")


def parse_duration(text: str | int) -> int:
    """Seconds in ``'90s'``, ``'15m'``, ``'6h'``, ``'1d'``, ``'2w'`` or combinations ``'1h30m'``.

    A bare number (int or digits) is seconds.  Raises ``ValueError`` with a message that can be
    shown to the user as is.
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ValueError(f"must be a duration such as 90s, 15m, 6h or 1d, not {_describe(text)}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("must not be negative")
        return text
    compact = text.strip().lower().replace(" ", "")
    if compact.isascii() and compact.isdigit():
        return int(compact)
    if not compact.isascii() or not _DURATION_FULL.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 15m, 6h, 1d or 1h30m")
    return sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(compact))


def format_duration(seconds: int) -> str:
    """The shortest ``parse_duration`` spelling of ``seconds``: 5400 -> ``'1h30m'``."""
    if seconds < 0:
        raise ValueError("must not be negative")
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _DURATION_UNITS[unit]
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|(b))?")


def parse_size(text: str | int) -> int:
    """Bytes in ``'10MB'``, ``'512KB'``, ``'1.5 GB'`` (binary multiples: 1 KB = 1024 bytes).

    A bare number is bytes.  Raises ``ValueError`` with a user-facing message.
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ValueError(f"must be a size such as 512KB or 10MB, not {_describe(text)}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("must not be negative")
        return text
    match = _SIZE.fullmatch(text.strip().lower())
    if not match or not text.isascii():
        raise ValueError(f"{text!r} is not a size: write e.g. 512KB, 10MB or 1GB")
    number, unit, _ = match.groups()
    return int(float(number) * _SIZE_UNITS[unit or ""])


def build_search_query(brand: Brand) -> str:
    """The search-engine query for ``brand``: each term quoted, joined with OR.

    ``"Atlas Télécom" OR "Atlas Telecom" OR "اتصالات الأطلس"``.  A brand's Boolean ``query:``
    is deliberately not sent to the search engine: each engine spells AND/NOT differently
    (Google wants ``-word``), so we ask wide here and the matcher applies ``query:`` and
    ``exclude:`` to what comes back, the same way for every source.
    """
    terms = []
    for term in brand.terms:
        cleaned = term.replace('"', " ").strip()
        if cleaned and cleaned not in terms:
            terms.append(cleaned)
    return " OR ".join(f'"{term}"' for term in terms)


def expand_search_url(template: str, brand: Brand) -> str:
    """``template`` with every ``{query}`` replaced by the URL-encoded query for ``brand``."""
    return template.replace("{query}", quote(build_search_query(brand), safe=""))


def _parse_yaml(text: str, path: Path) -> Any:
    """The tree with its line numbers, or ``ConfigError`` saying line and column."""
    try:
        data = read_tree(text)
    except YamlProblem as err:
        raise ConfigError([err.describe()], str(path)) from None
    except RecursionError:
        raise ConfigError(["not valid YAML: nested too deeply"], str(path)) from None
    except Exception as err:  # noqa: BLE001 - a parser bug must still end as a config problem
        raise ConfigError([f"not valid YAML: {err}"], str(path)) from None
    if data is None:
        raise ConfigError(
            [
                "the file is empty: it needs at least brands: and sources: "
                "(start from the example feeds.yaml)"
            ],
            str(path),
        )
    if not isinstance(data, dict):
        raise ConfigError(
            [
                f"line 1: the top level must be a mapping of keys (database:, brands:, "
                f"sources:, …), not {_describe(data)}"
            ],
            str(path),
        )
    return data


# --------------------------------------------------------------------------- validation


class _Invalid(Exception):
    """A value is wrong; the message says why in words for the user."""


_SECRET_KEYS = {"password", "passwd", "pass", "smtp_password", "secret", "token", "api_key"}
_SYNONYMS = {
    "feeds": "sources",
    "sender": "from",
    "interval": "every",
    "poll": "poll_every",
    "keywords": "aliases",
    "alias": "aliases",
    "excludes": "exclude",
    "host": "smtp",
    "server": "smtp",
    "recipients": "to",
    "tz": "timezone",
    "db": "database",
    "tls": "starttls",
    "user": "username",
    "lang": "language",
    "time": "at",
    "type": "kind",
    "max_bytes": "max_size",
    "url_template": "url",
}


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"{value!r}"
    if isinstance(value, Tagged):
        return f"a value tagged {value.tag}"
    return f"a {type(value).__name__}"


def _line(node: Any, key: Any = None, index: int | None = None) -> int | None:
    """1-based line of ``node[key]``'s key, of ``node[index]``, or of ``node`` itself."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is not None:
            return int(lc.key(key)[0]) + 1
        if index is not None:
            return int(lc.item(index)[0]) + 1
        return int(lc.line) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _child(place: str, key: str) -> str:
    """``place.key``; a key that is not a plain word is quoted so the place stays readable."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{place}[{key!r}]"
    return f"{place}.{key}" if place else key


# A converter turns one YAML value into a Python value or raises _Invalid.
Convert = Callable[[Any], Any]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise _Invalid(f"must be text, not {_describe(value)} — put it in quotes")
        raise _Invalid(f"must be text, not {_describe(value)}")
    cleaned = value.strip()
    if not cleaned:
        raise _Invalid("must not be empty")
    return cleaned


def _texts(value: Any) -> tuple[str, ...]:
    """A list of text; a single text stands for a list of one."""
    if isinstance(value, str):
        return (_text(value),)
    if not isinstance(value, list):
        raise _Invalid(f"must be a list such as [one, two], not {_describe(value)}")
    items = []
    problems = []
    for index, item in enumerate(value):
        try:
            items.append(_text(item))
        except _Invalid as err:
            problems.append(f"item {index + 1} {err}")
    if problems:
        raise _Invalid("; ".join(problems))
    return tuple(dict.fromkeys(items))


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, not {_describe(value)}")
    return value


def _integer(low: int, high: int) -> Convert:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"must be a whole number, not {_describe(value)}")
        if not low <= value <= high:
            raise _Invalid(f"must be between {low} and {high}, not {value}")
        return int(value)

    return convert


def _number(low: float, high: float) -> Convert:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(f"must be a number, not {_describe(value)}")
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            raise _Invalid(f"must be between {low:g} and {high:g}, not {value}")
        return number

    return convert


def _duration(low: int, high: int) -> Convert:
    def convert(value: Any) -> int:
        try:
            seconds = parse_duration(value)
        except ValueError as err:
            raise _Invalid(str(err)) from None
        if not low <= seconds <= high:
            raise _Invalid(
                f"must be between {format_duration(low)} and {format_duration(high)}, "
                f"not {format_duration(seconds)}"
            )
        return seconds

    return convert


def _seconds(value: Any) -> float:
    """A delay: a number of seconds (0.5) or a duration ('2s')."""
    if isinstance(value, float) and not isinstance(value, bool):
        return _number(0, 3600)(value)
    return float(_duration(0, 3600)(value))


def _size(value: Any) -> int:
    try:
        size = parse_size(value)
    except ValueError as err:
        raise _Invalid(str(err)) from None
    if not 1024 <= size <= 1024**3:
        raise _Invalid("must be between 1KB and 1GB")
    return size


def _choice(*choices: str) -> Convert:
    def convert(value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in choices:
            return value.strip().lower()
        raise _Invalid(f"must be one of {' | '.join(choices)}, not {_describe(value)}")

    return convert


def _timezone(value: Any) -> str:
    name = _text(value)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        import difflib  # for mistakes only, as email.utils below: ~10 ms a start together

        close = difflib.get_close_matches(name, zoneinfo.available_timezones(), n=1)
        hint = f" — did you mean {close[0]!r}?" if close else " (e.g. Africa/Casablanca)"
        raise _Invalid(f"unknown time zone {name!r}{hint}") from None
    return name


def _clock(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise _Invalid(f'must be a time such as "08:00" in quotes, not {_describe(value)}')
    text = _text(value)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise _Invalid(f'{text!r} is not a time of day: write "HH:MM", 00:00 to 23:59')
    return f"{int(match[1]):02d}:{match[2]}"


_ADDRESS = re.compile(r"[^\s@<>(),;:\"\[\]]+@[^\s@<>(),;:\"\[\].]+(?:\.[^\s@<>(),;:\"\[\].]+)*")


def _address(value: Any) -> str:
    """An address, bare (``a@example.ma``) or with a display name (``Com <a@example.ma>``)."""
    from email.utils import parseaddr

    text = _text(value)
    name, address = parseaddr(text)
    if not address or not _ADDRESS.fullmatch(address):
        raise _Invalid(f"{text!r} is not an email address")
    return text


def _addresses(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not isinstance(value, list | str):
        raise _Invalid(f"must be a list of email addresses, not {_describe(value)}")
    found = []
    problems = []
    for item in items:
        try:
            found.append(_address(item))
        except _Invalid as err:
            problems.append(str(err))
    if problems:
        raise _Invalid("; ".join(problems))
    return tuple(dict.fromkeys(found))


_WHITESPACE = re.compile(r"\s")


def _http_url(value: Any) -> str:
    text = _text(value)
    if _WHITESPACE.search(text):  # \s is str.isspace; a regex, as 1,000 URLs add up
        raise _Invalid(f"{text!r} contains spaces — encode them as %20")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        raise _Invalid(f"{text!r} is not a URL ({err})") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise _Invalid(f"must be http or https (found {scheme} in {text!r})")
    if not parts.hostname:
        raise _Invalid(f"{text!r} has no host name")
    return text


def _smtp(value: Any) -> tuple[str, int | None]:
    text = _text(value)
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^\s:/\[\]@]+)(?::(\d+))?", text)
    if not match:
        raise _Invalid(f"{text!r} is not host:port — write e.g. smtp.example.ma:587")
    host = match[1] or match[3]
    port_text = match[2] or match[4]
    port = int(port_text) if port_text else None
    if port is not None and not 1 <= port <= 65535:
        raise _Invalid(f"port {port} must be between 1 and 65535")
    return host, port


def _env_name(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise _Invalid(f"{text!r} is not an environment variable name (letters, digits, _)")
    return text


def _file_name(value: Any) -> str:
    text = _text(value)
    if "/" in text or "\\" in text or text in (".", ".."):
        raise _Invalid(f"{text!r} must be a bare file name inside $CREDENTIALS_DIRECTORY")
    return text


def _path(value: Any) -> Path:
    return Path(_text(value)).expanduser()


def _owned(value: Any) -> tuple[str, ...]:
    entries = _texts(value)
    for entry in entries:
        if any(ch.isspace() for ch in entry):
            raise _Invalid(f"{entry!r} must be a domain or URL prefix, without spaces")
    return entries


def _notify(value: Any) -> tuple[str, ...]:
    urls = _texts(value)
    for url in urls:
        if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://\S", url):
            raise _Invalid(f"{url!r} is not a notification URL (e.g. json://hooks.example.ma/x)")
    try:
        import apprise
    except ImportError:
        return urls
    for url in urls:
        if not apprise.Apprise().add(url):
            scheme = url.split("://", 1)[0]
            raise _Invalid(f"apprise does not understand {scheme}:// URLs ({url!r})")
    return urls


def _selector(value: Any) -> str:
    text = _text(value)
    try:
        import soupsieve
    except ImportError:
        return text
    try:
        soupsieve.compile(text)
    except Exception as err:  # noqa: BLE001 - soupsieve raises several kinds for bad CSS
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise _Invalid(f"{text!r} is not a CSS selector: {first_line}") from None
    return text


def _brand_query(value: Any) -> str:
    """Checked with ``ereputation.query.parse_query`` when that module is installed."""
    text = _text(value)
    try:
        from ereputation.query import parse_query  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return text
    try:
        parse_query(text)
    except (ValueError, EreputationError) as err:
        raise _Invalid(f"{text!r} is not a valid query: {err}") from None
    return text


_ALERT_FIELDS: dict[str, Convert] = {
    "cooldown": _duration(0, 30 * 86400),
    "surge_factor": _number(1, 1000),
    "surge_min": _integer(1, 100_000),
    "negative_min": _integer(1, 100_000),
    "negative_share": _number(0, 1),
    "new_voice": _flag,
    "spreading_outlets": _integer(2, 1000),
    "spreading_hours": _integer(1, 24 * 14),
    "notify": _notify,
}

_FETCH_FIELDS: dict[str, Convert] = {
    "timeout": _duration(1, 600),
    "max_size": _size,
    "concurrency": _integer(1, 256),
    "per_host": _integer(1, 32),
    "host_delay": _seconds,
    "user_agent": _text,
    "parse_processes": _integer(0, 16),
}

_DIGEST_FIELDS: dict[str, Convert] = {
    "at": _clock,
    "language": _choice("fr", "en"),
    "to": _addresses,
}

_EMAIL_FIELDS: dict[str, Convert] = {
    "smtp": _smtp,
    "starttls": _flag,
    "ssl": _flag,
    "username": _text,
    "password_env": _env_name,
    "password_file": _file_name,
    "from": _address,
    "outbox": _path,
    "timeout": _duration(1, 600),
}

_BRAND_FIELDS: dict[str, Convert] = {
    "name": _text,
    "aliases": _texts,
    "exclude": _texts,
    "case_sensitive": _flag,
    "query": _brand_query,
    "owned": _owned,
    "alerts": lambda value: value,  # a nested section, read apart
}

_SOURCE_FIELDS: dict[str, Convert] = {
    "name": _text,
    "url": _http_url,
    "kind": _choice("feed", "page", "search"),
    "every": _duration(60, 7 * 86400),
    "selector": _selector,
    "max_articles": _integer(1, 500),
    "full_text": _choice("auto", "always", "never"),
}

_TOP_FIELDS: dict[str, Convert] = {
    "database": _path,
    "timezone": _timezone,
    "brands": lambda value: value,
    "sources": lambda value: value,
    "poll_every": _duration(60, 7 * 86400),
    "digest": lambda value: value,
    "alerts": lambda value: value,
    "email": lambda value: value,
    "fetch": lambda value: value,
}


def _fold(text: str) -> str:
    """Case- and accent-blind form, for spotting two spellings of one brand."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


_MESSAGE_MAX = 400


class _Reader:
    """Walks the YAML tree once, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def report(self, place: str, line: int | None, message: str) -> None:
        if len(message) > _MESSAGE_MAX:  # a pasted novel must not drown the other problems
            message = message[: _MESSAGE_MAX - 1] + "…"
        if len(place) > 120:
            place = place[:119] + "…"
        where = f"{place} (line {line})" if line is not None else place
        self.problems.append(f"{where}: {message}" if where else message)

    def section(
        self, node: Any, place: str, line: int | None, fields: dict[str, Convert]
    ) -> dict[str, Any] | None:
        """The known keys of mapping ``node``, converted; reports unknown keys and bad values.

        Returns None when ``node`` is not a mapping at all.  Keys whose value is wrong are
        left out, so the caller's defaults apply while the problem is reported.
        """
        if not isinstance(node, dict):
            self.report(place, line, f"must be a mapping of keys, not {_describe(node)}")
            return None
        values: dict[str, Any] = {}
        for key, value in node.items():
            key_line = _line(node, key=key) or line
            name = str(key)
            if not place and name.startswith("x-"):
                continue  # a home for YAML anchors, as in docker compose files
            if name not in fields:
                self.report(_child(place, name), key_line, self.unknown_key(name, fields, place))
                continue
            try:
                values[name] = fields[name](value)
            except _Invalid as err:
                self.report(_child(place, name), key_line, str(err))
        return values

    def unknown_key(self, name: str, fields: dict[str, Convert], place: str) -> str:
        if name.lower() in _SECRET_KEYS:
            env = "password_env" if place.endswith("email") else "email.password_env"
            return (
                "secrets never go in feeds.yaml: put the password in the environment variable "
                f"named by {env} (default EREPUTATION_SMTP_PASSWORD) or in a credentials file "
                "$CREDENTIALS_DIRECTORY/smtp_password (systemd LoadCredential=)"
            )
        known = sorted(fields)
        guess = _SYNONYMS.get(name.lower())
        if guess not in fields:
            import difflib

            close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
            guess = close[0] if close else None
        if guess:
            return f"unknown key — did you mean {guess!r}?"
        return f"unknown key (known here: {', '.join(known)})"

    def items(
        self, node: Any, place: str, line: int | None
    ) -> Iterator[tuple[int, Any, int | None]]:
        """(index, item, line) of a YAML list; a mapping or scalar there is one problem."""
        if node is None:
            return
        if not isinstance(node, list):
            self.report(
                place, line, f"must be a list (each item starts with '- '), not {_describe(node)}"
            )
            return
        for index, item in enumerate(node):
            yield index, item, _line(node, index=index) or line

    # ------------------------------------------------------------------ sections

    def read_config(self, data: dict[Any, Any], path: Path) -> Config | None:
        top = self.section(data, "", 1, _TOP_FIELDS) or {}
        folder = state_folder(path)

        def line_of(key: str) -> int | None:
            return _line(data, key=key) if key in data else None

        poll_every = top.get("poll_every", 900)
        alerts = self.read_alerts(top.get("alerts"), "alerts", line_of("alerts"), AlertSettings())
        brands = self.read_brands(top.get("brands"), line_of("brands"), alerts)
        sources = self.read_sources(top.get("sources"), line_of("sources"), brands, poll_every)
        digest = self.read_digest(top.get("digest"), line_of("digest"))
        email = self.read_email(top.get("email"), line_of("email"), folder)
        fetch = self.read_fetch(top.get("fetch"), line_of("fetch"))
        if "brands" not in data:
            self.report("brands", None, "missing: list at least one brand to watch")
        elif data["brands"] is None or data["brands"] == []:
            self.report("brands", line_of("brands"), "lists no brand: add at least one")
        if "sources" not in data:
            self.report("sources", None, "missing: list at least one feed or site to poll")
        elif data["sources"] is None or data["sources"] == []:
            self.report("sources", line_of("sources"), "lists no source: add at least one")
        database = top.get("database", Path("ereputation.db"))
        return Config(
            path=path,
            database=database if database.is_absolute() else folder / database,
            timezone=top.get("timezone", "Africa/Casablanca"),
            brands=tuple(brands),
            sources=tuple(sources),
            poll_every=poll_every,
            digest=digest,
            alerts=alerts,
            email=email,
            fetch=fetch,
        )

    def read_alerts(
        self, node: Any, place: str, line: int | None, base: AlertSettings
    ) -> AlertSettings:
        """``base`` with the keys present in ``node`` replaced: brand overrides merge this way."""
        if node is None:
            return base
        values = self.section(node, place, line, _ALERT_FIELDS) or {}
        return replace(base, **values)

    def read_brands(self, node: Any, line: int | None, alerts: AlertSettings) -> list[Brand]:
        brands: list[Brand] = []
        seen: dict[str, str] = {}
        for index, item, item_line in self.items(node, "brands", line):
            place = f"brands[{index}]"
            values = self.section(item, place, item_line, _BRAND_FIELDS)
            if values is None:
                continue
            if "name" not in item:
                self.report(f"{place}.name", item_line, "missing: every brand needs a name")
            if "name" not in values:
                continue
            name_line = _line(item, key="name") or item_line
            folded = _fold(values["name"])
            if folded in seen:
                self.report(
                    f"{place}.name",
                    name_line,
                    f"{values['name']!r} is already the name of {seen[folded]}",
                )
                continue
            seen[folded] = place
            brand_alerts = self.read_alerts(
                values.pop("alerts", None), f"{place}.alerts", _line(item, key="alerts"), alerts
            )
            brands.append(Brand(**values, alerts=brand_alerts))
        return brands

    def read_sources(
        self, node: Any, line: int | None, brands: list[Brand], poll_every: int
    ) -> list[Source]:
        sources: list[Source] = []
        seen_urls: dict[str, str] = {}
        for index, item, item_line in self.items(node, "sources", line):
            place = f"sources[{index}]"
            values = self.section(item, place, item_line, _SOURCE_FIELDS)
            if values is None:
                continue
            url_line = _line(item, key="url") or item_line
            if "url" not in item:
                self.report(f"{place}.url", item_line, "missing: every source needs a url")
            if "url" not in values:
                continue
            url = values["url"]
            kind = values.get("kind", "feed")
            if kind == "search" and "{query}" not in url:
                self.report(
                    f"{place}.url",
                    url_line,
                    "a search URL must contain {query} where the brand's search terms go, "
                    "e.g. https://news.google.com/rss/search?q={query}",
                )
                continue
            if kind != "search" and "{query}" in url:
                self.report(
                    f"{place}.url", url_line, "contains {query}: add `kind: search` to this source"
                )
                continue
            if "selector" in values and kind != "page":
                self.report(
                    f"{place}.selector",
                    _line(item, key="selector") or item_line,
                    "only used by sources of kind: page",
                )
            values.setdefault("every", poll_every)
            name = values.pop("name", None) or urlsplit(url).hostname or url
            if kind == "search":
                expanded = [
                    Source(
                        **{**values, "url": expand_search_url(url, brand)},
                        name=f"{name} · {brand.name}",
                        brand=brand.name,
                        template=url,
                    )
                    for brand in brands
                ]
            else:
                expanded = [Source(**values, name=name)]
            for source in expanded:
                key = _url_key(source.url)
                if key in seen_urls:
                    self.report(
                        f"{place}.url", url_line, f"same URL as {seen_urls[key]}: list it once"
                    )
                    break
                seen_urls[key] = place
                sources.append(source)
        return sources

    def read_digest(self, node: Any, line: int | None) -> DigestSettings:
        if node is None:
            return DigestSettings()
        return DigestSettings(**(self.section(node, "digest", line, _DIGEST_FIELDS) or {}))

    def read_email(self, node: Any, line: int | None, folder: Path) -> EmailSettings:
        if node is None:
            return replace(EmailSettings(), outbox=folder / EmailSettings().outbox)
        values = self.section(node, "email", line, _EMAIL_FIELDS) or {}
        settings: dict[str, Any] = {}
        if "smtp" in values:
            host, port = values.pop("smtp")
            settings["smtp_host"] = host
            if port is not None:
                settings["smtp_port"] = port
            elif values.get("ssl"):
                settings["smtp_port"] = 465
        if "from" in values:
            settings["sender"] = values.pop("from")
        if values.get("ssl") and "starttls" not in values:
            values["starttls"] = False  # implicit TLS already encrypts; STARTTLS would fail
        if values.get("ssl") and values.get("starttls"):
            self.report(
                "email.starttls",
                _line(node, key="starttls") or line,
                "choose one: ssl: true (implicit TLS, port 465) or starttls: true (port 587)",
            )
        outbox = values.pop("outbox", EmailSettings().outbox)
        settings["outbox"] = outbox if outbox.is_absolute() else folder / outbox
        return EmailSettings(**values, **settings)

    def read_fetch(self, node: Any, line: int | None) -> FetchSettings:
        if node is None:
            return FetchSettings()
        values = self.section(node, "fetch", line, _FETCH_FIELDS) or {}
        if "max_size" in values:
            values["max_bytes"] = values.pop("max_size")
        settings = FetchSettings(**values)
        if settings.per_host > settings.concurrency:
            self.report(
                "fetch.per_host",
                _line(node, key="per_host") or line,
                f"{settings.per_host} is more than fetch.concurrency ({settings.concurrency})",
            )
        return settings


def _url_key(url: str) -> str:
    """Two spellings of one URL compare equal: scheme and host are case-blind, '/' is the root."""
    parts = urlsplit(url)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"
