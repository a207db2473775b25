"""Attach the CaRR reward to your own LangGraph app (runs offline, no API keys).

The graph below is an ordinary user graph: an "agent" node (here a scripted chat model standing in
for your LLM) and a ToolNode with `search`/`open` tools, routed by `tools_condition`. One line, `add_carr_reward(...)`, wraps it in
a graph that runs it and then scores the final state; that graph's result carries `reward` and the
per-rubric breakdown under `carr`. It runs with `invoke` and `ainvoke` alike.

The judge is the deterministic judge (the task carries gold entity values). To use an LLM judge
instead, set CARR_JUDGE_BASE_URL / CARR_JUDGE_MODEL / CARR_JUDGE_API_KEY and pass
`--llm-judge` (try it offline with `python -m carr_agent.testing.fake_judge_server --port 8765`
and CARR_JUDGE_BASE_URL=http://127.0.0.1:8765/v1 CARR_JUDGE_MODEL=fake CARR_JUDGE_API_KEY=EMPTY).

    python examples/attach_carr_to_your_graph.py
"""

from __future__ import annotations

import argparse
import json

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from carr_agent.rewards.hooks import CarrRewardState, add_carr_reward
from carr_agent.rewards.judges import DeterministicJudge, judge_from_env
from carr_agent.rewards.scorer import CarrScorer, ScoreOptions
from carr_agent.tools.render import render_page, render_search
from carr_agent.types import Hit, Page, Task

# ----------------------------------------------------------------- a tiny fictional web
PAGES = {
    "https://example.org/wiki/Anton_Marek": Page(
        url="https://example.org/wiki/Anton_Marek", title="Anton Marek",
        text="Anton Marek (1841-1903) was a composer. Marek was born in Brastow. His best known "
             "work is the opera The Silver Lantern, which Marek composed in 1879."),
    "https://example.org/wiki/Brastow": Page(
        url="https://example.org/wiki/Brastow", title="Brastow",
        text="Brastow is a town. The Velda River flows through Brastow. The Velda is a river "
             "known for its stone bridges."),
}
TASK = Task(
    id="silver-lantern",
    question="Which river flows through the birthplace of the composer of the opera The Silver Lantern?",
    label="Velda River",
    rubrics=("<E1> composed the opera The Silver Lantern.", "<E1> was born in <E2>.",
             "<E0> flows through <E2>.", "<E0> is a river."),
    entities={"E0": "Velda River", "E1": "Anton Marek", "E2": "Brastow"},
)
ANSWER = """## Explanation with Citations
The Silver Lantern was composed by Anton Marek, who was born in Brastow \
[1](https://example.org/wiki/Anton_Marek). The Velda River flows through Brastow, and the Velda \
is a river [2](https://example.org/wiki/Brastow).

## Exact Answer
Velda River

## References
1. https://example.org/wiki/Anton_Marek
2. https://example.org/wiki/Brastow
"""


# Tools that print the reference observation formats: the reward can parse them back.
# (Tools that return ledger records as ToolMessage artifacts are read directly instead.)
@tool
def search(query: str) -> str:
    """Search the web."""
    return render_search([Hit(url=p.url, title=p.title, snippet=p.text[:80]) for p in PAGES.values()])


@tool("open")
def open_page(id: str) -> str:
    """Open a search result by index, or a URL."""
    page = PAGES.get(id) or list(PAGES.values())[int(id)]
    return render_page(page)[0]


class ScriptedModel(GenericFakeChatModel):
    """Stands in for your LLM: searches, opens two pages, answers with citations."""

    def bind_tools(self, tools, **kwargs):
        return self


def script():
    yield AIMessage("", tool_calls=[{"name": "search", "args": {"query": "Silver Lantern"}, "id": "c1"}])
    yield AIMessage("", tool_calls=[{"name": "open", "args": {"id": "0"}, "id": "c2"}])
    yield AIMessage("", tool_calls=[{"name": "open", "args": {"id": "1"}, "id": "c3"}])
    yield AIMessage(ANSWER)


# ----------------------------------------------------------------- your graph + one line
class State(MessagesState, CarrRewardState):  # adds `task`, `reward`, `carr` to your state
    pass


def build_graph(scorer: CarrScorer):
    model = ScriptedModel(messages=script())

    def agent(state: State):
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([search, open_page]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return add_carr_reward(builder, scorer=scorer, task_key="task").compile()   # <- the one line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-judge", action="store_true", help="use the judge from CARR_JUDGE_*")
    args = parser.parse_args()
    judge = judge_from_env() if args.llm_judge else DeterministicJudge()
    graph = build_graph(CarrScorer(judge, ScoreOptions(alpha=0.3)))
    final = graph.invoke({"messages": [HumanMessage(TASK.question)], "task": TASK})
    print(f"reward = {final['reward']}")
    print(json.dumps({k: final["carr"][k] for k in ("outcome_reward", "rubric_reward")}, indent=2))
    for i, rubric in final["carr"]["rubric_scores"].items():
        print(f"  R{i} score={rubric['score']} supported={rubric['is_supported']}: {rubric['filled_rubric']}")


if __name__ == "__main__":
    main()
