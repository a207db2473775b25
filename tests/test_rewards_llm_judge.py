"""LLMJudge over langchain-core fake chat models: contracts, retries, failures, cache."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from carr_agent.errors import ConfigError, JudgeError, JudgeOutputError
from carr_agent.retry import Backoff
from carr_agent.rewards.judges import (
    DeterministicJudge,
    JudgeCache,
    LLMJudge,
    OutcomeVerdict,
    judge_from_env,
)
from carr_agent.rewards.judges.prompts import (
    identify_entities_prompt,
    parse_entities_output,
    parse_outcome_output,
    parse_support_output,
    support_prompt,
)
from carr_agent.rewards.scorer import CarrScorer
from carr_agent.types import LedgerRecord, Task
from carr_agent.urls import source_id

FAST = Backoff(base_delay=0.0, jitter=False)
URL = "https://en.wikipedia.org/wiki/UFC_219"
TASK = Task(id="t", question="Which MMA event?", label="UFC 219",
            rubrics=("<E0> was held in Las Vegas.", "<E1> fought at <E0>.", "<E2> refereed <E0>."))
ANSWER = (f"## Explanation with Citations\nUFC 219 in Las Vegas [[1]({URL})] with Holly Holm.\n"
          "## Exact Answer\nUFC 219\n## References\n")
LEDGER = [LedgerRecord(source_id=source_id(URL), url=URL, title="UFC 219", kind="open", step=1,
                       text="UFC 219 was held in Las Vegas. Holly Holm fought.", start=None, end=None)]

ENTITIES_OK = '```json\n{"E0": "UFC 219", "E1": "Holly Holm", "E2": null}\n```'
SUPPORT_OK = 'Both hold.\n```json\n{"S1": true, "S2": true}\n```'
OUTCOME_OK = "extracted_final_answer: UFC 219\nreasoning: same event.\ncorrect: yes\nconfidence: 90%"


class Routed(BaseChatModel):
    """Sends each judge prompt to the fake model for its kind (calls run concurrently)."""

    routes: dict[str, Any]

    @property
    def _llm_type(self) -> str:
        return "routed-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        text = messages[0].content  # the judge prompt (later messages are a repair exchange)
        kind = ("support" if "[Statements]" in text
                else "entities" if "[Constraints]" in text else "outcome")
        return self.routes[kind]._generate(messages, stop=stop, **kwargs)


def routed(entities: list[str], support: list[str], outcome: list[str]) -> Routed:
    return Routed(routes={"entities": FakeListChatModel(responses=entities),
                          "support": FakeListChatModel(responses=support),
                          "outcome": FakeListChatModel(responses=outcome)})


class Down(FakeListChatModel):
    """A judge endpoint that refuses connections."""

    def _call(self, *args, **kwargs) -> str:
        raise ConnectionError("connection refused")


# -- output contracts ---------------------------------------------------------------------------

def test_entity_output_numbers_become_strings_and_null_strings_become_null() -> None:
    out = parse_entities_output(
        '```json\n{"E0": 1994, "E1": "None", "E2": " null ", "E3": 14.0, "E4": "Holm"}\n```',
        ["E0", "E1", "E2", "E3", "E4"])
    assert out == {"E0": "1994", "E1": None, "E2": None, "E3": "14", "E4": "Holm"}


@pytest.mark.parametrize("text", [
    '```json\n{"E0": "a"}\n```',                       # missing E1
    '```json\n{"E0": "a", "E1": null, "E9": "x"}\n```',  # extra key
    '```json\n{"E0": true, "E1": null}\n```',           # boolean value
    '```json\n{"E0": ["a"], "E1": null}\n```',          # list value
    '```json\n{"E0": "a", "E1": null\n```',             # broken JSON
    "no json at all",
])
def test_invalid_entity_outputs_are_rejected(text: str) -> None:
    with pytest.raises(JudgeOutputError):
        parse_entities_output(text, ["E0", "E1"])


def test_support_output_needs_exact_keys_and_booleans() -> None:
    assert parse_support_output('<think>hmm</think>```json\n{"S1": true, "S2": false}\n```', 2) == [True, False]
    for bad in ('```json\n{"S1": "true", "S2": false}\n```', '```json\n{"S1": true}\n```'):
        with pytest.raises(JudgeOutputError):
            parse_support_output(bad, 2)


def test_outcome_output_lines() -> None:
    assert parse_outcome_output("**extracted_final_answer:** None\n**correct:** no") == (
        OutcomeVerdict(extracted_answer=None, correct=False))
    assert parse_outcome_output(OUTCOME_OK) == OutcomeVerdict("UFC 219", True)
    with pytest.raises(JudgeOutputError, match="correct"):
        parse_outcome_output("extracted_final_answer: X\nincorrect")


def test_prompts_use_reference_labelling() -> None:
    p = identify_entities_prompt("Q?", TASK.rubrics, "A.")
    assert "C1. <E0> was held in Las Vegas.\nC2. <E1> fought at <E0>." in p
    assert '"E0", "E1", "E2"' in p
    s = support_prompt("[Webpage 1]\n...", ["UFC 219 was held in Las Vegas.", "x"])
    assert "S1. UFC 219 was held in Las Vegas.\nS2. x" in s and '"S1", "S2"' in s


# -- LLMJudge behaviour --------------------------------------------------------------------------

async def test_malformed_output_is_retried_then_accepted() -> None:
    model = FakeListChatModel(responses=['{"E0": "UFC 219"}', "```json\nnot json\n```", ENTITIES_OK])
    judge = LLMJudge(model, backoff=FAST, max_retries=3)
    got = await judge.identify_entities("q", TASK.rubrics, ANSWER)
    assert got == {"E0": "UFC 219", "E1": "Holly Holm", "E2": None}
    assert judge.calls == 3


async def test_malformed_output_after_retries_makes_rubric_unknown_not_zero() -> None:
    model = routed(['```json\n{"E0": "x"}\n```'], [SUPPORT_OK], [OUTCOME_OK])
    judge = LLMJudge(model, backoff=FAST, max_retries=2)
    with pytest.raises(JudgeError, match="3 attempt"):
        await judge.identify_entities("q", TASK.rubrics, ANSWER)
    result = await CarrScorer(judge).ascore(TASK, ANSWER, LEDGER)
    assert result.rubric_reward is None and result.reward is None
    assert result.outcome_reward == 1.0
    assert "entity identification failed" in result.errors[0] and "missing" in result.errors[0]


async def test_transport_error_makes_reward_unknown_not_zero() -> None:
    judge = LLMJudge(Down(responses=["unused"]), backoff=FAST, max_retries=1)
    result = await CarrScorer(judge).ascore(TASK, ANSWER, LEDGER)
    assert (result.outcome_reward, result.rubric_reward, result.reward) == (None, None, None)
    assert any("ConnectionError" in e for e in result.errors)
    assert judge.calls == 4  # two attempts for each of the two first-round questions


async def test_timeout_is_a_judge_error() -> None:
    class Slow(FakeListChatModel):
        async def _agenerate(self, *args, **kwargs):
            await asyncio.sleep(5)

    judge = LLMJudge(Slow(responses=["x"]), backoff=FAST, max_retries=0, timeout=0.05)
    with pytest.raises(JudgeError, match="timed out"):
        await judge.judge_outcome("q", "a", "b")


async def test_full_score_with_llm_judge() -> None:
    judge = LLMJudge(routed([ENTITIES_OK], [SUPPORT_OK], [OUTCOME_OK]), backoff=FAST)
    result = await CarrScorer(judge).ascore(TASK, ANSWER, LEDGER)
    assert [s.score for s in result.rubric_scores] == [1, 1, 0]
    assert result.rubric_reward == pytest.approx(2 / 3)
    assert result.reward == pytest.approx(0.7 + 0.3 * 2 / 3)
    assert result.extracted_answer == "UFC 219"
    assert judge.calls == 3


async def test_rescoring_hits_the_cache_and_does_not_call_the_model(tmp_path) -> None:
    path = tmp_path / "judge.sqlite"
    model = routed([ENTITIES_OK], [SUPPORT_OK], [OUTCOME_OK])
    first = LLMJudge(model, cache=JudgeCache(path), backoff=FAST)
    r1 = await CarrScorer(first).ascore(TASK, ANSWER, LEDGER)
    assert first.calls == 3
    # a fresh judge and cache object on the same file: a restarted server, say
    never = LLMJudge(Down(responses=["unused"]), cache=JudgeCache(path), backoff=FAST,
                     model_id=first.model_id)
    r2 = await CarrScorer(never).ascore(TASK, ANSWER, LEDGER)
    assert never.calls == 0 and never.cache is not None and never.cache.hits == 3
    assert r2 == r1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        kinds = sorted(k for (k,) in conn.execute("SELECT kind FROM judge_cache"))
    assert kinds == ["entities", "outcome", "support"]


async def test_invalid_outputs_are_not_cached(tmp_path) -> None:
    cache = JudgeCache(tmp_path / "c.sqlite")
    judge = LLMJudge(FakeListChatModel(responses=["garbage"]), cache=cache, backoff=FAST,
                     max_retries=0)
    with pytest.raises(JudgeError):
        await judge.judge_outcome("q", "a", "b")
    assert len(cache) == 0


async def test_concurrency_limit_bounds_calls_in_flight() -> None:
    state = {"now": 0, "peak": 0}

    class Counting(GenericFakeChatModel):
        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(0.01)
            state["now"] -= 1
            return ChatResult(generations=[ChatGeneration(message=AIMessage(OUTCOME_OK))])

    judge = LLMJudge(Counting(messages=iter([])), concurrency=3, backoff=FAST)
    verdicts = await asyncio.gather(*(judge.judge_outcome(f"q{i}", "a", "b") for i in range(10)))
    assert all(v.correct for v in verdicts) and state["peak"] == 3


def test_sync_wrapper_runs_llm_judge_twice_in_fresh_loops() -> None:
    judge = LLMJudge(routed([ENTITIES_OK], [SUPPORT_OK], [OUTCOME_OK]), backoff=FAST)
    scorer = CarrScorer(judge)
    assert scorer.score(TASK, ANSWER, LEDGER) == scorer.score(TASK, ANSWER, LEDGER)


# -- judge_from_env -------------------------------------------------------------------------------

def test_judge_from_env_picks_llm_deterministic_or_fails_clearly(tmp_path) -> None:
    env = {"CARR_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "CARR_JUDGE_MODEL": "judge-x",
           "CARR_JUDGE_API_KEY": "EMPTY", "CARR_JUDGE_CACHE": str(tmp_path / "j.sqlite")}
    llm = judge_from_env(False, env=env)
    assert isinstance(llm, LLMJudge) and llm.model_id == "judge-x" and llm.cache is not None
    assert isinstance(judge_from_env(True, env={}), DeterministicJudge)
    with pytest.raises(ConfigError, match="CARR_JUDGE_API_KEY"):
        judge_from_env(True, env={k: v for k, v in env.items() if k != "CARR_JUDGE_API_KEY"})
    with pytest.raises(ConfigError, match="no judge available"):
        judge_from_env(False, env={})
    assert judge_from_env(False, env={**env, "CARR_JUDGE_CACHE": "off"}).cache is None


async def test_numeric_entity_values_from_the_judge_fill_rubrics() -> None:
    task = Task(id="n", question="q", label="14", rubrics=("Holm landed <E0> strikes.",))
    ledger = [LedgerRecord(source_id=source_id(URL), url=URL, title="", kind="find", step=1,
                           text="Holm landed 14 strikes", start=None, end=None)]
    model = routed(['```json\n{"E0": 14}\n```'], ['```json\n{"S1": true}\n```'],
                   ["extracted_final_answer: 14\ncorrect: yes"])
    result = await CarrScorer(LLMJudge(model, backoff=FAST)).ascore(task, ANSWER, ledger)
    assert result.rubric_scores[0].filled_rubric == "Holm landed 14 strikes."
    assert result.rubric_scores[0].entity_values == {"E0": "14"}
    assert result.reward == 1.0
