"""`carr-agent corpus build|search|open`: index a JSONL corpus and try it from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carr_agent.cli.app import app

_CORPUS_HELP = ("An index directory (from `corpus build`), a corpus JSONL, or 'example' "
                "(the shipped example corpus).")

corpus_app = typer.Typer(help="Build and query offline corpus indexes (tantivy).", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("build")
def build(
    docs: Annotated[Path, typer.Argument(help="Corpus JSONL: one {url, title, text, date} object a line.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Index directory to create.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing index at --output.")] = False,
) -> None:
    """Index a JSONL corpus for offline search."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from carr_agent.errors import CorpusError
    from carr_agent.tools.corpus import CorpusIndex

    console = Console(stderr=True)
    total = docs.stat().st_size if docs.is_file() else 0
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"indexing {docs.name}", total=total or None)
        try:
            index = CorpusIndex.build(docs, output, overwrite=force,
                                      progress=lambda done, _total: progress.update(task, completed=done))
        except CorpusError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    stats = index.build_stats
    assert stats is not None
    for line, url, first in stats.duplicates[:20]:
        console.print(f"[yellow]duplicate[/yellow] line {line}: {url} (same page as line {first}); skipped")
    if len(stats.duplicates) > 20:
        console.print(f"[yellow]... and {len(stats.duplicates) - 20} more duplicates[/yellow]")
    typer.echo(f"indexed {stats.docs} documents into {output} "
               f"({len(stats.duplicates)} duplicate URLs skipped)")


@corpus_app.command("search")
def search(
    index: Annotated[str, typer.Argument(metavar="CORPUS", help=_CORPUS_HELP)],
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Search text.")],
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=100, help="Number of hits.")] = 10,
) -> None:
    """Search an index and print the hits as the agent would see them."""
    from carr_agent.errors import CorpusError, SearchError
    from carr_agent.tools.corpus import open_corpus
    from carr_agent.tools.render import render_search

    try:
        hits = open_corpus(index).search(query, k)
    except (CorpusError, SearchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(render_search(hits))


@corpus_app.command("open")
def open_page(
    index: Annotated[str, typer.Argument(metavar="CORPUS", help=_CORPUS_HELP)],
    url: Annotated[str, typer.Argument(
        metavar="URL", help="URL of a page in the corpus (any normalised form).")],
    budget: Annotated[int, typer.Option(min=1, help="Characters of page text to show.")] = 10_000,
) -> None:
    """Print a page from the index as the agent would see it."""
    from carr_agent.errors import CorpusError, FetchError
    from carr_agent.tools.corpus import open_corpus
    from carr_agent.tools.render import render_page

    try:
        page = open_corpus(index).fetch(url)
    except (CorpusError, FetchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(render_page(page, budget=budget)[0])
