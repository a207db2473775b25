"""Real offline weights (installed with `carr-agent models install ...`); minutes on CPU."""

from __future__ import annotations

import math
import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool

from carr_agent.models import offline

pytestmark = pytest.mark.slow


@tool
def search(query: str, num: int = 5) -> str:
    """Search the web and return a numbered list of hits.

    Args:
        query: The search query.
        num: How many hits to return.
    """
    return ""


@tool("open")
def open_page(id_or_url: str) -> str:
    """Open a search hit (by its number) or a URL and return the page text.

    Args:
        id_or_url: Hit number from the last search, or a URL.
    """
    return ""


@tool
def find(pattern: str) -> str:
    """Find a text pattern in the currently open page.

    Args:
        pattern: The text to look for.
    """
    return ""


SYSTEM = (
    "You are a research assistant. Use the tools to find information on the web before answering."
)


def _need(name: str) -> None:
    if not offline.is_installed(name):
        pytest.skip(f"{name} not installed; run: carr-agent models install {name}")


def test_qwen_makes_correct_tool_calls_with_the_agent_tools():
    _need("qwen2.5-0.5b")
    start = time.perf_counter()
    llm = offline.load_local_chat_model("qwen2.5-0.5b", temperature=0, max_new_tokens=64)
    assert time.perf_counter() - start < 60  # the cached copy loads in seconds
    bound = llm.bind_tools([search, open_page, find])
    cases = [
        ("Search the web for the year of the first crewed Moon landing.", "search"),
        ("Open the page https://en.wikipedia.org/wiki/Apollo_11 for me.", "open"),
        ("In the page that is open, find the word 'Armstrong'.", "find"),
    ]
    with llm.recording() as rec:
        for prompt, tool_name in cases:
            msg = bound.invoke([SystemMessage(SYSTEM), HumanMessage(prompt)])
            assert [c["name"] for c in msg.tool_calls][:1] == [tool_name], msg
    assert len(rec.turns) == 3
    assert all(math.isfinite(x) for t in rec.turns for x in t.logprobs)


def test_smollm2_loads_and_scores_a_scripted_tool_call():
    _need("smollm2-135m")
    llm = offline.load_local_chat_model("smollm2-135m", max_new_tokens=8)
    call = '<tool_call>\n{"name": "search", "arguments": {"query": "moon"}}\n</tool_call>'
    with llm.recording() as rec:
        msg = (
            llm.scripted([call]).bind_tools([search, open_page, find]).invoke("Moon landing year?")
        )
    assert msg.tool_calls[0]["args"] == {"query": "moon"}
    turn = rec.turns[0]
    assert turn.logprobs == pytest.approx(llm.score(turn.prompt_ids, turn.completion_ids), abs=1e-4)
    # SmolLM2's template ignores tools=, so the schemas are injected into the system prompt.
    assert '"name": "find"' in llm.tokenizer.decode(turn.prompt_ids)
