"""The evaluation runner: real agent graph, real corpus, real SQLite; only the model is scripted."""

from __future__ import annotations

import pytest

from carr_agent.errors import JudgeError, ModelError
from carr_agent.eval import EvalConfig, EvalRunner, ResultStore, summarize
from carr_agent.eval.citecheck import citing_sentences
from carr_agent.graph import build_agent
from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.rewards import CarrScorer, DeterministicJudge
from carr_agent.task_files import load_tasks
from carr_agent.tools.corpus import CorpusIndex
from tests.eval_support import (
    ANSWER,
    BRASTOW_URL,
    MAREK_URL,
    SCRIPT,
    deepdive_task,
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


def make_runner(corpus, store, *, judge=None, model=None, concurrency=1, calls=None):
    model = model or ScriptedChatModel(turns=SCRIPT)

    def factory(task):
        if calls is not None:
            calls.append(task.id)
        return build_agent(model, search=corpus, fetcher=corpus, forbidden_strs=task.forbidden_strs)

    config = EvalConfig(model="scripted", corpus="test", judge="deterministic")
    return EvalRunner(agent_factory=factory, scorer=CarrScorer(judge or DeterministicJudge()),
                      store=store, config=config, concurrency=concurrency)


def tasks_from(tmp_path, records):
    return load_tasks(write_jsonl(tmp_path / "tasks.jsonl", records))


def test_every_task_is_run_scored_and_stored(tmp_path, corpus):
    tasks = tasks_from(tmp_path, [river_task(), town_task()])
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = make_runner(corpus, store)
        seen = []
        outcome = runner.run(tasks, on_result=seen.append)
        assert (outcome.total, outcome.written, outcome.skipped, outcome.failed) == (2, 2, 0, 0)
        assert sorted(r.task_id for r in seen) == ["river", "town"]
        records = {r.task_id: r for r in store.records(runner.config.hash)}
    river, town = records["river"], records["town"]
    assert (river.outcome_reward, river.rubric_reward) == (1.0, 1.0)
    assert river.reward == pytest.approx(1.0)
    assert town.outcome_reward == 0.0 and town.rubric_reward == 1.0
    assert river.extracted_answer == "Velda River"
    assert river.answer == ANSWER
    assert (river.n_search, river.n_open, river.n_find, river.tool_calls) == (1, 2, 1, 4)
    assert river.n_citations == 3 and river.n_unseen_citations == 1
    # 2 claims cite Marek, 2 cite Brastow; "twelve symphonies" is not on the Brastow page
    assert (river.n_checked_citations, river.n_unsupported_citations) == (4, 1)
    assert {rec["url"] for rec in river.ledger} >= {MAREK_URL, BRASTOW_URL}
    assert river.trajectory["question"] == river.question
    assert river.trajectory["messages"][-1]["type"] == "ai"
    assert river.hops == 2 and river.finish_reason == "answered"
    assert len(river.rubric_scores) == 3 and river.rubric_scores[0]["score"] == 1
    summary = summarize(list(records.values()))
    assert summary.accuracy == 0.5 and summary.unsupported_citation_rate == 0.25


def test_a_rerun_skips_finished_tasks(tmp_path, corpus):
    tasks = tasks_from(tmp_path, [river_task(), town_task()])
    with ResultStore(tmp_path / "r.sqlite") as store:
        make_runner(corpus, store).run(tasks[:1])
        calls: list[str] = []
        outcome = make_runner(corpus, store, calls=calls).run(tasks)
        assert calls == ["town"]
        assert (outcome.skipped, outcome.written) == (1, 1)
        assert store.count() == 2


def test_a_failed_agent_run_is_stored_as_failed_and_retried(tmp_path, corpus):
    tasks = tasks_from(tmp_path, [river_task(), town_task()])
    broken = ScriptedChatModel(turns=[SCRIPT[0], {"raise": "the model server went away"}])
    with ResultStore(tmp_path / "r.sqlite") as store:
        outcome = make_runner(corpus, store, model=broken).run(tasks)
        assert outcome.failed == 2
        failed = store.records(make_runner(corpus, store).config.hash, status="failed")
        assert {r.task_id for r in failed} == {"river", "town"}
        assert "ModelError" in failed[0].errors[0]
        assert failed[0].outcome_reward is None
        outcome = make_runner(corpus, store).run(tasks)
        assert (outcome.written, outcome.failed, outcome.skipped) == (2, 0, 0)
        assert store.count() == 2
        assert {r.status for r in store.records(make_runner(corpus, store).config.hash,
                                                 status=None)} == {"ok"}


class FailingOutcomeJudge(DeterministicJudge):
    """The deterministic judge whose outcome calls fail (like an LLM judge timing out)."""

    async def judge_outcome(self, question, answer, label, *, task=None):
        raise JudgeError("judge timed out")


def test_a_judge_failure_is_stored_as_unknown_not_zero(tmp_path, corpus):
    tasks = tasks_from(tmp_path, [river_task()])
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = make_runner(corpus, store, judge=FailingOutcomeJudge())
        runner.run(tasks)
        (rec,) = store.records(runner.config.hash)
    assert rec.status == "ok"
    assert rec.outcome_reward is None and rec.reward is None
    assert rec.rubric_reward == 1.0
    assert any("judge timed out" in e for e in rec.errors)
    s = summarize([rec])
    assert s.accuracy is None and s.unknown_outcome == 1


def test_tasks_without_gold_entities_get_unknown_rubric_reward_from_the_deterministic_judge(
    tmp_path, corpus
):
    tasks = tasks_from(tmp_path, [deepdive_task()])
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = make_runner(corpus, store)
        runner.run(tasks)
        (rec,) = store.records(runner.config.hash)
    assert rec.outcome_reward == 0.0  # "Velda River" is not 1903
    assert rec.rubric_reward is None
    assert any("no gold value for entity E1" in e for e in rec.errors)


def test_concurrent_runs_store_each_task_exactly_once(tmp_path, corpus):
    tasks = tasks_from(tmp_path, many_tasks(8))
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = make_runner(corpus, store, concurrency=4)
        outcome = runner.run(tasks)
        assert outcome.written == 8
        ids = [r.task_id for r in store.records(runner.config.hash)]
    assert sorted(ids) == sorted(t.id for t in tasks)
    assert summarize([]).n_tasks == 0


def test_model_failure_inside_factory_is_a_failed_record(tmp_path, corpus):
    tasks = tasks_from(tmp_path, [river_task()])
    with ResultStore(tmp_path / "r.sqlite") as store:
        runner = make_runner(corpus, store)

        def factory(task):
            raise ModelError("weights not installed")

        runner.agent_factory = factory
        assert runner.run(tasks).failed == 1


def test_citing_sentences_attach_trailing_citations_and_strip_links():
    claims = dict((c, tuple(u)) for c, u in citing_sentences(ANSWER))
    assert claims["The opera The Silver Lantern was composed by Anton Marek."] == (MAREK_URL,)
    assert claims["The Velda River flows through Brastow."] == (BRASTOW_URL,)
    assert len(claims) == 5
    text = "A fact. [1](https://a.org/x) Another fact [2](https://b.org/Mercury_(planet)).\n"
    got = citing_sentences("## Explanation with Citations\n" + text + "## References\n[3](https://c.org)")
    assert got == [("A fact.", ["https://a.org/x"]),
                   ("Another fact.", ["https://b.org/Mercury_(planet)"])]


def test_results_are_stored_off_the_event_loop(tmp_path, corpus):
    """Defect: each SQLite commit (an fsync) ran on the event loop, stalling every other run."""
    import threading

    tasks = tasks_from(tmp_path, many_tasks(4))
    loop_thread = threading.get_ident()  # runner.run runs its loop in this thread
    saved_in: list[int] = []
    with ResultStore(tmp_path / "r.sqlite") as store:
        save = store.save

        def spy(record):
            saved_in.append(threading.get_ident())
            return save(record)

        store.save = spy
        outcome = make_runner(corpus, store, concurrency=4).run(tasks)
        assert outcome.written == 4 and len(saved_in) == 4
        assert loop_thread not in saved_in
        assert store.count() == 4  # the connection still serves this thread afterwards
