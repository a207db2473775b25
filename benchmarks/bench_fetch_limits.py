"""The web fetcher's limits under attack, beside a plain httpx client measured in the same run.

Servers on 127.0.0.1 misbehave in three ways; each is fetched by

* ``httpx (baseline)``: an ``httpx.Client`` with the same connect/read timeouts and the same
  body cap checked on ``iter_bytes()`` (httpx decodes each received chunk whole), following
  redirects hop by hop: what a fetcher built the usual way does;
* ``HttpFetcher``: carr_agent's fetcher (one deadline for the whole fetch; decoding capped in
  64 kB pieces; see ``carr_agent/tools/fetch.py`` and ``decoding.py``).

Attacks: a decompression bomb per Content-Encoding (a small body inflating to ``--bomb-mib``);
headers trickling in one byte every 50 ms for ``--trickle-s`` seconds; a redirect chain of
``--hops`` hops, each answered after 0.4 s. Reported: wall time, peak Python heap while
fetching (tracemalloc) and the outcome.

    python benchmarks/bench_fetch_limits.py --bomb-mib 1024 --trickle-s 8 --hops 6
"""

from __future__ import annotations

import argparse
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
from harness import write_results

from carr_agent.errors import FetchError
from carr_agent.testing.raw_server import RawServer
from carr_agent.tools.fetch import HttpFetcher

MB = 1 << 20


def bomb(encoding: str, size_mib: int) -> bytes | None:
    piece = b"\0" * MB
    if encoding == "zstd":
        try:
            import zstandard
        except ImportError:
            return None
        z = zstandard.ZstdCompressor().compressobj()
        return b"".join(z.compress(piece) for _ in range(size_mib)) + z.flush()
    if encoding == "br":
        try:
            import brotli
        except ImportError:
            return None
        c = brotli.Compressor(quality=5)
        return b"".join(c.process(piece) for _ in range(size_mib)) + c.finish()
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(c.compress(piece) for _ in range(size_mib)) + c.flush()


def serve_body(body: bytes, encoding: str) -> Callable[[socket.socket, str], None]:
    def handler(conn: socket.socket, path: str) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: {encoding}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return handler


def trickle(seconds: float) -> Callable[[socket.socket, str], None]:
    def handler(conn: socket.socket, path: str) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            conn.sendall(b"X")
            time.sleep(0.05)
    return handler


def slow_hops(hops: int) -> Callable[[socket.socket, str], None]:
    def handler(conn: socket.socket, path: str) -> None:
        time.sleep(0.4)
        n = int(path.strip("/") or 0)
        if n >= hops:
            body = b"<html><body><p>arrived after the chain</p></body></html>"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        else:
            conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: /{n + 1}\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n".encode())
    return handler


def baseline_fetch(url: str, *, max_bytes: int, read_timeout: float, max_redirects: int) -> str:
    """The usual fetcher: httpx, read timeout per chunk, cap checked on decoded chunks."""
    from urllib.parse import urljoin

    import httpx

    with httpx.Client(timeout=httpx.Timeout(read_timeout, connect=5.0), follow_redirects=False) as c:
        for _ in range(max_redirects + 1):
            with c.stream("GET", url) as r:
                if r.status_code in (301, 302, 303, 307, 308):
                    url = urljoin(url, r.headers["location"])
                    continue
                size = 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"over the {max_bytes}-byte limit (a {len(chunk)}-byte chunk)")
                return "ok"
    raise FetchError("too many redirects")


def measure(fn: Callable[[], Any]) -> dict[str, Any]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        fn()
        outcome = "fetched"
    except FetchError as exc:
        outcome = f"FetchError: {str(exc)[:70]}"
    except Exception as exc:  # the baseline can fail in other ways (MemoryError, ...)
        outcome = f"{type(exc).__name__}: {str(exc)[:70]}"
    wall = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"wall_s": round(wall, 2), "peak_heap_mib": round(peak / MB, 1), "outcome": outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bomb-mib", type=int, default=1024, help="decoded size of each bomb")
    parser.add_argument("--encodings", nargs="+", default=["zstd", "gzip", "deflate", "br"])
    parser.add_argument("--trickle-s", type=float, default=8.0)
    parser.add_argument("--hops", type=int, default=6)
    parser.add_argument("--total-timeout", type=float, default=2.0)
    parser.add_argument("--max-bytes", type=int, default=5_000_000)
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.results_dir is not None:
        harness.RESULTS_DIR = args.results_dir

    fetcher = HttpFetcher(allow_hosts=("127.0.0.1",), max_bytes=args.max_bytes,
                          total_timeout=args.total_timeout, read_timeout=15.0, max_redirects=args.hops)
    rows: list[dict[str, Any]] = []

    def both(attack: str, url: str, *, wire: int | None = None) -> None:
        for name, fn in (("httpx (baseline)", lambda: baseline_fetch(
                             url, max_bytes=args.max_bytes, read_timeout=15.0, max_redirects=args.hops)),
                         ("HttpFetcher", lambda: fetcher.fetch(url))):
            rows.append({"attack": attack, "fetcher": name, "wire_bytes": wire, **measure(fn)})

    for encoding in args.encodings:
        body = bomb(encoding, args.bomb_mib)
        if body is None:
            print(f"skipping {encoding}: its library is not installed")
            continue
        both(f"{encoding} bomb ({args.bomb_mib} MiB decoded)", RawServer(serve_body(body, encoding)).url(),
             wire=len(body))
    both(f"headers trickling for {args.trickle_s:g} s", RawServer(trickle(args.trickle_s)).url())
    both(f"{args.hops} redirect hops x 0.4 s", RawServer(slow_hops(args.hops)).url("/0"))
    write_results("fetch_limits", rows, params=vars(args) | {"results_dir": str(args.results_dir)},
                  notes=f"max_bytes={args.max_bytes}, total_timeout={args.total_timeout:g}s, "
                        "read_timeout=15s; peak_heap_mib is tracemalloc's peak of Python "
                        "allocations during the fetch.")


if __name__ == "__main__":
    main()
