"""The shared Typer application every command module registers on."""

from __future__ import annotations

import contextlib
import io
import logging
import sys

import typer

app = typer.Typer(
    name="carr-agent",
    help="Deep-search agents on LangGraph, scored with CaRR and trained with C-GRPO.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def configure_logging(verbose: bool) -> None:
    """carr_agent's own messages at INFO (DEBUG with ``-v``); third-party libraries (httpx logs
    every request of a judge call at INFO) only at WARNING unless ``-v``."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, rich_tracebacks=False)],
        force=True,
    )
    logging.getLogger("carr_agent").setLevel(logging.DEBUG if verbose else logging.INFO)


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log debug messages, third-party libraries' included."),
) -> None:
    """Deep-search agents on LangGraph, scored with CaRR and trained with C-GRPO."""
    tolerant_streams()
    configure_logging(verbose)


def tolerant_streams() -> None:
    """Make stdout/stderr escape what they cannot encode instead of raising: a model's answer or
    a file may hold a lone surrogate, and printing it must not end the command."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, io.UnsupportedOperation):
                reconfigure(errors="backslashreplace")
