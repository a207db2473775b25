"""The web page fetcher: httpx behind the SSRF guard, then trafilatura for the main text.

Each hop of a redirect chain is requested by hand (``follow_redirects=False``) so its URL passes
the guard of :mod:`carr_agent.tools.ssrf` before anything is sent; a host named in
``allow_hosts`` is exempt from the address checks, but a redirect to another port of it is refused
(unless that ``host:port`` is allowed too). Limits, all enforced as the page arrives:

* ``total_timeout`` bounds the whole fetch (name resolution, every redirect hop, headers that
  trickle in byte by byte, the body): the fetch runs on an event loop under one deadline;
* ``max_bytes`` bounds the body as received *and* as decoded: ``Content-Encoding`` (gzip,
  deflate, br, zstd) is undone by :mod:`carr_agent.tools.decoding`, which stops a decompression
  bomb when its output passes the cap instead of inflating it first;
* only HTML, XHTML and plain text are read.

HTML goes through trafilatura's ``bare_extraction`` (main text, title, date); when it finds
nothing (very short or odd pages) the visible text is stripped from the markup instead. Plain text
passes through. A declared charset that is not a text encoding for pages (``undefined``, ``idna``,
``base64``, unknown names) is ignored: the body is read as UTF-8.

``transport`` is httpx's transport seam: tests pass ``httpx.MockTransport(handler)``.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from carr_agent.aio import in_daemon_thread, run_sync
from carr_agent.errors import BlockedURLError, ConfigError, FetchError
from carr_agent.tools.decoding import decode_body
from carr_agent.tools.ssrf import Resolver, check_host, resolve_host
from carr_agent.types import Page

logger = logging.getLogger(__name__)

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"text/plain"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_USER_AGENT = "Mozilla/5.0 (compatible; carr-agent/0.1; research agent)"
#: Pages with more block elements than this skip trafilatura (50,000 paragraphs took it 30-80 s
#: on a shared 2-core machine) and get the linear plain-text extraction instead.
MAX_EXTRACT_BLOCKS = 10_000
_BLOCK_TAG = re.compile(r"<(?:p|div|li|tr|td|th|dd|dt|h[1-6]|pre|blockquote|section|article)[\s>/]",
                        re.I)
#: Codecs that Python calls text encodings but that no web page is written in.
_NOT_PAGE_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape",
                                "raw-unicode-escape", "unicode_escape", "raw_unicode_escape"})


@dataclass(frozen=True, kw_only=True)
class HttpFetcher:
    """A :class:`~carr_agent.tools.base.PageFetcher` for the open web.

    Args:
        allow_hosts: host names or IPs exempt from the address checks (e.g. ``("127.0.0.1",)``
            for a local test server), or ``"host:port"`` to exempt one port only; schemes are
            still checked, and a redirect to a port of an allowed host that the fetch has not
            used yet is refused.
        connect_timeout: seconds to connect.
        read_timeout: seconds to wait for each chunk of the response.
        total_timeout: seconds for a whole fetch: resolution, redirects, headers and body.
        max_bytes: the largest body read, before and after decoding; a larger page is refused.
        max_redirects: redirects followed before giving up.
        user_agent: the ``User-Agent`` header.
        resolver: ``resolver(host, port) -> [ip, ...]``; the system resolver by default.
        transport: an ``httpx.AsyncBaseTransport`` to send requests through (tests:
            ``httpx.MockTransport``); a fresh default transport per fetch when ``None``.
    """

    allow_hosts: tuple[str, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    user_agent: str = _USER_AGENT
    resolver: Resolver = field(default=resolve_host, repr=False)
    transport: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.allow_hosts, str):
            raise ConfigError("allow_hosts must be a tuple of host names, not a string")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.max_bytes < 1:
            raise ConfigError(f"max_bytes must be >= 1, got {self.max_bytes}")
        if self.max_redirects < 0:
            raise ConfigError(f"max_redirects must be >= 0, got {self.max_redirects}")
        object.__setattr__(self, "allow_hosts", tuple(h.lower().rstrip(".") for h in self.allow_hosts))

    def fetch(self, url: str) -> Page:
        """Fetch ``url`` and return its main text (sync wrapper of :meth:`afetch`).

        Raises:
            BlockedURLError: the URL or a redirect target is refused by the SSRF guard.
            FetchError: an invalid URL, network failure, HTTP error status, too many redirects,
                the total timeout, a content type other than HTML/plain text, a body over
                ``max_bytes`` (received or decoded), or no extractable text.
        """
        return run_sync(self.afetch(url))

    async def afetch(self, url: str) -> Page:
        """Fetch ``url`` and return its main text; see :meth:`fetch`."""
        try:
            async with asyncio.timeout(self.total_timeout):
                final, body, mime, charset = await self._download(url)
        except TimeoutError as exc:
            raise FetchError(f"timed out fetching {url} (over the {self.total_timeout:g}s "
                             "total timeout)") from exc
        return _to_page(final, body, mime, charset)

    async def _download(self, url: str) -> tuple[str, bytes, str, str | None]:
        """Follow the redirect chain; ``(final URL, decoded body, mime type, charset)``."""
        import httpx

        url = _with_scheme(url)
        timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
        used_ports: dict[str, set[int]] = {}
        # a fresh client per fetch: connections are pinned to checked addresses, never pooled
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                                     transport=self.transport) as client:
            for hop in range(self.max_redirects + 1):
                try:
                    result = await self._request(client, url, hop, used_ports)
                except httpx.TimeoutException as exc:
                    raise FetchError(f"timed out fetching {url}") from exc
                except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                    # InvalidURL also comes from a redirect Location httpx cannot parse
                    raise FetchError(f"could not fetch {url}: {type(exc).__name__}: {exc}") from exc
                if isinstance(result, str):
                    url = result
                    continue
                return (url, *result)
        raise FetchError(f"too many redirects (more than {self.max_redirects}) from {url}")

    async def _request(self, client: Any, url: str, hop: int, used_ports: dict[str, set[int]]
                       ) -> str | tuple[bytes, str, str | None]:
        """One hop: a redirect target URL, or ``(decoded body, mime type, charset)``."""
        parsed, host, port = _parse(url)
        pinned = await self._guard(host, port, hop, used_ports, url)
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate",
                   "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1"}
        extensions: dict[str, Any] = {}
        target = parsed
        if pinned is not None and pinned != host:
            target = parsed.copy_with(host=pinned)
            headers["Host"] = host if parsed.port is None else f"{host}:{parsed.port}"
            if parsed.scheme == "https":
                extensions["sni_hostname"] = host
        request = client.build_request("GET", target, headers=headers, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            if response.status_code in _REDIRECTS and response.headers.get("location"):
                try:
                    return urljoin(url, response.headers["location"])
                except ValueError as exc:
                    raise FetchError(f"{url} redirects to an invalid URL: {exc}") from exc
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} fetching {url}")
            mime, charset = _content_type(response.headers.get("content-type"))
            if mime and mime not in _HTML_TYPES | _TEXT_TYPES:
                raise FetchError(f"cannot open {url}: content type {mime!r} is not HTML or plain text")
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > self.max_bytes:
                raise FetchError(f"cannot open {url}: {int(length)} bytes is over the "
                                 f"{self.max_bytes}-byte limit")
            raw, decoded = await self._read(response, url)
            encodings = [] if decoded else response.headers.get_list("content-encoding",
                                                                    split_commas=True)
            try:
                body = decode_body(raw, encodings, limit=self.max_bytes)
            except FetchError as exc:
                raise FetchError(f"cannot open {url}: {exc}") from exc
            return body, mime, charset
        finally:
            await response.aclose()

    async def _guard(self, host: str, port: int, hop: int, used_ports: dict[str, set[int]],
                     url: str) -> str | None:
        """The SSRF check of one hop; the address to connect to (None: let httpx resolve)."""
        name = host.lower().rstrip(".")
        by_port = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
        if by_port in self.allow_hosts:
            return None
        if name in self.allow_hosts:
            ports = used_ports.setdefault(name, set())
            if hop > 0 and port not in ports:
                raise BlockedURLError(
                    f"refusing the redirect to {url}: {name} is allowed, but port {port} is not "
                    f"one this fetch was given (allow '{by_port}' to permit it)")
            ports.add(port)
            return None
        return await in_daemon_thread(lambda: check_host(
            host, port, allow_hosts=frozenset(), resolver=self.resolver))

    async def _read(self, response: Any, url: str) -> tuple[bytes, bool]:
        """The body as received, capped; ``(body, already decoded)``."""
        import httpx

        chunks, size = [], 0
        try:
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(f"cannot open {url}: the page is over the "
                                     f"{self.max_bytes}-byte limit")
                chunks.append(chunk)
        except httpx.StreamConsumed:  # a transport that handed over a read response (mocks)
            return response.content, True
        return b"".join(chunks), False


def _parse(url: str) -> tuple[Any, str, int]:
    """``(httpx.URL, host, port)`` of an http(s) URL.

    Raises:
        BlockedURLError: another scheme.
        FetchError: the URL cannot be parsed or has no host.
    """
    import httpx

    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:  # UnicodeError is a ValueError
        raise FetchError(f"invalid URL {url!r}: {exc}") from exc
    if parsed.scheme not in {"http", "https"}:
        raise BlockedURLError(f"refusing {url}: only http and https URLs can be opened")
    if not host:
        raise FetchError(f"invalid URL {url!r}: no host")
    return parsed, host, port


def _with_scheme(url: str) -> str:
    url = url.strip()
    if not url:
        raise FetchError("empty URL")
    m = _SCHEME.match(url)
    if "://" in url:
        return url
    if m and not url[m.end() :].split("/", 1)[0].isdigit():  # "mailto:x", not "host:8080/"
        raise BlockedURLError(f"refusing {url}: only http and https URLs can be opened")
    return "https://" + url


def _content_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    mime, _, params = header.partition(";")
    m = re.search(r"charset=[\"']?([\w.:-]+)", params, re.I)
    return mime.strip().lower(), (m.group(1) if m else None)


def _to_page(url: str, body: bytes, mime: str, charset: str | None) -> Page:
    if not mime:
        mime = "text/html" if body.lstrip()[:1] == b"<" else "text/plain"
    if mime in _TEXT_TYPES:
        text = _decode(body, charset).strip()
        if not text:
            raise FetchError(f"no text at {url}: the page is empty")
        title = next((line.strip()[:120] for line in text.splitlines() if line.strip()), url)
        return Page(url=url, title=title, text=text)
    return extract_html(body if charset is None else _decode(body, charset), url)


def _extract(html: str | bytes, url: str) -> Any:
    from trafilatura import bare_extraction

    blocks = len(_BLOCK_TAG.findall(html if isinstance(html, str) else html.decode("latin-1")))
    if blocks > MAX_EXTRACT_BLOCKS:  # trafilatura's time grows faster than linearly in blocks
        logger.info("%s has %d block elements (> %d): plain text extraction", url, blocks,
                    MAX_EXTRACT_BLOCKS)
        return None
    try:
        return bare_extraction(html, url=url, with_metadata=True)
    except (ValueError, LookupError) as exc:  # e.g. a <meta charset> naming a broken codec
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return None


def _decode(body: bytes, charset: str | None) -> str:
    return body.decode(_page_charset(charset) or "utf-8", errors="replace")


def _page_charset(charset: str | None) -> str | None:
    """The codec name of a declared charset, or None when it is not one pages are written in."""
    if not charset:
        return None
    try:
        name = codecs.lookup(charset).name
        b"a".decode(name, "ignore")  # LookupError for codecs that are no text encodings (base64)
    except (LookupError, ValueError):
        return None
    return None if name in _NOT_PAGE_CHARSETS else name


def extract_html(html: str | bytes, url: str) -> Page:
    """Main text, title and date of an HTML document (trafilatura, with a plain-strip fallback;
    documents over :data:`MAX_EXTRACT_BLOCKS` block elements get the plain strip only).

    Raises:
        FetchError: neither trafilatura nor the fallback finds any text.
    """
    doc = _extract(html, url)
    text = (doc.text or "").strip() if doc is not None else ""
    title = (doc.title or "").strip() if doc is not None else ""
    date = (doc.date or None) if doc is not None else None
    if not text or not title:
        fallback_title, fallback_text = _strip_html(html)
        text = text or fallback_text
        title = title or fallback_title
    if not text:
        raise FetchError(f"no extractable text at {url}")
    return Page(url=url, title=title or url, text=text, date=date)


def _strip_html(html: str | bytes) -> tuple[str, str]:
    """``(title, visible text)`` of a document, one line per block, for pages trafilatura skips."""
    import lxml.html
    from lxml import etree

    if isinstance(html, str) and html.lstrip().startswith("<?xml"):
        html = html.encode("utf-8")  # lxml refuses str input that declares an encoding
    try:
        root = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError, LookupError):
        return "", ""
    title = " ".join((root.findtext(".//title") or "").split())
    etree.strip_elements(root, "script", "style", "noscript", "template", "head", with_tail=False)
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for el in root.iter(*_BLOCKS):
        el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return title, "\n".join(line for line in lines if line)


_BLOCKS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote",
           "section", "article", "table", "ul", "ol", "dd", "dt")

__all__ = ["MAX_EXTRACT_BLOCKS", "HttpFetcher", "extract_html"]
