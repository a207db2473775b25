"""HFChatModel over the tiny random Qwen2: rendering, tool calls, token recording, scripting."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402

from carr_agent.errors import ConfigError, ModelError  # noqa: E402
from carr_agent.models.hf_chat import HFChatModel  # noqa: E402
from carr_agent.models.recording import TurnRecorder  # noqa: E402
from carr_agent.models.tiny import build_tiny_model  # noqa: E402


@tool
def search(query: str, num: int = 5) -> str:
    """Search the web.

    Args:
        query: What to search for.
        num: How many hits to return.
    """
    return f"[1] result for {query}"


@tool("open")
def open_page(id_or_url: str) -> str:
    """Open a search hit or URL.

    Args:
        id_or_url: Hit number or URL.
    """
    return f"page {id_or_url}"


@tool
def find(pattern: str) -> str:
    """Find a pattern in the open page.

    Args:
        pattern: Text to look for.
    """
    return f"found {pattern}"


TOOLS = [search, open_page, find]
CALL = '<tool_call>\n{"name": "search", "arguments": {"query": "moon landing", "num": 3}}\n</tool_call>'


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model(seed=0)


@pytest.fixture
def llm(tiny):
    net, tok = tiny
    return HFChatModel(model=net, tokenizer=tok, max_new_tokens=12, seed=0)


def _manual_logprobs(net, prompt_ids, completion_ids):
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = net(input_ids=ids).logits[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    n = len(prompt_ids)
    return [float(logp[n - 1 + i, t]) for i, t in enumerate(completion_ids)]


def test_bind_tools_renders_the_tool_schemas_into_the_prompt(llm, tiny):
    _, tok = tiny
    with llm.recording() as rec:
        llm.scripted(["hello"]).bind_tools(TOOLS).invoke([HumanMessage("hi")])
    prompt = tok.decode(rec.turns[0].prompt_ids)
    assert "# Tools" in prompt
    for name in ("search", "open", "find"):
        assert f'"name": "{name}"' in prompt
    assert '"id_or_url"' in prompt and prompt.endswith("<|im_start|>assistant\n")


def test_scripted_turn_yields_tool_calls_and_records_exact_logprobs(llm, tiny):
    net, tok = tiny
    with llm.recording() as rec:
        msg = (
            llm.scripted([CALL])
            .bind_tools(TOOLS)
            .invoke([SystemMessage("Research."), HumanMessage("When was the first Moon landing?")])
        )
    assert isinstance(msg, AIMessage)
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [
        ("search", {"query": "moon landing", "num": 3})
    ]
    assert msg.content == "" and msg.invalid_tool_calls == []
    turn = rec.turns[0]
    assert turn.scripted and turn.text == CALL and turn.message_id == msg.id
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert turn.completion_ids == tok(CALL, add_special_tokens=False)["input_ids"] + [im_end]
    expected_prompt = llm.render_prompt(
        [SystemMessage("Research."), HumanMessage("When was the first Moon landing?")],
        [convert_to_openai_tool(t) for t in TOOLS],
    )
    assert turn.prompt_ids == tok(expected_prompt, add_special_tokens=False)["input_ids"]
    assert all(math.isfinite(x) and x <= 0 for x in turn.logprobs)
    manual = _manual_logprobs(net, turn.prompt_ids, turn.completion_ids)
    assert sum(turn.logprobs) == pytest.approx(sum(manual), abs=1e-3)
    assert turn.logprobs == pytest.approx(manual, abs=1e-4)
    assert msg.usage_metadata == {
        "input_tokens": len(turn.prompt_ids),
        "output_tokens": len(turn.completion_ids),
        "total_tokens": len(turn.prompt_ids) + len(turn.completion_ids),
    }


def test_sampled_turn_records_ids_consistent_with_the_prompt_and_the_text(llm, tiny):
    net, tok = tiny
    messages = [HumanMessage("Tell me something.")]
    with llm.recording() as rec:
        msg = llm.invoke(messages)
    turn = rec.turns[0]
    assert not turn.scripted
    assert (
        turn.prompt_ids == tok(llm.render_prompt(messages), add_special_tokens=False)["input_ids"]
    )
    assert 1 <= len(turn.completion_ids) <= 12
    assert len(turn.logprobs) == len(turn.completion_ids)
    end_ids = {tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
    if turn.finish_reason == "stop":
        assert turn.completion_ids[-1] in end_ids
        body = turn.completion_ids[:-1]
    else:
        assert len(turn.completion_ids) == 12
        body = turn.completion_ids
    assert tok.decode(body) == turn.text == msg.response_metadata["raw_completion"]
    # The incremental (KV-cache) log-probs agree with a full forward pass over the same ids.
    assert turn.logprobs == pytest.approx(
        _manual_logprobs(net, turn.prompt_ids, turn.completion_ids), abs=1e-4
    )


def test_temperature_scales_the_recorded_logprobs(tiny):
    net, tok = tiny
    llm = HFChatModel(model=net, tokenizer=tok, max_new_tokens=6, seed=3, temperature=0.5)
    with llm.recording() as rec:
        llm.invoke("hi")
    turn = rec.turns[0]
    assert turn.temperature == 0.5
    assert turn.logprobs == pytest.approx(
        llm.score(turn.prompt_ids, turn.completion_ids, 0.5), abs=1e-4
    )
    assert turn.logprobs != pytest.approx(
        llm.score(turn.prompt_ids, turn.completion_ids, 1.0), abs=1e-3
    )


def test_same_seed_samples_the_same_tokens_and_greedy_is_deterministic(tiny):
    net, tok = tiny
    runs = []
    for _ in range(2):
        llm = HFChatModel(model=net, tokenizer=tok, max_new_tokens=8, seed=42)
        with llm.recording() as rec:
            llm.invoke("hi")
        runs.append(rec.turns[0].completion_ids)
    assert runs[0] == runs[1]
    greedy = HFChatModel(model=net, tokenizer=tok, max_new_tokens=8, temperature=0)
    a, b = greedy.invoke("hi"), greedy.invoke("hi")
    assert a.response_metadata["raw_completion"] == b.response_metadata["raw_completion"]


def test_second_turn_prompt_extends_the_first_turn_with_what_was_generated(llm, tiny):
    _, tok = tiny
    scripted = llm.scripted([CALL, "The answer is 1969 [1]."]).bind_tools(TOOLS)
    history = [HumanMessage("When was the first Moon landing?")]
    with llm.recording() as rec:
        first = scripted.invoke(history)
        history += [
            first,
            ToolMessage("[1] Apollo 11, 1969", tool_call_id=first.tool_calls[0]["id"]),
        ]
        second = scripted.invoke(history)
    assert second.content == "The answer is 1969 [1]." and not second.tool_calls
    t1, t2 = rec.turns
    first_text = tok.decode(t1.prompt_ids + t1.completion_ids)
    assert tok.decode(t2.prompt_ids).startswith(first_text)


def test_malformed_scripted_call_is_reported_as_invalid(llm):
    msg = (
        llm.scripted(['<tool_call>{"name": "search", "arguments": {"query": </tool_call>'])
        .bind_tools(TOOLS)
        .invoke("hi")
    )
    assert msg.tool_calls == []
    assert msg.invalid_tool_calls[0]["name"] == "search"
    assert "invalid JSON" in msg.invalid_tool_calls[0]["error"]


def test_forced_tool_choice_prefills_the_call(llm, tiny):
    _, tok = tiny
    with llm.recording() as rec:
        msg = llm.bind_tools(TOOLS, tool_choice="find").invoke("hi")
    turn = rec.turns[0]
    assert turn.prefill == '<tool_call>\n{"name": "find", "arguments": {'
    assert tok.decode(turn.prompt_ids).endswith("<|im_start|>assistant\n" + turn.prefill)
    assert msg.response_metadata["raw_completion"].startswith(turn.prefill)
    # A random model rarely closes the JSON; either way the call is attributed to `find`.
    names = [c["name"] for c in msg.tool_calls] + [c["name"] for c in msg.invalid_tool_calls]
    assert names == ["find"]


def test_invalid_settings_are_config_errors(tiny, llm):
    net, tok = tiny
    with pytest.raises(ConfigError, match="temperature"):
        HFChatModel(model=net, tokenizer=tok, temperature=-1)
    with pytest.raises(ConfigError, match="top_p"):
        HFChatModel(model=net, tokenizer=tok, top_p=0)
    with pytest.raises(ConfigError, match="names no bound tool"):
        llm.bind_tools(TOOLS, tool_choice="browse")


def test_running_out_of_script_is_a_model_error(llm):
    model = llm.scripted(["only one"])
    model.invoke("a")
    with pytest.raises(ModelError, match="ran out"):
        model.invoke("b")


def test_template_without_tool_support_gets_the_tools_in_the_system_prompt(tiny):
    net, tok = tiny
    import copy

    tok2 = copy.deepcopy(tok)
    tok2.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    llm = HFChatModel(model=net, tokenizer=tok2, max_new_tokens=4)
    text = llm.render_prompt(
        [SystemMessage("Be brief."), HumanMessage("hi")], [convert_to_openai_tool(t) for t in TOOLS]
    )
    assert text.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert '"name": "find"' in text


def test_recording_contexts_isolate_concurrent_graph_runs(llm):
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    def make_graph(model):
        bound = model.bind_tools(TOOLS)
        builder = StateGraph(MessagesState)
        builder.add_node("agent", lambda s: {"messages": [bound.invoke(s["messages"])]})
        builder.add_node("tools", ToolNode(TOOLS))
        builder.add_edge(START, "agent")
        builder.add_conditional_edges("agent", tools_condition)
        builder.add_edge("tools", "agent")
        return builder.compile()

    shared = TurnRecorder()
    results: dict[str, tuple] = {}
    barrier = threading.Barrier(2)

    def rollout(key: str, script: list[str]) -> None:
        graph = make_graph(llm.scripted(script).with_recorder(shared))
        with llm.recording() as rec:
            barrier.wait()
            state = graph.invoke(
                {"messages": [HumanMessage(f"question {key}")]},
                {"configurable": {"thread_id": key}},
            )
        results[key] = (rec.turns, state)

    a_script = [
        CALL,
        '<tool_call>{"name": "find", "arguments": {"pattern": "1969"}}</tool_call>',
        "A done.",
    ]
    b_script = [
        '<tool_call>{"name": "open", "arguments": {"id_or_url": "2"}}</tool_call>',
        "B done.",
    ]
    threads = [
        threading.Thread(target=rollout, args=("a", a_script)),
        threading.Thread(target=rollout, args=("b", b_script)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    turns_a, state_a = results["a"]
    turns_b, state_b = results["b"]
    assert [t.text for t in turns_a] == a_script
    assert [t.text for t in turns_b] == b_script
    assert (
        state_a["messages"][-1].content == "A done."
        and state_b["messages"][-1].content == "B done."
    )
    assert [m.content for m in state_a["messages"] if isinstance(m, ToolMessage)] == [
        "[1] result for moon landing",
        "found 1969",
    ]
    # The shared recorder got all five turns, each tagged with its run's thread_id.
    assert len(shared) == 5
    assert [t.text for t in shared.for_run("a")] == a_script
    assert [t.text for t in shared.for_run("b")] == b_script
    ai_ids = [m.id for m in state_a["messages"] if isinstance(m, AIMessage)]
    assert ai_ids == [t.message_id for t in turns_a]


async def test_async_invocations_record_into_their_own_context(llm):
    async def one(text: str):
        with llm.recording() as rec:
            await llm.scripted([text]).ainvoke("hi")
            await asyncio.sleep(0)
        return [t.text for t in rec.turns]

    got = await asyncio.gather(one("first"), one("second"))
    assert got == [["first"], ["second"]]


def test_structured_output_works_through_a_forced_tool_call(llm):
    from pydantic import BaseModel

    class Verdict(BaseModel):
        """A judge's verdict."""

        supported: bool
        reason: str

    call = '<tool_call>\n{"name": "Verdict", "arguments": {"supported": true, "reason": "cited"}}\n</tool_call>'
    result = llm.scripted([call]).with_structured_output(Verdict).invoke("Is it supported?")
    assert result == Verdict(supported=True, reason="cited")


def test_score_of_an_empty_completion_is_empty_and_long_prompts_keep_only_needed_logits(llm, tiny):
    net, tok = tiny
    prompt = tok("word " * 300, add_special_tokens=False)["input_ids"]
    completion = tok(" the end", add_special_tokens=False)["input_ids"]
    assert llm.score(prompt, []) == []
    assert llm.score(prompt, completion) == pytest.approx(
        _manual_logprobs(net, prompt, completion), abs=1e-4
    )


@pytest.mark.parametrize("truncation", [{"top_k": 1}, {"top_p": 1e-6}])
def test_top_k_one_or_tiny_top_p_samples_the_greedy_tokens(tiny, truncation):
    net, tok = tiny
    greedy = HFChatModel(model=net, tokenizer=tok, max_new_tokens=8, temperature=0)
    sampled = HFChatModel(
        model=net, tokenizer=tok, max_new_tokens=8, temperature=1.0, seed=5, **truncation
    )
    with greedy.recording() as rec:
        greedy.invoke("hi")
        sampled.invoke("hi")
    g, s = rec.turns
    assert s.completion_ids == g.completion_ids
    # Recorded log-probs are of the distribution drawn from: one token kept, probability 1 (the
    # trainer recomputes under the same truncation); greedy records the raw policy's.
    assert s.logprobs == pytest.approx([0.0] * len(s.logprobs), abs=1e-6)
    assert all(x < 0 for x in g.logprobs)


def test_stop_strings_end_the_turn(llm, tiny):
    net, tok = tiny
    free = HFChatModel(model=net, tokenizer=tok, max_new_tokens=12, temperature=0)
    text = free.invoke("hi").response_metadata["raw_completion"]
    stop = text[4:6]
    assert stop
    with free.recording() as rec:
        msg = free.invoke("hi", stop=[stop])
    assert rec.turns[0].finish_reason == "stop"
    assert stop in msg.response_metadata["raw_completion"]
    assert len(rec.turns[0].completion_ids) < 12
