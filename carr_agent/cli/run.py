"""`carr-agent run "QUESTION"`: research a question with the agent and print a cited answer.

Offline by default (the example corpus and the embedded local model); ``--web`` searches the web
and ``--model NAME --base-url URL`` uses an OpenAI-compatible server. Every run is checkpointed
to SQLite under a thread id printed at the start, so ``--resume THREAD`` continues a run that was
interrupted (earlier tool calls are not redone).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from carr_agent.cli import common
from carr_agent.cli.app import app

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from rich.console import Console

_PREVIEW = 160


def default_checkpoint_db() -> Path:
    """Where runs are checkpointed by default (see :func:`carr_agent.paths.checkpoints_path`)."""
    from carr_agent.paths import checkpoints_path

    return checkpoints_path()


@app.command("run")
def run(
    question: Annotated[str | None, typer.Argument(help="The question to research.")] = None,
    model: common.ModelOption = common.DEFAULT_LOCAL_MODEL,
    base_url: common.BaseUrlOption = None,
    api_key_env: common.ApiKeyEnvOption = "OPENAI_API_KEY",
    temperature: common.TemperatureOption = None,
    engine: common.EngineOption = "auto",
    cite_only_seen: common.CiteOnlySeenOption = False,
    web: common.WebOption = False,
    corpus: common.CorpusOption = None,
    max_tool_calls: common.MaxToolCallsOption = common.DEFAULT_MAX_TOOL_CALLS,
    min_tool_calls: common.MinToolCallsOption = None,
    max_context_tokens: common.MaxContextTokensOption = None,
    page_budget: common.PageBudgetOption = common.DEFAULT_PAGE_BUDGET,
    forbid: Annotated[list[str] | None, typer.Option(
        "--forbid", help="Hide pages quoting this text (repeatable); e.g. the question itself.",
    )] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the trajectory (messages, ledger, answer) as JSON here.",
    )] = None,
    checkpoint_db: Annotated[Path | None, typer.Option(
        "--checkpoint-db", help="SQLite checkpoint file (default: in the user data folder).",
    )] = None,
    no_checkpoint: Annotated[bool, typer.Option(
        "--no-checkpoint", help="Do not checkpoint (the run cannot be resumed).",
    )] = False,
    durability: Annotated[str, typer.Option(
        "--durability",
        help="When checkpoints are written: 'step' (after every step; survives a crash, but the "
             "file grows with the square of the steps: ~30 MB for 30 page reads) or 'exit' "
             "(once, when the run ends or fails; ~100x smaller; lost if the process is killed).",
    )] = "step",
    resume: Annotated[str | None, typer.Option(
        "--resume", metavar="THREAD", help="Continue the interrupted run with this thread id.",
    )] = None,
    task_id: Annotated[str | None, typer.Option(
        "--task", metavar="ID",
        help="Research a task's question (a shipped example task such as vd-dev-001, or one of "
             "--tasks-file) and, after the answer, show its gold answer, the citation check and "
             "the CaRR reward with its rubric breakdown.",
    )] = None,
    tasks_file: Annotated[Path | None, typer.Option(
        "--tasks-file", metavar="FILE", help="Task file (JSONL) --task is looked up in.",
    )] = None,
) -> None:
    """Research QUESTION with search/open/find and print a cited answer."""
    from rich.console import Console
    from rich.markup import escape

    from carr_agent.errors import CarrError

    console = Console()
    err = Console(stderr=True)
    if (question is None) == (resume is None) and (task_id is None or resume is not None):
        _fail(err, "give a QUESTION (or --task ID), or --resume THREAD to continue an earlier run")
    if question is not None and not question.strip():
        _fail(err, "the question is empty: give the QUESTION to research")
    if resume is not None and no_checkpoint:
        _fail(err, "--resume needs checkpoints; drop --no-checkpoint")
    if durability not in ("step", "exit"):
        _fail(err, f"--durability must be 'step' or 'exit', got {durability!r}")
    opts: dict[str, Any] = {
        "model": model, "base_url": base_url, "api_key_env": api_key_env,
        "temperature": temperature, "engine": engine, "cite_only_seen": cite_only_seen,
        "web": web, "corpus": None if corpus is None else str(corpus),
        "max_tool_calls": max_tool_calls, "min_tool_calls": min_tool_calls,
        "max_context_tokens": max_context_tokens, "page_budget": page_budget,
        "forbid": list(forbid or ()), "task": task_id,
        "tasks_file": None if tasks_file is None else str(tasks_file),
    }

    db = None if no_checkpoint else (checkpoint_db or default_checkpoint_db())
    with _checkpointer(db) as saver:
        if resume is not None:
            stored = _stored_options(saver, resume)
            if stored is None:
                _fail(err, f"no checkpointed run with thread id {resume!r} in {db}")
            opts.update(stored)
            shown = " ".join(f"{k}={v!r}" for k, v in stored.items() if v not in (None, [], False))
            console.print(f"[bold]resuming with the run's options[/bold] {escape(shown)}",
                          highlight=False)
        task = None
        if opts["task"] is not None:
            from carr_agent.cli.scorecard import find_task

            tasks_path = None if opts["tasks_file"] is None else Path(opts["tasks_file"])
            try:
                task = find_task(opts["task"], tasks_path)
            except CarrError as exc:
                _fail(err, str(exc))
            if question is not None and question != task.question:
                _fail(err, f"--task {opts['task']} has its own question; drop QUESTION")
            question = task.question if resume is None else None
            opts["forbid"] = list(dict.fromkeys([*opts["forbid"], *task.forbidden_strs]))
        if opts["web"] and opts["corpus"] is not None:
            _fail(err, "--web and --corpus are alternatives; give one")
        if opts["base_url"] is None and opts["model"].startswith(("http://", "https://")):
            _fail(err, "--model names a model; put the endpoint URL in --base-url")
        try:
            budgets = common.agent_config(opts["max_tool_calls"], opts["min_tool_calls"],
                                   opts["max_context_tokens"], opts["page_budget"])
            # the backends first: cheap, and they fail before a model load
            search, fetcher, _ = common.make_backends(
                opts["web"], None if opts["corpus"] is None else Path(opts["corpus"]))
            chat_model, _ = common.make_chat_model(
                opts["model"], opts["base_url"], opts["api_key_env"], opts["temperature"],
                engine=opts["engine"], cite_only_seen=opts["cite_only_seen"],
            )
        except CarrError as exc:
            _fail(err, str(exc))

        from carr_agent.graph import build_agent

        try:
            agent = build_agent(
                chat_model, search=search, fetcher=fetcher, config=budgets,
                forbidden_strs=tuple(opts["forbid"]), checkpointer=saver,
            )
        except CarrError as exc:
            _fail(err, str(exc))
        thread = resume or uuid.uuid4().hex[:12]
        # the run's options travel with its checkpoints, so --resume continues under them
        config: RunnableConfig = {"configurable": {"thread_id": thread},
                                  "metadata": {OPTIONS_KEY: json.dumps(opts)}}
        inputs: dict[str, Any] | None = {"question": question}
        if resume is not None:
            snapshot = agent.get_state(config)
            if not snapshot.values:
                _fail(err, f"no checkpointed run with thread id {resume!r} in {db}")
            inputs = None
            console.print(f"[bold]resuming thread[/bold] {escape(thread)} "
                          f"({snapshot.values.get('tool_calls', 0)} tool calls so far)")
            if not snapshot.next:
                console.print("that run had already finished")
        else:
            resume_hint = f" (resume with --resume {thread})" if db else ""
            console.print(f"[bold]thread[/bold] {thread}{resume_hint}")
            console.print(f"[bold]question[/bold] {escape(question or '')}", highlight=False)

        mode = None if db is None else ("async" if durability == "step" else "exit")
        final = _stream(agent, inputs, config, console, err, thread, db, mode)
        if resume is not None and not final:
            final = dict(agent.get_state(config).values)

    _print_answer(console, final)
    if task is not None and final.get("answer"):
        from carr_agent.cli.scorecard import print_scorecard

        try:
            print_scorecard(console, task, final)
        except CarrError as exc:
            err.print(f"[yellow]could not score the run:[/yellow] {escape(str(exc))}")
    if output is not None:
        from carr_agent.graph import trajectory_to_dict
        from carr_agent.safetext import json_dumps

        trajectory = {**trajectory_to_dict(final), "thread_id": thread}
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json_dumps(trajectory, indent=2), encoding="utf-8")
        console.print(f"trajectory written to {output}", markup=False)


# -- setup -------------------------------------------------------------------------------------

#: Checkpoint-metadata key under which a run's options (JSON) are kept for --resume.
OPTIONS_KEY = "carr_run_options"


def _stored_options(saver: Any, thread: str) -> dict[str, Any] | None:
    """The options a checkpointed run was started with ({} for runs that did not record them);
    None when the thread has no checkpoint."""
    found = saver.get_tuple({"configurable": {"thread_id": thread}})
    if found is None:
        return None
    raw = (found.metadata or {}).get(OPTIONS_KEY)
    try:
        stored = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        stored = {}
    return stored if isinstance(stored, dict) else {}


@contextmanager
def _checkpointer(db: Path | None) -> Iterator[Any]:
    """A SqliteSaver on ``db`` for the duration of a run (``None``: no checkpointing)."""
    if db is None:
        yield None
        return
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db, check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def _fail(err: Console, message: str, code: int = 2) -> NoReturn:
    from rich.markup import escape

    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


# -- running and printing ----------------------------------------------------------------------


def _stream(agent: Any, inputs: Any, config: RunnableConfig, console: Console, err: Console,
            thread: str, db: Path | None, durability: str | None) -> dict[str, Any]:
    """Run the agent, printing each step; returns the final state."""
    final: dict[str, Any] = {}
    extra = {} if durability is None else {"durability": durability}
    config = {**config, "callbacks": [_token_printer(console)]}
    try:
        for mode, chunk in agent.stream(inputs, config, stream_mode=["updates", "values"], **extra):
            if mode == "values":
                final = chunk
            else:
                for node, update in chunk.items():
                    _print_update(console, node, update or {})
    except KeyboardInterrupt:
        _interrupted(err, "stopped by the user", thread, db)
    except ValueError as exc:  # ConfigError/DataError & co: a resume would fail the same way
        _fail(err, f"the run cannot go on: {type(exc).__name__}: {exc}", code=1)
    except Exception as exc:
        _interrupted(err, f"{type(exc).__name__}: {exc}", thread, db)
    return final


def _token_printer(console: Console) -> Any:
    """A callback handler that shows a local model's tokens as they are generated (dimmed)."""
    from langchain_core.callbacks import BaseCallbackHandler

    class TokenPrinter(BaseCallbackHandler):
        def __init__(self) -> None:
            self.open = False

        def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            console.out(token, style="dim", end="", highlight=False)
            self.open = True

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            if self.open:
                console.out("")
                self.open = False

    return TokenPrinter()


def _interrupted(err: Console, why: str, thread: str, db: Path | None) -> NoReturn:
    from rich.markup import escape

    err.print(f"[red]run interrupted:[/red] {escape(why)}", highlight=False)
    if db is not None:
        err.print(f"continue it with: carr-agent run --resume {thread} --checkpoint-db {db}  "
                  "(the run's own options are kept with its checkpoints)", highlight=False)
    raise typer.Exit(1)


def _print_update(console: Console, node: str, update: dict[str, Any]) -> None:
    from langchain_core.messages import AIMessage, ToolMessage
    from rich.markup import escape

    for message in update.get("messages", []):
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                args = json.dumps(call["args"], ensure_ascii=False)
                console.print(f"[cyan]→ {escape(call['name'])}[/cyan] {escape(args)}", highlight=False)
            for bad in message.invalid_tool_calls:
                console.print(f"[yellow]→ malformed call[/yellow] {escape(str(bad.get('name')))}",
                              highlight=False)
        elif isinstance(message, ToolMessage):
            preview = " ".join(message.text.split())[:_PREVIEW]
            style = "red" if message.status == "error" else "dim"
            console.print(f"  [{style}]{escape(preview)}[/{style}]", highlight=False)
        elif node == "force_answer":
            console.print("[yellow]budget exhausted: asking for the final answer[/yellow]")


def _print_answer(console: Console, state: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    answer = state.get("answer")
    if not answer:
        console.print("[red]the run ended without an answer[/red]")
        return
    # the raw markdown, so the inline [n](url) citations stay visible
    console.print(Panel(Text(answer["text"] or "(empty answer)"), title="answer"))
    if not answer["well_formed"]:
        console.print("[yellow]the answer lacks some of the required sections[/yellow]")
    if answer["citations"]:
        table = Table(title="citations")
        for col in ("label", "url", "seen", "shown by"):
            table.add_column(col, overflow="fold")
        for c in answer["citations"]:
            seen = "[green]seen[/green]" if c["seen"] else "[red]UNSEEN[/red]"
            table.add_row(escape(c["label"]), escape(c["url"]), seen, ", ".join(c["kinds"]) or "-")
        console.print(table)
    else:
        console.print("[yellow]the answer cites no sources[/yellow]")
    console.print(
        f"tool calls: {state.get('tool_calls', 0)}, ledger records: {len(state.get('ledger', []))}, "
        f"unseen citations: {len(answer['unseen'])}, finished: {state.get('finish_reason')}"
    )
