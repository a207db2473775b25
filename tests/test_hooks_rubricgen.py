"""Rubric generation: validation of the <E> contract, retries on invalid output, the CLI."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from carr_agent.errors import JudgeError, JudgeOutputError
from carr_agent.retry import Backoff
from carr_agent.rewards.rubricgen import RubricGenerator, parse_rubric_output, validate_rubrics
from tests._carr_fixture import sample, start_fake_judge, stop
from tests.cli_support import run_cli

GOOD = ["<E1> composed The Silver Lantern.", "<E1> was born in <E2>.", "<E0> flows through <E2>."]


def test_valid_rubrics_pass_unchanged():
    assert validate_rubrics(GOOD) == GOOD


@pytest.mark.parametrize(("rubrics", "message"), [
    (["<E1> is a composer."], "<E0>"),
    (["<E0> is a river.", "<E0> flows through <E2>."], "missing E1"),
    (["<E0> is a river.", "The opera premiered in 1880."], "rubric 2 mentions no entity"),
    ([], "no rubrics"),
])
def test_invalid_rubrics_name_the_broken_rule(rubrics, message):
    with pytest.raises(JudgeOutputError, match=message):
        validate_rubrics(rubrics)


def test_rubric_output_is_read_from_fenced_json_or_an_object():
    assert parse_rubric_output("Here:\n```json\n" + json.dumps(GOOD) + "\n```") == GOOD
    assert parse_rubric_output(json.dumps({"rubrics": GOOD})) == GOOD
    with pytest.raises(JudgeOutputError):
        parse_rubric_output("I think the answer is a river.")


async def test_generator_retries_until_the_output_is_valid():
    bad = "```json\n[\"<E1> is a composer.\"]\n```"
    model = FakeListChatModel(responses=[bad, "no json at all", "```json\n" + json.dumps(GOOD) + "\n```"])
    generator = RubricGenerator(model, attempts=3, backoff=Backoff(attempts=3, base_delay=0, jitter=False))
    assert await generator.agenerate(sample.QUESTION, sample.LABEL) == GOOD


async def test_generator_gives_up_with_the_last_reason():
    model = FakeListChatModel(responses=["```json\n[\"<E0> is x\", \"<E2> is y\"]\n```"])
    generator = RubricGenerator(model, attempts=2, backoff=Backoff(attempts=2, base_delay=0, jitter=False))
    with pytest.raises(JudgeError, match="not contiguous"):
        await generator.agenerate("q")


def test_rubrics_cli_writes_valid_tasks_and_resumes(tmp_path):
    judge, port = start_fake_judge(tmp_path, mode="flaky-garbage")
    try:
        questions = tmp_path / "questions.jsonl"
        questions.write_text("\n".join(json.dumps(q) for q in [
            {"id": "a", "question": sample.QUESTION, "label": sample.LABEL},
            {"id": "b", "question": "Which city hosted the fair that premiered the lamp, and who "
                                    "designed the lamp's bronze base?", "answer": "Brastow"},
            {"id": "c", "question": "A question without an answer"},
        ]) + "\n")
        out = tmp_path / "tasks.jsonl"
        cmd = ["rubrics", str(questions), "-o", str(out), "--judge-base-url",
               f"http://127.0.0.1:{port}/v1", "--model", "fake-judge", "--attempts", "3"]
        env = {"COLUMNS": "300"}
        proc = run_cli(*cmd, env=env)
        assert proc.returncode == 0, proc.stderr
        tasks = [json.loads(line) for line in out.read_text().splitlines()]
        assert sorted(t["id"] for t in tasks) == ["a", "b"]
        for task in tasks:
            assert validate_rubrics(task["rubrics"]) and task["label"]
        assert "line 3 skipped" in proc.stderr
        again = run_cli(*cmd, env=env)
        assert again.returncode == 0 and "2 already there" in again.stderr
        assert len(out.read_text().splitlines()) == 2
    finally:
        stop(judge)
