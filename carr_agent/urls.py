"""URL normalisation shared by the tools (source ids) and the rewards (citation matching).

Citations and tool observations must match even when the agent writes ``http`` for ``https``,
drops ``www.``, adds a trailing slash or a fragment, or cites a reader/view-source form of the page.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote, urlsplit

#: Prefixes some browsing stacks put in front of the real URL.
_WRAPPER_PREFIXES = (
    re.compile(r"^view-source:", re.I),
    re.compile(r"^https?://r\.jina\.ai/", re.I),
    re.compile(r"^https?://(?:www\.)?reader\.[^/]+/", re.I),
    re.compile(r"^about:reader\?url=", re.I),
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def strip_wrappers(url: str) -> str:
    """Remove reader / view-source prefixes, repeatedly, and surrounding whitespace or brackets."""
    url = url.strip().strip("<>").strip()
    changed = True
    while changed:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            new = prefix.sub("", url, count=1)
            if new != url:
                if new.lower().startswith(("http%3a", "https%3a")):
                    new = unquote(new)
                url, changed = new, True
    return url


def normalize_url(url: str) -> str:
    """Return the matching key of a URL: no scheme, lower-case host without ``www.``, no default
    port, no fragment, no trailing slash, percent-decoded path.

    >>> normalize_url("HTTPS://www.Example.org/wiki/UFC_219/#History")
    'example.org/wiki/UFC_219'
    >>> normalize_url("http://example.org/wiki/UFC_219")
    'example.org/wiki/UFC_219'
    """
    url = strip_wrappers(url)
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port if parts.port is not None else None
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    path = unquote(parts.path).rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{path}{query}"


def source_id(url: str) -> str:
    """A short stable id for a source: the same for every URL variant of one page."""
    digest = hashlib.sha1(normalize_url(url).encode("utf-8")).hexdigest()
    return f"S{digest[:10]}"
