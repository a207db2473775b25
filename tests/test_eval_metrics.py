"""Evaluation metrics: unknowns are counted, never averaged in as zeros."""

from __future__ import annotations

import pytest

from carr_agent.eval import EvalRecord, compare, summarize, task_row
from carr_agent.eval.metrics import format_delta, format_value, mean, rubric_fractions


def rubric(identified: bool, supported: bool | None, connected: bool) -> dict:
    return {"raw_rubric": "r", "all_entity_identified": identified, "is_supported": supported,
            "connected_to_answer": connected, "score": int(bool(supported) and connected)}


def rec(task_id: str, outcome: float | None, rubric_reward: float | None = 0.5, **kw) -> EvalRecord:
    base = dict(task_id=task_id, config_hash="h", outcome_reward=outcome,
                rubric_reward=rubric_reward,
                reward=None if outcome is None or rubric_reward is None else 0.5)
    base.update(kw)
    return EvalRecord(**base)


def test_accuracy_is_over_known_outcomes_and_unknowns_are_counted():
    s = summarize([rec("a", 1.0), rec("b", 0.0), rec("c", None), rec("d", 1.0)])
    assert s.accuracy == pytest.approx(2 / 3)
    assert s.unknown_outcome == 1
    assert s.n_known_outcome == 3
    assert s.n_tasks == 4


def test_all_unknown_gives_no_accuracy_rather_than_zero():
    s = summarize([rec("a", None, None), rec("b", None, None)])
    assert s.accuracy is None
    assert s.mean_rubric_reward is None
    assert s.unknown_outcome == 2 and s.unknown_rubric == 2
    assert format_value(s.accuracy, "pct") == "n/a"


def test_failed_runs_are_counted_but_not_scored():
    s = summarize([rec("a", 1.0), rec("b", None, None, status="failed")])
    assert (s.n_tasks, s.n_failed, s.accuracy, s.unknown_outcome) == (1, 1, 1.0, 0)


def test_rubric_fractions_per_task():
    r = rec("a", 1.0, rubric_scores=[rubric(True, True, True), rubric(True, True, False),
                                     rubric(True, False, False), rubric(False, False, False)])
    assert rubric_fractions(r) == (0.75, 0.5, 0.25)
    unknown = rec("b", 1.0, rubric_scores=[rubric(True, None, False), rubric(False, False, False)])
    assert rubric_fractions(unknown) == (0.5, None, None)
    assert rubric_fractions(rec("c", 1.0)) == (None, None, None)
    s = summarize([r, unknown])
    assert s.frac_identified == pytest.approx(0.625)
    assert s.frac_supported == pytest.approx(0.5)  # the unknown task is left out


def test_citation_and_tool_metrics():
    a = rec("a", 1.0, n_citations=4, n_unseen_citations=1, n_checked_citations=3,
            n_unsupported_citations=1, n_search=2, n_open=1, n_find=1, tool_calls=4,
            prompt_tokens=100, completion_tokens=20, wall_s=2.0)
    b = rec("b", 0.0, n_citations=0, n_unseen_citations=0, n_checked_citations=2,
            n_unsupported_citations=None, n_search=1, tool_calls=1, wall_s=1.0,
            finish_reason="tool_budget")
    s = summarize([a, b])
    assert s.citations_per_answer == 2.0
    assert s.unseen_citations == 1 and s.unseen_citations_per_answer == 0.5
    assert (s.checked_citations, s.unsupported_citations) == (3, 1)  # b's check is unknown
    assert s.unsupported_citation_rate == pytest.approx(1 / 3)
    assert (s.tool_calls_per_run, s.search_per_run, s.open_per_run) == (2.5, 1.5, 0.5)
    assert s.prompt_tokens_per_run == 100.0  # b reported no usage: not a zero
    assert s.wall_s_total == 3.0
    assert s.forced_answers == 1
    row = task_row(a)
    assert row.tokens == 120 and row.unsupported_citations == 1


def test_breakdown_by_hop_count():
    s = summarize([rec("a", 1.0, hops=1), rec("b", 0.0, hops=1), rec("c", 1.0, hops=3),
                   rec("d", None, hops=None)])
    assert list(s.by_hops) == ["1", "3", "?"]
    assert s.by_hops["1"].accuracy == 0.5
    assert s.by_hops["3"].n_tasks == 1
    assert s.by_hops["?"].accuracy is None and s.by_hops["?"].unknown_outcome == 1


def test_compare_gives_deltas_and_unknown_stays_unknown():
    a = summarize([rec("a", 0.0), rec("b", 1.0)])
    b = summarize([rec("a", 1.0), rec("b", 1.0)])
    deltas = {d.name: d for d in compare(a, b)}
    acc = deltas["accuracy (known outcomes)"]
    assert acc.delta == pytest.approx(0.5)
    assert format_delta(acc.delta, acc.kind) == "+50.0 pp"
    tokens = deltas["prompt tokens per run"]
    assert tokens.delta is None and format_delta(tokens.delta, tokens.kind) == "n/a"


def test_mean_ignores_none_and_nan():
    assert mean([1, None, float("nan"), 3]) == 2.0
    assert mean([]) is None
