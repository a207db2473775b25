"""`carr-agent eval` (run the agent over a task file into a results store) and `carr-agent report`.

``eval`` is resumable: every task's result is committed to the SQLite store as it finishes, and
running the same command again skips what is done (the key is task id + run-configuration hash).
``report`` writes one self-contained HTML file from a store, optionally compared with another.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from carr_agent.cli import common
from carr_agent.cli.app import app
from carr_agent.cli.judging import (
    JudgeApiKeyOption,
    JudgeBaseUrlOption,
    JudgeCacheOption,
    JudgeConcurrencyOption,
    JudgeModelOption,
    JudgeOption,
    JudgeTemperatureOption,
    PromptsOption,
    PromptStyleOption,
    judge_config,
)
from carr_agent.rewards.options import DEFAULT_ALPHA

if TYPE_CHECKING:
    from rich.console import Console

    from carr_agent.eval import EvalRecord
    from carr_agent.rewards.judges import JudgeConfig
    from carr_agent.task_files import TaskSet



@app.command("eval")
def eval_command(
    tasks: Annotated[Path, typer.Argument(
        help="Task file (JSONL): this project's format or the CaRR-DeepDive layout.",
    )],
    store: Annotated[Path, typer.Option(
        "--store", "-s", help="SQLite results store (created if missing; re-use it to resume).",
    )],
    concurrency: Annotated[int, typer.Option(
        "--concurrency", "-j", min=1, help="Agent runs in flight at once.",
    )] = 1,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", min=1, help="Only the first N tasks of the file.",
    )] = None,
    model: common.ModelOption = common.DEFAULT_LOCAL_MODEL,
    base_url: common.BaseUrlOption = None,
    api_key_env: common.ApiKeyEnvOption = "OPENAI_API_KEY",
    temperature: common.TemperatureOption = None,
    engine: common.EngineOption = "auto",
    cite_only_seen: common.CiteOnlySeenOption = False,
    web: common.WebOption = False,
    corpus: common.CorpusOption = None,
    judge: JudgeOption = "auto",
    judge_base_url: JudgeBaseUrlOption = None,
    judge_model: JudgeModelOption = None,
    judge_api_key: JudgeApiKeyOption = None,
    judge_cache: JudgeCacheOption = None,
    judge_concurrency: JudgeConcurrencyOption = None,
    judge_temperature: JudgeTemperatureOption = None,
    prompts: PromptsOption = None,
    prompt_style: PromptStyleOption = None,
    max_tool_calls: common.MaxToolCallsOption = common.DEFAULT_MAX_TOOL_CALLS,
    min_tool_calls: common.MinToolCallsOption = None,
    max_context_tokens: common.MaxContextTokensOption = None,
    page_budget: common.PageBudgetOption = common.DEFAULT_PAGE_BUDGET,
    alpha: Annotated[float, typer.Option(
        "--alpha", min=0.0, max=1.0, help="Rubric weight α of the combined reward.",
    )] = DEFAULT_ALPHA,
    no_connectivity: Annotated[bool, typer.Option(
        "--no-connectivity", help="Count supported rubrics even when not chained to the answer.",
    )] = False,
    no_citation_check: Annotated[bool, typer.Option(
        "--no-citation-check", help="Skip judging each citing sentence against its source.",
    )] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Stop at the first unusable task line instead of skipping it.",
    )] = False,
) -> None:
    """Run the agent on every task of TASKS, score each run (outcome + CaRR) and store it.

    Interrupt it at any time; the same command continues where it stopped.
    """
    from rich.console import Console

    from carr_agent.errors import CarrError

    console, err = Console(), Console(stderr=True)
    if web and corpus is not None:
        _fail(err, "--web and --corpus are alternatives; give one")
    task_set = _read_tasks(tasks, strict, err)
    selected = list(task_set.tasks[:limit] if limit else task_set.tasks)
    try:
        the_judge, judge_desc = _judge(judge_config(
            judge=judge, base_url=judge_base_url, model=judge_model, api_key=judge_api_key,
            cache=judge_cache, concurrency=judge_concurrency, temperature=judge_temperature,
            prompts=prompts, prompt_style=prompt_style), selected)
        budgets = common.agent_config(max_tool_calls, min_tool_calls, max_context_tokens, page_budget)
        chat_model, model_desc = common.make_chat_model(
            model, base_url, api_key_env, temperature, engine=engine, cite_only_seen=cite_only_seen
        )
        search, fetcher, corpus_desc = common.make_backends(web, corpus)
    except CarrError as exc:
        _fail(err, str(exc))

    from carr_agent.eval import EvalConfig, EvalRunner, ResultStore
    from carr_agent.graph import build_agent
    from carr_agent.rewards import CarrScorer, ScoreOptions

    config = EvalConfig(
        model=model_desc, corpus=corpus_desc, judge=judge_desc, agent=budgets, alpha=alpha,
        connectivity=not no_connectivity, check_citations=not no_citation_check,
    )
    scorer = CarrScorer(the_judge, ScoreOptions(alpha=alpha, connectivity=not no_connectivity))

    def agent_for(task: Any) -> Any:
        return build_agent(chat_model, search=search, fetcher=fetcher, config=budgets,
                           forbidden_strs=task.forbidden_strs)

    try:
        result_store = ResultStore(store)
    except (CarrError, OSError) as exc:  # OSError: a store path that cannot be created
        _fail(err, str(exc))
    with result_store:
        runner = EvalRunner(agent_factory=agent_for, scorer=scorer, store=result_store,
                            config=config, concurrency=concurrency)
        pending = runner.pending(selected)
        console.print(
            f"[bold]run[/bold] {config.hash[:12]} · model {model_desc} · judge {judge_desc} · "
            f"{len(selected)} tasks, {len(selected) - len(pending)} already done"
            f" · store {store}", highlight=False,
        )
        outcome = _run_with_progress(runner, selected, len(pending), console, err, store)
        wanted = {t.id for t in selected}
        records = [r for r in result_store.records(config.hash, status=None) if r.task_id in wanted]
    _print_summary(console, records)
    failed = [r for r in records if r.status == "failed"]
    for r in failed:
        err.print(f"[red]failed[/red] {r.task_id}: {'; '.join(r.errors)}", highlight=False)
    errored = [r for r in records if r.status == "ok" and r.finish_reason == "error"]
    for r in errored:
        err.print(f"[red]error[/red] {r.task_id}: {'; '.join(r.errors)} (stored; not retried)",
                  highlight=False)
    console.print(f"{outcome.written} results written this time, {outcome.skipped} skipped; "
                  f"report: carr-agent report {store} -o report.html", highlight=False)
    if failed:
        err.print(f"{len(failed)} runs failed; run the same command again to retry them")
    if task_set.errors:
        err.print(f"{len(task_set.errors)} task lines skipped (named above)")
    if failed or errored or task_set.errors:
        raise typer.Exit(1)


@app.command("report")
def report_command(
    store: Annotated[Path, typer.Argument(help="Results store written by `carr-agent eval`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    compare: Annotated[Path | None, typer.Option(
        "--compare", help="A second store to compare with (e.g. C-GRPO vs GRPO policy).",
    )] = None,
    run: Annotated[str | None, typer.Option(
        "--run", help="Config-hash prefix of the run to report (default: the latest used).",
    )] = None,
    compare_run: Annotated[str | None, typer.Option(
        "--compare-run", help="Config-hash prefix of the run in the --compare store.",
    )] = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title.")] = None,
) -> None:
    """Write a self-contained HTML report of STORE (optionally compared with another store)."""
    from rich.console import Console

    from carr_agent.errors import CarrError
    from carr_agent.eval import write_report

    console, err = Console(), Console(stderr=True)
    try:
        path = write_report(store, output, compare_store=compare, run=run, compare_run=compare_run,
                            title=title)
    except CarrError as exc:
        _fail(err, str(exc))
    console.print(f"report written to {path}", highlight=False)


# -- setup -------------------------------------------------------------------------------------


def _read_tasks(path: Path, strict: bool, err: Console) -> TaskSet:
    from carr_agent.errors import TaskFormatError
    from carr_agent.task_files import read_tasks

    try:
        task_set = read_tasks(path, strict=strict)
    except TaskFormatError as exc:
        _fail(err, str(exc))
    for problem in task_set.errors:
        err.print(f"[yellow]skipped[/yellow] {path}: {problem}", highlight=False)
    return task_set


def _judge(config: JudgeConfig, tasks: list[Any]) -> tuple[Any, str]:
    """The judge the configuration gives for these tasks, and its description."""
    from carr_agent.rewards.judges import build_judge

    has_gold = all(t.entities or not t.rubrics for t in tasks)
    judge = build_judge(config, task_has_gold=has_gold)
    return judge, config.describe()


def _fail(err: Console, message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


# -- running and printing ----------------------------------------------------------------------


def _run_with_progress(runner: Any, tasks: list[Any], pending: int, console: Console,
                       err: Console, store: Path) -> Any:
    """Run with a rich progress bar whose description shows the running accuracy."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    tally = {"correct": 0, "known": 0, "unknown": 0, "failed": 0}

    def describe() -> str:
        acc = f"{100 * tally['correct'] / tally['known']:.0f}%" if tally["known"] else "n/a"
        return (f"acc {acc} ({tally['correct']}/{tally['known']}) · "
                f"unknown {tally['unknown']} · failed {tally['failed']}")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                  transient=False) as progress:
        bar = progress.add_task(describe(), total=pending)

        def on_result(record: EvalRecord) -> None:
            if record.status == "failed":
                tally["failed"] += 1
            elif record.outcome_reward is None:
                tally["unknown"] += 1
            else:
                tally["known"] += 1
                tally["correct"] += record.outcome_reward >= 1.0
            progress.update(bar, advance=1, description=describe())

        try:
            return runner.run(tasks, on_result=on_result)
        except KeyboardInterrupt:
            progress.stop()
            err.print(f"[yellow]interrupted[/yellow]: finished results are in {store}; run the "
                      "same command again to continue", highlight=False)
            raise typer.Exit(130) from None


def _print_summary(console: Console, records: list[EvalRecord]) -> None:
    from rich.table import Table

    from carr_agent.eval.metrics import SUMMARY_FIELDS, format_value, summarize

    summary = summarize(records)
    table = Table(title="evaluation summary", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for attr, label, kind in SUMMARY_FIELDS:
        table.add_row(label, format_value(getattr(summary, attr), kind))
    console.print(table)

