"""The eval runner never lets one task abort the run: crashes are stored with their task.

Real agent graph, real corpus, real SQLite; the model is scripted and the judges are the
deterministic judge with one call made to crash the way a buggy or overloaded judge does.
"""

from __future__ import annotations

import decimal

import pytest

from carr_agent.errors import ConfigError
from carr_agent.eval import EvalConfig, EvalRunner, ResultStore, summarize
from carr_agent.graph import build_agent
from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.rewards import CarrScorer, DeterministicJudge
from carr_agent.task_files import load_tasks
from carr_agent.tools.corpus import CorpusIndex
from tests.eval_support import (
    ANSWER,
    SCRIPT,
    many_tasks,
    river_task,
    town_task,
    write_jsonl,
    write_world,
)


@pytest.fixture
def corpus(tmp_path):
    path, _ = write_world(tmp_path)
    return CorpusIndex.build(path, tmp_path / "index")


class CrashingOutcomeJudge(DeterministicJudge):
    """Crashes (not a JudgeError) on the task named ``town``, as the deterministic judge did on
    a 29-digit integer (decimal.InvalidOperation)."""

    async def judge_outcome(self, question, answer, label, *, task=None):
        if label == "Brastow":
            raise decimal.InvalidOperation([decimal.ConversionSyntax])
        return await super().judge_outcome(question, answer, label, task=task)


def runner_for(corpus, store, *, judge=None, model=None, factory=None, concurrency=1):
    model = model or ScriptedChatModel(turns=SCRIPT)

    def default_factory(task):
        return build_agent(model, search=corpus, fetcher=corpus, forbidden_strs=task.forbidden_strs)

    return EvalRunner(agent_factory=factory or default_factory,
                      scorer=CarrScorer(judge or DeterministicJudge()), store=store,
                      config=EvalConfig(model="scripted", corpus="test", judge="deterministic"),
                      concurrency=concurrency)


def test_a_crashing_judge_does_not_abort_the_run_and_every_result_is_stored(tmp_path, corpus):
    tasks = load_tasks(write_jsonl(tmp_path / "t.jsonl", [river_task(), town_task(), *many_tasks(4)]))
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = runner_for(corpus, store, judge=CrashingOutcomeJudge(), concurrency=2)
        outcome = runner.run(tasks)
        records = {r.task_id: r for r in store.records(runner.config.hash)}
    assert outcome.written == len(tasks) and outcome.failed == 0
    assert set(records) == {t.id for t in tasks}
    town = records["town"]
    assert town.outcome_reward is None and town.reward is None  # unknown, never 0
    assert any("InvalidOperation" in e for e in town.errors)
    assert records["river"].outcome_reward == 1.0


def test_a_29_digit_integer_in_the_answer_never_aborts_a_deterministic_eval(tmp_path, corpus):
    big = "1" * 29
    answer = ANSWER.replace("## Exact Answer\nVelda River", f"## Exact Answer\n{big}")
    model = ScriptedChatModel(turns=[*SCRIPT[:-1], answer])
    tasks = load_tasks(write_jsonl(tmp_path / "t.jsonl", [river_task(label=big), town_task()]))
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = runner_for(corpus, store, model=model)
        runner.run(tasks)
        assert {r.task_id for r in store.records(runner.config.hash)} == {"river", "town"}


def test_a_run_failing_for_its_input_is_stored_done_with_its_error_and_not_retried(tmp_path, corpus):
    tasks = load_tasks(write_jsonl(tmp_path / "t.jsonl", [river_task(), town_task()]))
    calls: list[str] = []

    def factory(task):
        calls.append(task.id)
        if task.id == "town":
            raise ConfigError("a value the agent cannot use")
        return build_agent(ScriptedChatModel(turns=SCRIPT), search=corpus, fetcher=corpus)

    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = runner_for(corpus, store, factory=factory)
        first = runner.run(tasks)
        again = runner.run(tasks)
        (town,) = [r for r in store.records(runner.config.hash) if r.task_id == "town"]
    assert (first.written, first.failed) == (2, 0)
    assert (again.skipped, again.written) == (2, 0)
    assert calls == ["river", "town"]  # not retried by the second run
    assert town.status == "ok" and town.finish_reason == "error"
    assert town.outcome_reward is None and "ConfigError: a value the agent cannot use" in town.errors[0]
    assert summarize([town]).accuracy is None


def test_an_answer_with_lone_surrogates_is_stored(tmp_path, corpus):
    answer = ANSWER.replace("Velda River\n\n## References", "Velda \ud800River\n\n## References")
    model = ScriptedChatModel(turns=[*SCRIPT[:-1], answer])
    tasks = load_tasks(write_jsonl(tmp_path / "t.jsonl", [river_task()]))
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = runner_for(corpus, store, model=model)
        assert runner.run(tasks).written == 1
        (rec,) = store.records(runner.config.hash)
    assert "Velda \ufffdRiver" in rec.answer
    assert "\ud800" in rec.trajectory["answer"]["text"]  # the JSON columns keep it, escaped


def test_a_crash_while_making_the_record_is_stored_and_not_retried(tmp_path, corpus, monkeypatch):
    import carr_agent.eval.runner as runner_module

    real = runner_module.make_record

    def crashing(task, *args, **kwargs):
        if task.id == "town":
            raise ValueError("a value the record cannot hold")
        return real(task, *args, **kwargs)

    monkeypatch.setattr(runner_module, "make_record", crashing)
    tasks = load_tasks(write_jsonl(tmp_path / "t.jsonl", [river_task(), town_task()]))
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = runner_for(corpus, store)
        assert runner.run(tasks).written == 2
        assert runner.run(tasks).skipped == 2  # the crashed one is done (with its error)
        town = {r.task_id: r for r in store.records(runner.config.hash)}["town"]
    assert town.finish_reason == "error" and "a value the record cannot hold" in town.errors[0]
