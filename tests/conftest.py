"""Shared pytest fixtures: a real HTTP server on 127.0.0.1 serving routes a test declares.

Usage::

    def test_x(http_server):
        http_server.route("/a", "<html>...</html>")                       # 200 text/html
        http_server.route("/old", status=302, headers={"Location": "/a"}) # redirect
        http_server.route("/pdf", b"%PDF-1.7", content_type="application/pdf")
        url = http_server.url("/a")                                        # http://127.0.0.1:PORT/a

The server is a stdlib ``ThreadingHTTPServer`` on port 0 in a daemon thread, one per test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    """A canned response: status, body, headers; ``send_length=False`` streams without a length."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True


class LocalHTTPServer:
    """A running local HTTP server; add routes with :meth:`route`, build URLs with :meth:`url`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, dict(self.headers.items())))
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    route = Route(404, b"<html><body><p>not found</p></body></html>",
                                  {"Content-Type": "text/html"})
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if route.send_length:
                    self.send_header("Content-Length", str(len(route.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    for i in range(0, len(route.body), 8192):
                        self.wfile.write(route.body[i : i + 8192])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (size caps do that)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.host, self.port = "127.0.0.1", self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def route(
        self,
        path: str,
        body: str | bytes = b"",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        send_length: bool = True,
    ) -> str:
        """Serve ``body`` at ``path``; returns the full URL."""
        all_headers = {"Content-Type": content_type} if content_type else {}
        all_headers.update(headers or {})
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(status, data, all_headers, send_length)
        return self.url(path)

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    """A real HTTP server on 127.0.0.1 (random port) serving the routes the test adds."""
    server = LocalHTTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
