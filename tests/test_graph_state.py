"""The agent state's delta-channel reducers are batching-invariant, as LangGraph requires."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage

from carr_agent.graph.state import add_message_batches, concat_batches, last_write

ids = st.sampled_from(["a", "b", "c", "d", "e"])
message = st.one_of(
    st.builds(lambda i, t: HumanMessage(t, id=i), ids, st.text(max_size=5)),
    st.builds(lambda i, t: AIMessage(t, id=i), ids, st.text(max_size=5)),
)
write = st.one_of(st.lists(message, max_size=4), message)
batches = st.lists(write, max_size=4)


def dump(messages):
    return [(type(m).__name__, m.id, m.content) for m in messages]


@settings(max_examples=150, deadline=None)
@given(st.lists(message, max_size=4, unique_by=lambda m: m.id), batches, batches)
def test_messages_reducer_is_batching_invariant(start, xs, ys):
    once = add_message_batches(add_message_batches(list(start), xs), ys)
    together = add_message_batches(list(start), xs + ys)
    assert dump(once) == dump(together)


def test_messages_reducer_replaces_by_id_and_removes():
    base = add_message_batches([], [[HumanMessage("q", id="1"), AIMessage("a", id="2")]])
    out = add_message_batches(base, [[AIMessage("b", id="2")], [RemoveMessage(id="1")]])
    assert dump(out) == [("AIMessage", "2", "b")]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers()), st.lists(st.lists(st.integers()), max_size=4),
       st.lists(st.lists(st.integers()), max_size=4))
def test_list_and_last_value_reducers_are_batching_invariant(start, xs, ys):
    assert concat_batches(concat_batches(start, xs), ys) == concat_batches(start, xs + ys)
    assert last_write(last_write(start, xs), ys) == last_write(start, xs + ys)
