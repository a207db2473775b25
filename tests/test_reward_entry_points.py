"""One request, one reward: every entry point reads a run and scores it the same way.

The same ``/evaluate`` bodies go through the reward server (a real process, real HTTP on
127.0.0.1), ``carr-agent score`` (a real process), ``CarrScorer.score_history``, the TRL reward
function, ``score_state`` and the evaluation runner; all must give the same reward. Also: α's
defaults (absent ``rubric_reward_ratio`` → 0 on the wire, as the reference), gold entities kept,
and a budget-forced answer counted as a final answer everywhere.
"""

from __future__ import annotations

import copy
import json
import subprocess

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, convert_to_messages

from carr_agent.errors import ConfigError
from carr_agent.eval.config import EvalConfig
from carr_agent.eval.runner import EvalRunner
from carr_agent.eval.store import ResultStore
from carr_agent.rewards.hooks import ascore_state
from carr_agent.rewards.judges import DeterministicJudge
from carr_agent.rewards.options import (
    DEFAULT_ALPHA,
    REQUEST_DEFAULT_ALPHA,
    GroupOptions,
    RewardOptions,
)
from carr_agent.rewards.protocol import parse_request
from carr_agent.rewards.run import final_answer, read_history, read_run
from carr_agent.rewards.scorer import CarrScorer, ScoreOptions
from carr_agent.rewards.trl import make_carr_reward_func
from tests._carr_fixture import (
    carr_agent_cmd,
    free_port,
    sample,
    sample_requests,
    start_server,
    stop,
)
from tests.test_cli_score import clean_env


def bodies() -> dict[str, dict]:
    out = {k: v for k, v in sample_requests().items() if k != "unfinished"}
    no_ratio = copy.deepcopy(out["cited-correct"])
    del no_ratio["remote_env_info"]["rubric_reward_ratio"]
    no_ratio["id"] = "no-ratio"
    out["no-ratio"] = no_ratio
    ill = copy.deepcopy(out["cited-correct"])  # an ill-formed call, as the reference rollout writes it
    ill["history"][2:2] = [
        {"role": "assistant", "tool_calls": [{"tool_call_id": "bad", "name": None, "arguments": "null"}]},
        {"role": "tool", "content": [{"output": "Error: bad call format."}]},
    ]
    ill["id"] = "ill-formed-call"
    out["ill-formed-call"] = ill
    return out


def openai_messages(history: list[dict]) -> list[dict]:
    """The reference history as OpenAI-style chat messages (what TRL and LangGraph apps hold)."""
    out: list[dict] = []
    for m in history:
        if m["role"] == "assistant":
            msg: dict = {"role": "assistant", "content": m.get("content") or ""}
            calls = [{"id": c["tool_call_id"], "type": "function",
                      "function": {"name": c["name"], "arguments": c["arguments"]}}
                     for c in m.get("tool_calls", []) if isinstance(c.get("name"), str)]
            if calls:
                msg["tool_calls"] = calls
            out.append(msg)
        elif m["role"] == "tool":
            out.extend({"role": "tool", "tool_call_id": o["tool_call_id"], "content": o["output"]}
                       for o in m["content"] if "tool_call_id" in o)
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


def scorer(alpha: float = DEFAULT_ALPHA) -> CarrScorer:
    return CarrScorer(DeterministicJudge(), ScoreOptions(alpha=alpha))


@pytest.fixture(scope="module")
def server_rewards(tmp_path_factory) -> dict[str, float]:
    tmp = tmp_path_factory.mktemp("entry")
    port = free_port()
    proc = start_server([*carr_agent_cmd(), "serve-reward", "--port", str(port), "--judge",
                         "deterministic"], port, env=clean_env(), log=tmp / "server.log")
    try:
        out = {}
        for rid, body in bodies().items():
            response = httpx.post(f"http://127.0.0.1:{port}/evaluate", json=body, timeout=60)
            assert response.status_code == 200, response.text
            out[rid] = response.json()["reward"]
        return out
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def cli_rewards(tmp_path_factory) -> dict[str, float]:
    tmp = tmp_path_factory.mktemp("cli")
    src, dst = tmp / "in.jsonl", tmp / "out.jsonl"
    src.write_text("".join(json.dumps(b) + "\n" for b in bodies().values()))
    proc = subprocess.run([*carr_agent_cmd(), "score", str(src), "-o", str(dst), "--judge",
                           "deterministic"], env=clean_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r["reward"] for r in map(json.loads, dst.read_text().splitlines())}


async def library_rewards(rid: str, body: dict) -> dict[str, float | None]:
    request = parse_request(body)
    alpha, task = request.alpha, request.task()
    messages = openai_messages(body["history"])
    out: dict[str, float | None] = {}
    out["score_history"] = (await scorer().ascore_history(
        body["history"], body["label"], body["remote_env_info"])).reward
    trl = make_carr_reward_func(scorer(), alpha=alpha)
    (out["trl"],) = await trl([messages[:1]], [messages[1:]], None, label=[body["label"]],
                              remote_env_info=[body["remote_env_info"]])
    state = {"messages": convert_to_messages(messages)}
    out["score_state"] = (await ascore_state(state, task, scorer(), alpha=alpha)).reward

    class Agent:
        async def ainvoke(self, _input):
            return state

    with _store() as store:
        runner = EvalRunner(agent_factory=lambda _t: Agent(), scorer=scorer(alpha), store=store,
                            config=EvalConfig(model="stub", corpus="none", judge="deterministic",
                                              alpha=alpha, check_citations=False))
        out["eval"] = (await runner.evaluate(task)).reward
    return out


class _store:
    def __enter__(self) -> ResultStore:
        import tempfile
        from pathlib import Path

        self.dir = tempfile.TemporaryDirectory()
        self.store = ResultStore(Path(self.dir.name) / "r.sqlite")
        return self.store

    def __exit__(self, *exc) -> None:
        self.store.close()
        self.dir.cleanup()


async def test_the_same_body_gets_the_same_reward_through_every_entry_point(
    server_rewards, cli_rewards
) -> None:
    seen = set()
    for rid, body in bodies().items():
        rewards = {"server": server_rewards[rid], "cli": cli_rewards[rid],
                   **await library_rewards(rid, body)}
        assert len(set(rewards.values())) == 1, (rid, rewards)
        seen.add(rewards["server"])
    assert len(seen) >= 3  # the bodies really differ: not all zeros


async def test_wire_alpha_defaults_to_the_reference_zero_and_keeps_gold_entities() -> None:
    body = bodies()["no-ratio"]
    assert parse_request(body).alpha == REQUEST_DEFAULT_ALPHA == 0.0
    result = await scorer().ascore_history(body["history"], body["label"], body["remote_env_info"])
    assert result.reward == result.outcome_reward == 1.0 and result.rubric_scores == ()
    with_ratio = bodies()["cited-correct"]
    result = await scorer(0.0).ascore_history(
        with_ratio["history"], with_ratio["label"], with_ratio["remote_env_info"])
    # the gold entities of the request reach the deterministic judge (it has none of its own)
    assert result.rubric_reward == 1.0 and result.reward == pytest.approx(1.0)


def test_library_alpha_default_is_one_constant() -> None:
    assert ScoreOptions().alpha == RewardOptions().alpha == DEFAULT_ALPHA == 0.3
    assert RewardOptions.create(grouped=True).group.alpha == DEFAULT_ALPHA
    with pytest.raises(ConfigError, match="alpha"):
        RewardOptions(score=ScoreOptions(alpha=0.0), group=GroupOptions(alpha=0.3))


async def test_a_budget_forced_answer_is_a_final_answer_everywhere() -> None:
    # the forced turn still asked for a tool: its text is the answer (reference: last assistant
    # message with content), for score_state as for eval and training
    forced = AIMessage(sample.CITED, tool_calls=[{"name": "search", "args": {"query": "x"}, "id": "c"}])
    ledger = [{"source_id": "s", "url": p.url, "title": p.title, "kind": "open", "step": 1,
               "text": p.text, "start": None, "end": None} for p in (sample.MAREK, sample.BRASTOW)]
    state = {"messages": [HumanMessage(sample.QUESTION), forced], "ledger": ledger}
    assert final_answer(state) == sample.CITED == read_run(state).answer
    with_answer = {**state, "answer": {"text": sample.CITED}}
    task = parse_request(bodies()["cited-correct"]).task()
    plain = await ascore_state(state, task, scorer())
    graph = await ascore_state(with_answer, task, scorer())
    assert plain.reward == graph.reward == pytest.approx(1.0)


def test_training_scores_a_run_like_the_other_entry_points() -> None:
    """Training reads a finished graph state with the same reader and scores it with the same
    function (``RolloutRunner.score``), so a rollout gets the reward ``score_state`` gives."""
    import asyncio

    from carr_agent.training.config import RolloutConfig
    from carr_agent.training.rollout import Rollout, RolloutRunner

    for rid, body in bodies().items():
        request = parse_request(body)
        state = {"messages": convert_to_messages(openai_messages(body["history"]))}
        read = read_run(state)
        rollout = Rollout(task=request.task(), slot=0, messages=state["messages"],
                          ledger=list(read.ledger), answer_text=read.answer or "", turns=[],
                          trajectory=None, exclusion=None)
        runner = RolloutRunner(policy=None, search=None, fetcher=None,
                               scorer=scorer(request.alpha), config=RolloutConfig(),
                               build_agent=lambda *a, **k: None)
        runner.score([rollout])
        expected = asyncio.run(ascore_state(state, request.task(), scorer(), alpha=request.alpha))
        assert rollout.result is not None and rollout.result.reward == expected.reward, rid


def test_a_reference_history_held_as_state_messages_is_read_like_the_request() -> None:
    for rid, body in bodies().items():
        history = body["history"]
        assert read_run({"messages": history}).ledger == read_history(history).ledger, rid
        assert final_answer({"messages": history}) == final_answer(history), rid


def test_a_run_whose_only_tool_call_was_malformed_is_read_not_refused() -> None:
    """A sampled policy's malformed call (``invalid_tool_calls``) is answered by an error
    observation; reading the run (no ledger records) must not refuse the tool output's id
    (it crashed a training loop with HistoryFormatError)."""
    from langchain_core.messages import ToolMessage

    bad = {"name": "open", "args": '{"id_or_url": ', "id": "call_x", "error": "bad JSON",
           "type": "invalid_tool_call"}
    messages = [
        HumanMessage("Q?"),
        AIMessage(content="", invalid_tool_calls=[bad]),
        ToolMessage("error: the call could not be parsed", tool_call_id="call_x", status="error"),
        AIMessage(content="## Explanation with Citations\nIt is K [1](https://a.example/x).\n\n"
                          "## Exact Answer\nK\n\n## References\n"),
    ]
    run = read_run({"messages": messages, "ledger": []})
    assert run.answer is not None and "## Exact Answer\nK" in run.answer
    assert run.ledger == ()  # the malformed call showed nothing: no evidence
    assert any("ill-formed tool call 'call_x'" in w for w in run.warnings)
