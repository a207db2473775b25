"""`carr-agent train`: C-GRPO training of the agent; `carr-agent train config-show`: the config.

    carr-agent train --config examples/train_cpu_tiny.yaml
    carr-agent train --config run.yaml --max-steps 20 --output-dir runs/a --resume
    carr-agent train config-show                      # every key with its default
    carr-agent train config-show --config run.yaml    # the resolved config of a file
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from carr_agent.cli.app import app

train_app = typer.Typer(
    help="Train the agent's policy with C-GRPO (rollouts through the real graph, CaRR rewards).",
    invoke_without_command=True,
)
app.add_typer(train_app, name="train")


def _fail(console: Any, message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _overrides(max_steps: int | None, output_dir: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if max_steps is not None:
        out["max_steps"] = max_steps
    if output_dir is not None:
        out["output_dir"] = str(output_dir)
    return out


@train_app.callback()
def train(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Training config (.yaml/.yml/.toml). See `carr-agent train config-show`.",
    )] = None,
    max_steps: Annotated[int | None, typer.Option(
        "--max-steps", help="Override max_steps (C-GRPO steps in total, counting resumed ones).",
    )] = None,
    output_dir: Annotated[Path | None, typer.Option(
        "--output-dir", help="Override output_dir (checkpoints, metrics.jsonl, curves.png).",
    )] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the newest checkpoint in the output directory.",
    )] = False,
) -> None:
    """Run C-GRPO training from a config file (every key is optional; defaults: config-show)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console

    from carr_agent.errors import CarrError

    console = Console()
    if config is None:
        _fail(console, "--config FILE is required (start from examples/train_cpu_tiny.yaml)")
        return
    from carr_agent.training.config import load_config
    from carr_agent.training.loop import train as run_training

    try:
        cfg = load_config(config, _overrides(max_steps, output_dir))
        console.print(f"C-GRPO: policy [bold]{cfg.policy.source}[/], {cfg.max_steps} steps, "
                      f"{cfg.data.questions_per_step} questions x {cfg.rollout.group_size} rollouts "
                      f"→ {cfg.output_dir}")
        result = run_training(cfg, resume=resume, show_progress=True)
    except CarrError as exc:
        _fail(console, str(exc))
        return
    if not result.records:
        console.print(f"nothing to do: the run is already at step {result.last_step}")
        return
    last = result.records[-1]
    console.print(
        f"done: steps {result.first_step}-{result.last_step}; last reward "
        f"{_fmt(last['reward'])}, outcome {_fmt(last['outcome_reward'])}, rubric "
        f"{_fmt(last['rubric_reward'])}; metrics {result.output_dir / 'metrics.jsonl'}, "
        f"curves {result.output_dir / 'curves.png'}"
    )


def _fmt(value: Any) -> str:
    return "unknown" if value is None else f"{value:.3f}"


@train_app.command("config-show")
def config_show(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Show this file's resolved config instead of the defaults.",
    )] = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
) -> None:
    """Print every training config key with its default (or a file's resolved values)."""
    import json

    import yaml
    from rich.console import Console

    from carr_agent.errors import CarrError
    from carr_agent.training.config import TrainConfig, config_to_dict, load_config

    console = Console()
    try:
        cfg = load_config(config) if config is not None else TrainConfig()
    except CarrError as exc:
        _fail(console, str(exc))
        return
    data = config_to_dict(cfg)
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
    elif fmt == "yaml":
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
    else:
        _fail(console, f"--format must be yaml or json, got {fmt!r}")
