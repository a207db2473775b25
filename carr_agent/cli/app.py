"""The shared Typer application every command module registers on."""

from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="carr-agent",
    help="Deep-search agents on LangGraph, scored with CaRR and trained with C-GRPO.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    """Deep-search agents on LangGraph, scored with CaRR and trained with C-GRPO."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, rich_tracebacks=False)],
    )
