"""Run the ``carr-agent`` CLI in this process (typer's ``CliRunner``), as a subprocess would.

Subprocesses stay only where a test needs a real process: killing one mid-run, or a README
command. Everything else calls :func:`run_cli`, which returns what ``subprocess.run`` would
(``returncode``, ``stdout``, ``stderr``); an uncaught exception becomes exit code 1 with its
traceback on stderr, as the ``carr-agent`` script prints it.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CliResult:
    """What the command did: exit status and its output streams."""

    returncode: int
    stdout: str
    stderr: str


@contextmanager
def _cwd(path: Path | None) -> Iterator[None]:
    old = os.getcwd()
    if path is not None:
        os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_cli(*args: str, env: Mapping[str, str | None] | None = None, cwd: Path | None = None,
            input: str | None = None) -> CliResult:
    """``carr-agent ARGS...`` in-process; ``env`` entries are set (``None``: unset) for the call
    only."""
    from typer.testing import CliRunner

    from carr_agent.cli import _register, app

    _register()
    environment: dict[str, str | None] = {"COLUMNS": "200", **(env or {})}
    with _cwd(cwd):
        result = CliRunner().invoke(app, list(args), env=environment, input=input)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return CliResult(result.exit_code, result.stdout, stderr)


def judge_env_cleared(**extra: str) -> dict[str, str | None]:
    """An ``env`` for :func:`run_cli` without any ``CARR_JUDGE_*`` variable of this process, the
    judge cache off, and ``extra`` set."""
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CARR_JUDGE")}
    return {**cleared, "CARR_JUDGE_CACHE": "off", **extra}
