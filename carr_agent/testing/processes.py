"""Real server processes for tests and benchmarks: a free port, start and wait, stop.

Used by the test suite and by ``benchmarks/`` to run ``carr-agent serve-reward``, the fake judge
and other servers as separate processes on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(cmd: Sequence[str], port: int, *, log: Path | None = None,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 ready: str = "/health", any_status: bool = False,
                 timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """Start ``cmd`` and wait until ``GET http://127.0.0.1:port{ready}`` answers 200 (or, with
    ``any_status``, answers at all: for servers without a health route).

    Raises:
        RuntimeError: the process exited (its log's tail is quoted) or did not answer in time.
    """
    import httpx

    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(list(cmd), env={**os.environ, **(env or {})}, cwd=cwd, stdout=out,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {detail}")
        try:
            status = httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1.0).status_code
            if any_status or status == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{list(cmd)} did not come up on port {port} within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process (kill it after 10 s) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


__all__ = ["free_port", "start_server", "stop"]
