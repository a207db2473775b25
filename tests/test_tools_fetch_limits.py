"""The web fetcher's limits, each against a real server on 127.0.0.1 (or httpx's MockTransport).

Decompression bombs stop at the cap while decoding (gzip, deflate, br, zstd); the total timeout
covers headers that trickle in and slow redirect chains; the SSRF guard knows the IANA
special-purpose ranges; a redirect to another port of an allowed host is refused.
"""

from __future__ import annotations

import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carr_agent.errors import BlockedURLError, FetchError
from carr_agent.testing.raw_server import RawServer
from carr_agent.tools.decoding import DecodedTooLarge, decode_body
from carr_agent.tools.fetch import HttpFetcher
from carr_agent.tools.ssrf import address_problem

HTML = b"<html><head><title>T</title></head><body><p>" + b"The arena hosted the event. " * 20 + b"</p></body></html>"
MB = 1 << 20


def _zeros_compressed(encoding: str, size: int) -> bytes:
    piece = b"\0" * MB
    if encoding == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        c = zlib.compressobj(9)
    elif encoding == "br":
        brotli = pytest.importorskip("brotli")
        return brotli.compress(piece * (size // MB), quality=5)
    else:
        zstandard = pytest.importorskip("zstandard")
        z = zstandard.ZstdCompressor().compressobj()
        return b"".join(z.compress(piece) for _ in range(size // MB)) + z.flush()
    return b"".join(c.compress(piece) for _ in range(size // MB)) + c.flush()


@pytest.fixture
def local() -> HttpFetcher:
    return HttpFetcher(allow_hosts=("127.0.0.1",), max_bytes=1_000_000, total_timeout=20)


@pytest.mark.parametrize(("encoding", "size"), [("zstd", 1024 * MB), ("gzip", 64 * MB),
                                                ("deflate", 64 * MB), ("br", 64 * MB)])
def test_decompression_bombs_stop_at_the_cap_while_decoding(http_server, local, encoding, size) -> None:
    bomb = _zeros_compressed(encoding, size)
    assert len(bomb) < 300_000  # small on the wire: the Content-Length check cannot catch it
    url = http_server.route("/bomb", bomb, headers={"Content-Encoding": encoding})
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(FetchError, match="1000000-byte limit"):
            local.fetch(url)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MB, f"{encoding}: {peak / MB:.0f} MB held while decoding"
    assert elapsed < 10


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_encoded_pages_within_the_cap_are_decoded(http_server, local, encoding) -> None:
    if encoding == "gzip":
        body = gzip.compress(HTML)
    elif encoding == "deflate":
        body = zlib.compress(HTML)
    elif encoding == "br":
        body = pytest.importorskip("brotli").compress(HTML)
    else:
        body = pytest.importorskip("zstandard").ZstdCompressor().compress(HTML)
    url = http_server.route("/p", body, headers={"Content-Encoding": encoding})
    assert "The arena hosted the event." in local.fetch(url).text


def test_raw_deflate_and_multi_member_gzip_are_decoded() -> None:
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert decode_body(raw.compress(b"abc") + raw.flush(), ["deflate"], limit=10) == b"abc"
    assert decode_body(gzip.compress(b"ab") + gzip.compress(b"cd"), ["gzip"], limit=10) == b"abcd"
    with pytest.raises(DecodedTooLarge):
        decode_body(gzip.compress(gzip.compress(b"x" * 100)), ["gzip", "gzip"], limit=50)


@pytest.mark.parametrize("encoding", ["compress", "x-unknown", "gzip;q=1"])
def test_unknown_content_encodings_are_a_fetch_error(http_server, local, encoding) -> None:
    url = http_server.route("/p", HTML, headers={"Content-Encoding": encoding})
    with pytest.raises(FetchError, match="unsupported content encoding"):
        local.fetch(url)


def test_a_corrupt_encoded_body_is_a_fetch_error(http_server, local) -> None:
    url = http_server.route("/p", b"\x1f\x8b\x08\x00 not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="corrupt gzip"):
        local.fetch(url)


# -- timeouts: raw socket servers that misbehave --------------------------------------------


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, str], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket, str], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_headers_trickling_in_cannot_outlast_the_total_timeout(raw_server) -> None:
    def trickle(conn: socket.socket, path: str) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(600):  # one header byte every 50 ms: never idle long enough for read_timeout
            conn.sendall(b"X")
            time.sleep(0.05)

    server = raw_server(trickle)
    fetcher = HttpFetcher(allow_hosts=("127.0.0.1",), total_timeout=1.0, read_timeout=5.0)
    started = time.perf_counter()
    with pytest.raises(FetchError, match="total timeout"):
        fetcher.fetch(server.url("/"))
    assert time.perf_counter() - started < 3.0


def test_a_slow_redirect_chain_cannot_outlast_the_total_timeout(raw_server) -> None:
    def slow_hops(conn: socket.socket, path: str) -> None:
        time.sleep(0.4)
        n = int(path.strip("/") or 0)
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: /{n + 1}\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())

    server = raw_server(slow_hops)
    fetcher = HttpFetcher(allow_hosts=("127.0.0.1",), total_timeout=1.0, read_timeout=5.0,
                          max_redirects=6)
    started = time.perf_counter()
    with pytest.raises(FetchError, match="total timeout"):
        fetcher.fetch(server.url("/0"))
    assert time.perf_counter() - started < 3.0


def test_a_slow_resolver_cannot_outlast_the_total_timeout() -> None:
    def stuck(host: str, port: int) -> list[str]:
        time.sleep(5)
        return ["93.184.216.34"]

    started = time.perf_counter()
    with pytest.raises(FetchError, match="total timeout"):
        HttpFetcher(total_timeout=0.5, resolver=stuck).fetch("https://example.org/")
    assert time.perf_counter() - started < 2.0


# -- SSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ip", [
    "192.0.0.192", "192.0.0.1", "192.0.0.170", "fec0::1", "fec0:1:2::3", "feff::1",
    "192.88.99.1", "198.18.0.1", "0.1.2.3", "100.64.0.1", "240.0.0.1", "255.255.255.255",
    "64:ff9b:1::1", "100::1", "2001:db8::1", "2001:2::1", "3fff::1", "5f00::1", "fd00::1", "ff02::1",
    "::ffff:192.0.0.192", "64:ff9b::c000:c0", "2002:c000:c0::1",
])
def test_iana_special_purpose_addresses_are_refused(ip: str) -> None:
    assert address_problem(ip) is not None
    with pytest.raises(BlockedURLError):
        HttpFetcher(resolver=lambda host, port: [ip]).fetch("http://innocent.example/")


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2002:808:808::1"])
def test_public_addresses_pass_the_guard(ip: str) -> None:
    assert address_problem(ip) is None


def test_a_redirect_to_another_port_of_an_allowed_host_is_refused(http_server, raw_server) -> None:
    other = raw_server(lambda conn, path: conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nadmin"))
    url = http_server.route("/go", status=302, content_type=None,
                            headers={"Location": other.url("/admin")})
    with pytest.raises(BlockedURLError, match=f"port {other.port}"):
        HttpFetcher(allow_hosts=("127.0.0.1",)).fetch(url)
    assert [p for _, p, _ in http_server.requests] == ["/go"]


def test_a_redirect_to_an_explicitly_allowed_port_is_followed(http_server) -> None:
    target = http_server.route("/page", HTML)
    other = HttpFetcher(allow_hosts=("127.0.0.1", f"127.0.0.1:{http_server.port}"))
    start = http_server.route("/go", status=302, content_type=None, headers={"Location": target})
    assert other.fetch(start).url == target


# -- the transport seam ---------------------------------------------------------------------


def test_a_mock_transport_sees_the_pinned_address_and_the_original_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=HTML)

    fetcher = HttpFetcher(transport=httpx.MockTransport(handler),
                          resolver=lambda host, port: ["93.184.216.34"])
    page = fetcher.fetch("http://example.org/a")
    assert page.url == "http://example.org/a" and "arena" in page.text
    (request,) = seen
    assert request.url.host == "93.184.216.34" and request.headers["host"] == "example.org"


def test_fetch_works_from_inside_a_running_event_loop() -> None:
    import asyncio

    fetcher = HttpFetcher(transport=httpx.MockTransport(
        lambda r: httpx.Response(200, headers={"Content-Type": "text/plain"}, content=b"plain words")),
        resolver=lambda host, port: ["93.184.216.34"])

    async def inside() -> str:
        return fetcher.fetch("http://example.org/").text

    assert asyncio.run(inside()) == "plain words"


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "base64", "no-such-codec"])
def test_a_declared_charset_that_is_no_page_encoding_is_read_as_utf8(http_server, local, charset) -> None:
    url = http_server.route("/p", "<html><body><p>Café Tacuba played the arena, as reported.</p></body></html>",
                            content_type=f"text/html; charset={charset}")
    assert "Café Tacuba" in local.fetch(url).text


def test_the_fetch_limits_benchmark_runs_and_every_attack_ends_in_a_fetch_error(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    proc = subprocess.run([sys.executable, "bench_fetch_limits.py", "--bomb-mib", "16", "--trickle-s", "2",
                           "--hops", "3", "--total-timeout", "0.6", "--max-bytes", "1000000",
                           "--results-dir", str(tmp_path)], cwd=bench, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((tmp_path / "fetch_limits.json").read_text())["rows"]
    ours = [r for r in rows if r["fetcher"] == "HttpFetcher"]
    assert len(ours) >= 4 and all(r["outcome"].startswith("FetchError") for r in ours)
    assert all(r["peak_heap_mib"] < 16 and r["wall_s"] < 5 for r in ours)


def test_a_page_with_very_many_blocks_is_extracted_in_bounded_time(http_server, local) -> None:
    body = "<html><head><title>Long list</title></head><body>" + \
        "".join(f"<p>entry {i} of the list</p>" for i in range(50_000)) + "</body></html>"
    url = http_server.route("/long", body)
    started = time.perf_counter()
    page = HttpFetcher(allow_hosts=("127.0.0.1",), max_bytes=5_000_000).fetch(url)
    assert time.perf_counter() - started < 10  # trafilatura alone: 30-80 s on this page
    assert page.title == "Long list" and "entry 49999 of the list" in page.text


# -- a bounded fuzz of what a server may answer ------------------------------------------------


class _Body(httpx.AsyncByteStream):
    """A streamed body (not pre-read by httpx), so the fetcher decodes it itself."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self):  # type: ignore[override]
        for i in range(0, len(self.data), 4096):
            yield self.data[i:i + 4096]


_BODIES = st.sampled_from([HTML, gzip.compress(HTML), zlib.compress(HTML), b"", b"\x1f\x8b\x08junk",
                           "Café ünïcode".encode("utf-16"), bytes(range(256)), b"<p>" * 3000])
_HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=80, deadline=None)
@given(status=st.sampled_from([200, 200, 200, 204, 301, 302, 307, 404, 500, 999]),
       content_type=st.sampled_from(["text/html", "text/plain; charset=latin-1", "text/html; charset=idna",
                                     "text/html; charset=", "application/pdf", ""]) | _HEADER_VALUES,
       encoding=st.sampled_from(["", "gzip", "deflate", "br", "zstd", "gzip, gzip", "identity", "x"])
       | _HEADER_VALUES,
       location=st.sampled_from(["/next", "http://[::1", "http://127.0.0.1:1/", "javascript:x", ""])
       | _HEADER_VALUES,
       body=_BODIES)
def test_whatever_a_server_answers_is_a_page_or_a_fetch_error(status, content_type, encoding,
                                                               location, body) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = [(k, v) for k, v in (("Content-Type", content_type), ("Content-Encoding", encoding),
                                       ("Location", location)) if v]
        return httpx.Response(status, headers=headers, stream=_Body(body))

    fetcher = HttpFetcher(transport=httpx.MockTransport(handler), max_bytes=100_000, total_timeout=5,
                          resolver=lambda host, port: ["93.184.216.34"])
    try:
        page = fetcher.fetch("http://example.org/start")
    except FetchError:
        return
    assert page.text.strip()


@pytest.mark.parametrize("location", ["javascript:alert(1)", "http://[::1", "http://h:99999/", "mailto:x@y"])
def test_a_redirect_to_an_unparsable_location_is_a_fetch_error(http_server, local, location) -> None:
    url = http_server.route("/go", status=302, content_type=None, headers={"Location": location})
    with pytest.raises(FetchError):
        local.fetch(url)
