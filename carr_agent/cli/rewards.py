"""`carr-agent` commands for rewards: ``score``, ``serve-reward`` and ``rubrics``.

Parse arguments, build the judge and the service, call the library, print. The judge comes from
the flags, else from the environment (``judge_from_env``); without any LLM judge configured,
requests carrying gold entity values (``remote_env_info.entities``) are scored by the
deterministic judge.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from carr_agent.cli.app import app
from carr_agent.cli.judging import (
    JudgeApiKeyOption,
    JudgeBaseUrlOption,
    JudgeCacheOption,
    JudgeConcurrencyOption,
    JudgeModelOption,
    JudgeOption,
    JudgeRpmOption,
    JudgeTemperatureOption,
    JudgeTpmOption,
    PromptsOption,
    PromptStyleOption,
    judge_config,
)

if TYPE_CHECKING:
    from carr_agent.rewards.judges import JudgeConfig
    from carr_agent.rewards.scorer import CarrScorer
    from carr_agent.rewards.server import RewardService


def _llm_scorer(config: JudgeConfig) -> CarrScorer | None:
    """The LLM-judge scorer ``config`` names, or None when it names none."""
    from carr_agent.rewards.judges import build_llm_judge
    from carr_agent.rewards.scorer import CarrScorer

    return CarrScorer(build_llm_judge(config)) if config.has_llm else None


def _service(config: JudgeConfig, *, cache: Path | None, concurrency: int, timeout: float
             ) -> RewardService:
    from carr_agent.rewards.server import RewardService, ServerOptions

    options = ServerOptions(concurrency=concurrency, cache_path=cache, judge=config.kind,
                            timeout_s=timeout, cache_namespace=config.describe())
    return RewardService(_llm_scorer(config), options=options)


def _fail(message: str) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


@app.command("score")
def score(
    input: Annotated[Path, typer.Argument(help="JSONL of /evaluate requests (reference format).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSONL of results (appended; resumable).")],
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Requests judged at once.")] = 8,
    judge: JudgeOption = "auto",
    judge_base_url: JudgeBaseUrlOption = None,
    judge_model: JudgeModelOption = None,
    judge_api_key: JudgeApiKeyOption = None,
    judge_concurrency: JudgeConcurrencyOption = None,
    judge_temperature: JudgeTemperatureOption = None,
    prompts: PromptsOption = None,
    prompt_style: PromptStyleOption = None,
    judge_cache: JudgeCacheOption = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Judge again lines that failed before.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds allowed per request.")] = 600.0,
) -> None:
    """Score /evaluate requests from a JSONL file; rerun the same command to resume."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from carr_agent.errors import CarrError
    from carr_agent.rewards.batch import iter_requests, score_jsonl

    console = Console(stderr=True)
    try:
        config = judge_config(
            judge=judge, base_url=judge_base_url, model=judge_model, api_key=judge_api_key,
            cache=judge_cache, concurrency=judge_concurrency, temperature=judge_temperature,
            prompts=prompts, prompt_style=prompt_style)
        service = _service(config, cache=None, concurrency=concurrency, timeout=timeout)
        total = sum(1 for _ in iter_requests(input)) if input.is_file() else 0
    except (CarrError, OSError) as exc:  # OSError: an unreadable input file
        raise _fail(str(exc)) from exc
    rewards: list[float] = []
    with Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=console, transient=False) as bar:
        task_id = bar.add_task("score", total=total, info="")

        def on_result(line: int, status: int, body: dict[str, Any]) -> None:
            if status == 200 and body.get("reward") is not None:
                rewards.append(float(body["reward"]))
            mean = f"mean reward {sum(rewards) / len(rewards):.3f}" if rewards else ""
            bar.update(task_id, advance=1, info=mean)

        try:
            summary = asyncio.run(
                score_jsonl(input, output, service, retry_failed=retry_failed, on_result=on_result,
                            on_resume=lambda n: bar.update(task_id, completed=n))
            )
        except (CarrError, OSError) as exc:  # OSError: an output path that cannot be written
            raise _fail(str(exc)) from exc
    for number, reason in summary.bad:
        console.print(f"[yellow]line {number} skipped:[/yellow] {reason}")
    console.print(
        f"{summary.scored} scored ({summary.failed} judge failures), {summary.already_done} "
        f"already in {output}, {len(summary.bad)} bad lines skipped"
        + (f"; mean reward {sum(rewards) / len(rewards):.4f}" if rewards else "")
    )
    if summary.bad:
        raise typer.Exit(1)


@app.command("serve-reward")
def serve_reward(
    host: Annotated[str, typer.Option("--host", help="Interface to bind (0.0.0.0: all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8888,
    judge: JudgeOption = "auto",
    judge_base_url: JudgeBaseUrlOption = None,
    judge_model: JudgeModelOption = None,
    judge_api_key: JudgeApiKeyOption = None,
    judge_concurrency: JudgeConcurrencyOption = None,
    judge_temperature: JudgeTemperatureOption = None,
    prompts: PromptsOption = None,
    prompt_style: PromptStyleOption = None,
    judge_rpm: JudgeRpmOption = None,
    judge_tpm: JudgeTpmOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Requests being judged at once, at most (a memory guard; judging is limited by the judge's limits: --judge-concurrency, --judge-rpm, --judge-tpm).")] = 512,
    cache: Annotated[Path | None, typer.Option("--cache", help="SQLite file keeping finished responses " "(identical retries answered from it, also after a restart).")] = None,
    judge_cache: JudgeCacheOption = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds allowed for one request's judging (then 504).")] = 600.0,
    deadline: Annotated[float, typer.Option("--deadline", help="Seconds before a request is answered 504 while its judging goes on (a retry collects it); 0: none. Keep it below the trainer's timeout.")] = 110.0,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", help="Larger request bodies get 413.")] = 8.0,
    cache_mb: Annotated[float, typer.Option("--cache-mb", help="Memory for cached responses.")] = 64.0,
) -> None:
    """Serve POST /evaluate, a drop-in replacement for the reference CaRR reward server."""
    import logging

    from carr_agent.errors import CarrError
    from carr_agent.rewards.server import ServerOptions, create_app, serve

    try:
        config = judge_config(
            judge=judge, base_url=judge_base_url, model=judge_model, api_key=judge_api_key,
            cache=judge_cache, concurrency=judge_concurrency, temperature=judge_temperature,
            prompts=prompts, prompt_style=prompt_style, rpm=judge_rpm, tpm=judge_tpm)
        config.prompts()  # a bad prompt directory fails now, not at the first request
        options = ServerOptions(concurrency=concurrency, cache_path=cache, judge=config.kind,
                                timeout_s=timeout, deadline_s=deadline or None,
                                max_body_bytes=int(max_body_mb * 2**20),
                                cache_bytes=int(cache_mb * 2**20),
                                cache_namespace=config.describe())
    except CarrError as exc:
        raise _fail(str(exc)) from exc

    def factory() -> CarrScorer | None:
        return _llm_scorer(config)  # built on the server's event loop (its HTTP client lives there)

    logging.getLogger(__name__).info("serving POST /evaluate on http://%s:%d (judge: %s)",
                                     host, port, config.describe())
    serve(create_app(factory, options=options), host=host, port=port)


@app.command("rubrics")
def rubrics(
    input: Annotated[Path, typer.Argument(help="JSONL of questions: {id?, question, label|answer}.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Task JSONL to write (appended; resumable).")],
    judge_base_url: Annotated[str | None, typer.Option("--judge-base-url", "--base-url", help="OpenAI-compatible LLM URL.")] = None,
    model: Annotated[str | None, typer.Option("--judge-model", "--model", help="Judge model name on --judge-base-url.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="CARR_JUDGE_API_KEY", help="API key (prefer the env variable).")] = None,
    attempts: Annotated[int, typer.Option("--attempts", min=1, help="Tries per question on invalid output.")] = 3,
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Questions at once.")] = 4,
) -> None:
    """Decompose questions into <E>-labelled single-hop rubrics with an LLM; write tasks."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from carr_agent.errors import CarrError
    from carr_agent.rewards.rubricgen import RubricGenerator, generate_tasks_jsonl

    console = Console(stderr=True)
    try:
        generator = RubricGenerator.from_openai(base_url=judge_base_url, model=model, api_key=api_key,
                                                attempts=attempts)
    except CarrError as exc:
        raise _fail(str(exc)) from exc
    with Progress(TextColumn("rubrics"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task_id = bar.add_task("rubrics", total=None)
        try:
            summary = asyncio.run(generate_tasks_jsonl(
                input, output, generator, concurrency=concurrency,
                on_total=lambda n: bar.update(task_id, total=n),
                on_result=lambda _line, _ok: bar.update(task_id, advance=1),
            ))
        except CarrError as exc:
            raise _fail(str(exc)) from exc
    for number, reason in summary.bad:
        console.print(f"[yellow]line {number} skipped:[/yellow] {reason}")
    console.print(f"{summary.written} tasks written to {output}, {summary.already_done} already "
                  f"there, {len(summary.bad)} questions failed")
    if summary.bad and summary.written == 0 and summary.already_done == 0:
        raise typer.Exit(1)
