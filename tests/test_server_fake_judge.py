"""The fake judge answers the real judge prompts by its rules, and fails on demand."""

from __future__ import annotations

import httpx
import pytest

from carr_agent.errors import JudgeError
from carr_agent.rewards.judges.prompts import (
    identify_entities_prompt,
    outcome_prompt,
    parse_entities_output,
    parse_outcome_output,
    parse_support_output,
    support_prompt,
)
from carr_agent.testing.fake_judge_server import FakeJudgeState, answer, create_app, normalize
from tests._carr_fixture import sample

GOLD = [(normalize(sample.QUESTION), dict(sample.ENTITIES))]


def test_entities_prompt_gets_exact_answer_and_mentioned_gold_entities():
    kind, text = answer(identify_entities_prompt(sample.QUESTION, sample.RUBRICS, sample.CITED), GOLD)
    assert kind == "entities"
    labels = ["E0", "E1", "E2"]
    assert parse_entities_output(text, labels) == {"E0": "Velda River", "E1": "Anton Marek", "E2": "Brastow"}
    _, text = answer(identify_entities_prompt(sample.QUESTION, sample.RUBRICS, sample.CITED), [])
    assert parse_entities_output(text, labels) == {"E0": "Velda River", "E1": None, "E2": None}


def test_support_prompt_checks_content_words_against_the_evidence_only():
    evidence = f"[Webpage 1]\nURL Source: {sample.BRASTOW.url}\n\nContent:\n{sample.BRASTOW.text}"
    statements = ["The Velda River flows through Brastow.", "Anton Marek composed The Silver Lantern."]
    kind, text = answer(support_prompt(evidence, statements), GOLD)
    assert kind == "support"
    assert parse_support_output(text, 2) == [True, False]


def test_outcome_prompt_compares_exact_answer_with_label():
    for response, correct in ((sample.CITED, True), (sample.WRONG, False)):
        kind, text = answer(outcome_prompt(sample.QUESTION, response, sample.LABEL), GOLD)
        assert kind == "outcome"
        verdict = parse_outcome_output(text)
        assert verdict.correct is correct


def completion_request(content: str) -> dict:
    return {"model": "fake", "messages": [{"role": "user", "content": content}]}


async def test_modes_garbage_error_and_flaky_and_stats():
    state = FakeJudgeState(gold=GOLD)
    transport = httpx.ASGITransport(app=create_app(state))
    prompt = outcome_prompt(sample.QUESTION, sample.CITED, sample.LABEL)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        ok = await client.post("/v1/chat/completions", json=completion_request(prompt))
        assert "correct: yes" in ok.json()["choices"][0]["message"]["content"]
        await client.post("/control", json={"mode": "garbage"})
        garbage = await client.post("/v1/chat/completions", json=completion_request(prompt))
        with pytest.raises(JudgeError):
            parse_outcome_output(garbage.json()["choices"][0]["message"]["content"])
        await client.post("/control", json={"mode": "error"})
        assert (await client.post("/v1/chat/completions", json=completion_request(prompt))).status_code == 500
        await client.post("/control", json={"mode": "flaky-error"})
        statuses = [(await client.post("/v1/chat/completions", json=completion_request(prompt))).status_code
                    for _ in range(4)]
        assert sorted(statuses) == [200, 200, 500, 500]
        stats = (await client.get("/stats")).json()
        assert stats["calls"] == 7 and stats["by_kind"] == {"outcome": 7}
        assert (await client.post("/control", json={"mode": "nonsense"})).status_code == 400
