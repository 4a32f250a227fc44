"""Owned or third party: does a URL fall under one of the brand's own domains or prefixes?"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


def is_owned(url: str, owned: Sequence[str]) -> bool:
    """True when ``url`` is on an owned domain (or a subdomain of it) or under an owned prefix.

    Entries are written as users think of them: ``atlastelecom.ma`` (the domain and every
    subdomain), ``twitter.com/atlastelecom`` (that account's URLs only), with or without
    a scheme or ``www.``.  ``atlastelecom.ma`` does not own ``notatlastelecom.ma``.
    """
    if not owned:
        return False
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    path = parts.path or "/"
    for entry in owned:
        entry_host, _, entry_path = _strip_scheme(entry).partition("/")
        entry_host = entry_host.lower().rstrip(".")
        entry_host = entry_host[4:] if entry_host.startswith("www.") else entry_host
        if not entry_host or not (host == entry_host or host.endswith("." + entry_host)):
            continue
        if not entry_path:
            return True
        prefix = "/" + entry_path.strip("/")
        if path.lower() == prefix.lower() or path.lower().startswith(prefix.lower() + "/"):
            return True
    return False


def _strip_scheme(entry: str) -> str:
    entry = entry.strip()
    for scheme in ("https://", "http://"):
        if entry.lower().startswith(scheme):
            return entry[len(scheme) :]
    return entry
