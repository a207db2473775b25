"""URL normalisation shared by the tools (source ids) and the rewards (citation matching).

Citations and tool observations must match even when the agent writes ``http`` for ``https``,
drops ``www.``, adds a trailing slash or a fragment, or cites a reader/view-source form of the page.

Every function here is total and linear in the length of its input: URLs come from model output
and from requests, so a malformed one (a port that is not a number or out of range, a broken IPv6
literal, a lone surrogate) still gets a key (the text form of its parts, see
:func:`normalize_url`) instead of an exception.
"""

from __future__ import annotations

import functools
import hashlib
import re
from urllib.parse import unquote, urlsplit

#: Prefixes some browsing stacks put in front of the real URL.
_WRAPPER_PREFIX = re.compile(
    r"view-source:|https?://r\.jina\.ai/|https?://(?:www\.)?reader\.[^/]+/|about:reader\?url=",
    re.I,
)
#: At most this many wrapper layers are removed (real URLs carry one or two).
MAX_WRAPPERS = 8
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: ``scheme://netloc path ?query`` of a URL that ``urlsplit`` refuses (fragments dropped).
_TEXT_PARTS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)([^?#]*)(?:\?([^#]*))?")


def strip_wrappers(url: str) -> str:
    """Remove reader / view-source prefixes (up to :data:`MAX_WRAPPERS` layers) and surrounding
    whitespace or angle brackets."""
    url = url.strip().strip("<>").strip()
    for _ in range(MAX_WRAPPERS):
        m = _WRAPPER_PREFIX.match(url)
        if m is None:
            break
        url = url[m.end():]
        if url[:8].lower().startswith(("http%3a", "https%3a")):
            url = unquote(url)
    return url


def normalize_url(url: str) -> str:
    """Return the matching key of a URL (see :func:`_normalize`); keys of URLs up to
    :data:`MEMO_MAX_CHARS` characters are remembered (the same pages recur across a trajectory's
    records and across trajectories)."""
    if len(url) <= MEMO_MAX_CHARS:
        return _normalize_memo(url)
    return _normalize(url)


def _normalize(url: str) -> str:
    """Return the matching key of a URL: no scheme, lower-case host without ``www.``, no default
    port, no fragment, no trailing slash, percent-decoded path.

    Never raises: a URL whose authority cannot be parsed (``host:99999``, ``host:abc``, ``[::1``)
    keeps its authority as written (lower-cased, ``www.`` dropped), so it matches only itself.

    >>> normalize_url("HTTPS://www.Example.org/wiki/UFC_219/#History")
    'example.org/wiki/UFC_219'
    >>> normalize_url("http://example.org/wiki/UFC_219")
    'example.org/wiki/UFC_219'
    >>> normalize_url("http://example.org:99999/a/")
    'example.org:99999/a'
    """
    url = strip_wrappers(url)
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
        scheme, path, query = parts.scheme.lower(), parts.path, parts.query
    except ValueError:  # a bad port or IPv6 literal: keep the authority as text
        return _text_key(url)
    host = host.removeprefix("www.")
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return _key(host, path, query)


#: URLs up to this length have their keys remembered (4,096 at most: ~4 MB).
MEMO_MAX_CHARS = 512
_normalize_memo = functools.lru_cache(maxsize=4096)(_normalize)


def source_id(url: str) -> str:
    """A short stable id for a source: the same for every URL variant of one page."""
    key = normalize_url(url).encode("utf-8", "surrogatepass")
    return f"S{hashlib.sha1(key).hexdigest()[:10]}"


def _text_key(url: str) -> str:
    m = _TEXT_PARTS.match(url)
    if m is None:  # pragma: no cover - normalize_url always passes a scheme
        return url
    authority = m.group(1).rpartition("@")[2].lower().rstrip(".")
    return _key(authority.removeprefix("www."), m.group(2), m.group(3) or "")


def _key(host: str, path: str, query: str) -> str:
    path = unquote(path).rstrip("/")
    return f"{host}{path}?{query}" if query else f"{host}{path}"
