"""Task files: both layouts load as Tasks; bad lines are named by line number and skipped."""

from __future__ import annotations

import json

import pytest

from carr_agent.errors import TaskFormatError
from carr_agent.rewards import CarrScorer, DeterministicJudge
from carr_agent.task_files import TaskFileError, TaskLineError, iter_tasks, load_tasks, read_tasks
from tests.eval_support import (
    RIVER_Q,
    YEAR_Q,
    deepdive_task,
    river_task,
    town_task,
    write_jsonl,
)


def test_project_format_loads_with_metadata_and_entities(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [
        river_task(traps=["Orin River"], gold_urls=["https://example.org/wiki/Brastow"]),
        town_task(),
    ])
    tasks = load_tasks(path)
    assert [t.id for t in tasks] == ["river", "town"]
    river = tasks[0]
    assert river.question == RIVER_Q
    assert river.label == "Velda River"
    assert river.rubrics[0] == "<E1> composed the opera The Silver Lantern."
    assert river.entities == {"E0": "Velda River", "E1": "Anton Marek", "E2": "Brastow"}
    assert river.metadata["aliases"] == ["Velda"]
    assert river.metadata["hops"] == 2
    assert river.metadata["traps"] == ["Orin River"]
    assert river.metadata["gold_urls"] == ["https://example.org/wiki/Brastow"]
    assert river.forbidden_strs == (RIVER_Q,)
    assert river.prompt is None


def test_deepdive_layout_takes_question_from_search_forbidden_strs(tmp_path):
    record = deepdive_task()
    path = write_jsonl(tmp_path / "dd.jsonl", [record])
    (task,) = load_tasks(path)
    assert task.question == YEAR_Q
    assert task.prompt == YEAR_Q + "\n\nAnswer with citations."
    assert task.label == "1903"
    assert task.rubrics == ("<E1> composed the opera The Silver Lantern.", "<E1> died in <E0>.")
    assert task.entities is None
    assert task.forbidden_strs == (YEAR_Q,)
    assert task.id.startswith("q-")  # stable id from the question when the record has none
    assert load_tasks(path)[0].id == task.id
    assert task.metadata["source"] == "deepsearch_with_browser"


def test_prompt_messages_without_forbidden_strs_give_the_last_user_message(tmp_path):
    record = {"id": 7, "prompt": [{"role": "system", "content": "be brief"},
                                  {"role": "user", "content": "Who wrote X?"}],
              "label": "Y"}
    (task,) = load_tasks(write_jsonl(tmp_path / "p.jsonl", [record]))
    assert (task.id, task.question, task.label, task.rubrics) == ("7", "Who wrote X?", "Y", ())


def test_browsecomp_style_problem_and_answer_fields_are_accepted(tmp_path):
    (task,) = load_tasks(write_jsonl(tmp_path / "bc.jsonl",
                                     [{"problem": "Which year?", "answer": 1999}]))
    assert (task.question, task.label) == ("Which year?", "1999")


def test_aliases_reach_the_deterministic_judge(tmp_path):
    (task,) = load_tasks(write_jsonl(tmp_path / "t.jsonl", [river_task()]))
    answer = "## Explanation with Citations\nIt is the Velda.\n\n## Exact Answer\nthe Velda\n"
    result = CarrScorer(DeterministicJudge()).score(task, answer, [])
    assert result.outcome_reward == 1.0


def test_bad_lines_are_reported_with_line_numbers_and_skipped(tmp_path):
    lines = [
        json.dumps(river_task()),
        "{not json",
        json.dumps({"id": "nolabel", "question": "q?"}),
        "",
        json.dumps({"id": "noe0", "question": "q?", "label": "a",
                    "rubrics": ["<E1> was born in <E2>."]}),
        json.dumps({"id": "gap", "question": "q?", "label": "a",
                    "rubrics": ["<E0> is near <E1>.", "<E3> is old."]}),
        json.dumps(river_task()),  # duplicate id
        json.dumps([1, 2]),
        json.dumps({"id": "noq", "label": "a"}),
        json.dumps(town_task()),
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    task_set = read_tasks(path)
    assert [t.id for t in task_set.tasks] == ["river", "town"]
    errors = {e.line: e for e in task_set.errors}
    assert sorted(errors) == [2, 3, 5, 6, 7, 8, 9]
    assert "invalid JSON" in errors[2].reason
    assert "missing 'label'" in errors[3].reason and errors[3].task_id == "nolabel"
    assert "<E0>" in errors[5].reason
    assert "not contiguous" in errors[6].reason and "E1" in errors[6].reason
    assert "E2" in errors[6].reason
    assert "duplicate task id 'river'" in errors[7].reason
    assert "JSON object" in errors[8].reason
    assert "missing question" in errors[9].reason
    assert str(errors[3]).startswith("line 3 (id 'nolabel'): ")
    items = list(iter_tasks(path))
    assert sum(isinstance(i, TaskLineError) for i in items) == 7


def test_strict_mode_stops_at_the_first_bad_line(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [river_task(), "{oops", town_task()])
    with pytest.raises(TaskFileError) as info:
        load_tasks(path, strict=True)
    assert info.value.errors[0].line == 2
    assert "line 2" in str(info.value)


def test_a_file_with_no_usable_task_is_an_error_listing_every_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ["{oops", json.dumps({"question": "q"})])
    with pytest.raises(TaskFormatError) as info:
        load_tasks(path)
    message = str(info.value)
    assert "no usable task" in message
    assert "line 1: invalid JSON" in message
    assert "line 2: missing 'label'" in message


def test_an_empty_or_missing_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(TaskFormatError, match="contains no tasks"):
        load_tasks(empty)
    with pytest.raises(TaskFormatError, match="cannot read task file"):
        load_tasks(tmp_path / "missing.jsonl")


def test_wrongly_typed_fields_are_named(tmp_path):
    lines = [
        {"id": "a", "question": "q", "label": ""},
        {"id": "b", "question": "q", "label": "x", "rubrics": "<E0> is big"},
        {"id": "c", "question": "q", "label": "x", "entities": {"E0": ""}},
        {"id": "d", "question": "q", "label": "x", "entities": {"first": "y"}},
        {"id": "e", "label": "x", "metadata": {"remote_env_info": {"search_forbidden_strs": "q"}}},
    ]
    task_set_errors = {}
    path = write_jsonl(tmp_path / "t.jsonl", [*lines, river_task()])
    for e in read_tasks(path).errors:
        task_set_errors[e.task_id] = e.reason
    assert "'label' must be a non-empty string" in task_set_errors["a"]
    assert "'rubrics' must be a list" in task_set_errors["b"]
    assert "'entities.E0'" in task_set_errors["c"]
    assert "E0, E1" in task_set_errors["d"]
    assert "search_forbidden_strs must be a list" in task_set_errors["e"]
