"""A raw TCP "HTTP" server on 127.0.0.1 that answers however a test or benchmark tells it to.

For the misbehaviour a well-behaved server library will not produce: headers trickling in byte by
byte, slow redirect hops, a second port to redirect to. Each connection runs
``handler(conn, path)`` in its own daemon thread; ``path`` is the request target of the first
request line.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

Handler = Callable[[socket.socket, str], None]


class RawServer:
    """Listening on 127.0.0.1 (a free port) until :meth:`close`."""

    def __init__(self, handler: Handler) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.handler = handler
        self._stopped = threading.Event()
        threading.Thread(target=self._serve, name="raw-server", daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            request = conn.recv(65536).decode("latin-1")
            self.handler(conn, request.split(" ", 2)[1] if " " in request else "/")
        conn.close()

    def url(self, path: str = "/") -> str:
        """``http://127.0.0.1:PORT{path}``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        """Stop accepting connections."""
        self._stopped.set()
        self.sock.close()


__all__ = ["Handler", "RawServer"]
