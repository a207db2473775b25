"""The system prompt: how to use search / open / find and how to write a cited final answer.

The answer format is the one CaRR scores ("Chaining the Evidence", arXiv 2601.06021): three
``##`` sections with inline ``[n](url)`` citations in the body. Citations are only worth something
when the cited URL was actually shown by a tool during the run, so the prompt says so plainly.

The format is described in words only. A filled example (names, URLs, an answer) gives a small
model something to copy: the 0.5B default model answered the demo question with the example's
answer and cited the example's URLs, which it had never been shown. A ``<placeholder>`` template
was copied verbatim too. What keeps a small model's answer well-formed is the graph (the forced
answer lists the pages seen, by number) and, on the local engine, decoding constrained to the
format (:mod:`carr_agent.models.llama_cpp_chat`).
"""

from __future__ import annotations

#: The message appended when a budget runs out; the model then answers without tools.
BUDGET_EXHAUSTED_MESSAGE = (
    "budget exhausted: give your final answer now in the required format. Tools are no longer "
    "available; answer from what you have found, with inline citations [n](url) to pages you "
    "were shown."
)

#: Heading of the numbered list of pages seen that follows :data:`BUDGET_EXHAUSTED_MESSAGE`.
SOURCES_SEEN_HEADING = "Pages you were shown (cite a page as [n](its URL), using its number n):"


def answer_format_instructions() -> str:
    """The required final-answer format, as told to the model (in words: nothing to copy)."""
    return (
        "When you have found the answer, reply WITHOUT calling a tool. The reply has three "
        "sections, each starting with its heading on a line of its own:\n"
        "1. '## Explanation with Citations': a few sentences that state the facts you found, "
        "each fact followed by an inline citation of the page that showed it, written as the "
        "page's number in square brackets directly followed by its URL in parentheses.\n"
        "2. '## Exact Answer': only the answer itself (a name, number, date or short phrase), "
        "nothing else.\n"
        "3. '## References': one line per cited page: its number in square brackets, a space "
        "and its URL.\n"
        "Cite only URLs that a search result or an opened page showed you in this "
        "conversation, copied exactly; a citation to any other URL counts as unsupported. "
        "Never invent a URL, a name or a fact."
    )


DEFAULT_SYSTEM_PROMPT = (
    "You are a careful deep-research agent. Answer the user's question by searching, reading "
    "pages and checking facts before you answer. Multi-hop questions hide intermediate entities: "
    "identify each one and verify it in a source.\n"
    "\n"
    "Tools:\n"
    "- search(query, num=10): ranked results, each with an index [i], title, URL and snippet.\n"
    "- open(id_or_url): open result i of the latest search (an integer) or any URL; shows the "
    "page's title, URL, date and text (long pages are truncated).\n"
    "- find(pattern): show the places in the open page where pattern occurs, with context; use "
    "it to reach parts of a long page that were cut off.\n"
    "\n"
    "Call one tool at a time, read each result, and refine your searches when results are off "
    "topic. Never invent URLs or facts.\n"
    "\n" + answer_format_instructions()
)

__all__ = [
    "BUDGET_EXHAUSTED_MESSAGE",
    "DEFAULT_SYSTEM_PROMPT",
    "SOURCES_SEEN_HEADING",
    "answer_format_instructions",
]
