"""A minimal HTTP/1.1 client over asyncio streams: keep-alive connections to one origin.

Why not httpx: a judge call through httpx costs ~2.5 ms of CPU, through this ~0.15 ms (both
measured in ``benchmarks/bench_reward_server.py``), and on a small machine the reward server's
throughput is bounded by that CPU. What it supports is what an OpenAI-compatible endpoint needs:
``http`` and ``https`` (TLS with certificate checks), ``POST`` with a body, responses with
``Content-Length``, ``Transfer-Encoding: chunked`` or a body ending at connection close, and
keep-alive with reuse of idle connections. A request that fails on a *reused* connection before any
byte of the answer arrived (the server closed it while idle) is sent once more on a new connection.
No proxies, no redirects, no HTTP/2.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from carr_agent.errors import ConfigError

#: Response heads larger than this are refused.
MAX_HEAD_BYTES = 64 * 1024


class HTTPError(Exception):
    """The connection failed or the server's answer is not valid HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class Response:
    """A finished response."""

    status: int
    body: bytes


class _Conn:
    __slots__ = ("reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.reused = reader, writer, False

    def close(self) -> None:
        self.writer.close()


class KeepAliveClient:
    """Connections to the origin of ``base_url``, reused across requests (LIFO).

    Args:
        base_url: ``http(s)://host[:port][/prefix]``; request paths are appended to the prefix.
        max_idle: idle connections kept open at most.
    """

    def __init__(self, base_url: str, *, max_idle: int = 256) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"judge URL must be http(s)://host[:port]/..., got {base_url!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"judge URL has a bad port: {base_url!r}") from exc
        self.host = parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        default = (parts.scheme == "https" and self.port == 443) or self.port == 80
        self._host_header = parts.netloc.rpartition("@")[2] if not default else self.host
        self._idle: list[_Conn] = []
        self._max_idle = max_idle

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Response:
        """``POST prefix + path``; raises :class:`HTTPError` on any transport failure."""
        lines = [f"POST {self.prefix}{path} HTTP/1.1", f"Host: {self._host_header}",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        while True:
            try:
                conn = await self._connection()
            except OSError as exc:
                raise HTTPError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
            try:
                response, keep = await self._exchange(conn, request)
            except (OSError, asyncio.IncompleteReadError, HTTPError, ValueError) as exc:
                conn.close()
                if conn.reused and isinstance(exc, (asyncio.IncompleteReadError,
                                                    ConnectionError)):
                    continue  # an idle connection the server had closed: try a fresh one
                raise HTTPError(f"{type(exc).__name__}: {exc}") from exc
            except BaseException:  # cancelled mid-exchange: the connection's state is unknown
                conn.close()
                raise
            if keep and len(self._idle) < self._max_idle:
                conn.reused = True
                self._idle.append(conn)
            else:
                conn.close()
            return response

    async def aclose(self) -> None:
        """Close the idle connections."""
        while self._idle:
            self._idle.pop().close()

    async def _connection(self) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self._ssl, limit=MAX_HEAD_BYTES)
        return _Conn(reader, writer)

    async def _exchange(self, conn: _Conn, request: bytes) -> tuple[Response, bool]:
        conn.writer.write(request)
        await conn.writer.drain()
        try:
            head = await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise HTTPError("response head too large") from exc
        conn.reused = False  # bytes arrived: a failure from here on is not a stale connection
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1."):
            raise HTTPError(f"not an HTTP/1.x response: {status_line[:80]!r}")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(conn.reader)
        elif "content-length" in headers:
            body = await conn.reader.readexactly(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body, keep = await conn.reader.read(), False
        return Response(status, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


__all__ = ["MAX_HEAD_BYTES", "HTTPError", "KeepAliveClient", "Response"]
