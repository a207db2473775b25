"""Property-based tests (hypothesis) of the parsers a model's output or a file can reach.

* the search / open / find renderings parse back to what was rendered (the one text contract);
* task lines: any text gives a Task or a line-numbered reason, never an exception;
* rubric labels: any rubric list is accepted or refused with a TaskFormatError, quickly;
* answer sections: any text parses; written sections are read back; citations always resolve.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from carr_agent.errors import HistoryFormatError, TaskFormatError
from carr_agent.graph.answer import parse_answer, resolve_citations
from carr_agent.task_files import MAX_ENTITY_LABEL, TaskLineError, check_rubrics, parse_task_line
from carr_agent.tools.find import find_in_text
from carr_agent.tools.render import (
    FindMatch,
    parse_find,
    parse_page,
    parse_search,
    render_find,
    render_page,
    render_search,
)
from carr_agent.types import Hit, Page, Task

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Any text, lone surrogates and line separators included.
ANY_TEXT = st.text(st.characters(codec=None), max_size=200)
#: URLs as backends return them: no whitespace.
URLS = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.text(st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), max_size=40),
)
ONE_LINE = ANY_TEXT.map(lambda t: " ".join(t.split()))


@st.composite
def hits(draw: st.DrawFn) -> Hit:
    date = draw(st.none() | ONE_LINE.filter(bool))
    return Hit(url=draw(URLS), title=draw(ONE_LINE), snippet=draw(ONE_LINE), date=date)


@SETTINGS
@given(st.lists(hits(), max_size=12))
def test_search_rendering_parses_back_to_the_hits(shown: list[Hit]) -> None:
    assert parse_search(render_search(shown)) == shown


@SETTINGS
@given(st.builds(Page, url=URLS, title=ANY_TEXT, text=ANY_TEXT, date=st.none() | ONE_LINE.filter(bool)),
       st.none() | st.integers(min_value=1, max_value=300))
@example(Page(url="https://a.org/x", title="Markdown Content:", text="body"), None)
@example(Page(url="https://a.org/x", title="t", text="Markdown Content:\nURL Source: x"), None)
def test_page_rendering_parses_back_to_the_shown_page(page: Page, budget: int | None) -> None:
    text, shown = render_page(page, budget=budget)
    back = parse_page(text)
    assert (back.url, back.title, back.text, back.date) == (
        page.url, " ".join(page.title.split()), shown, page.date)


@SETTINGS
@given(st.lists(ANY_TEXT, max_size=8))
def test_find_rendering_parses_back_to_the_matches(texts: list[str]) -> None:
    rendered = render_find([FindMatch(text=t, start=0, end=len(t)) for t in texts])
    # a match that itself holds a "[Match n]" line cannot be told from the next header
    assume(all("[Match " not in t for t in texts))
    assert parse_find(rendered) == texts if texts else parse_find(rendered) == []


@SETTINGS
@given(ANY_TEXT)
def test_the_observation_parsers_take_any_text(text: str) -> None:
    parse_search(text)
    parse_find(text)
    with contextlib.suppress(HistoryFormatError):
        parse_page(text)


@SETTINGS
@given(ANY_TEXT, ANY_TEXT.filter(lambda p: bool(p.strip())))
def test_find_matches_are_exact_substrings_of_the_page(page: str, pattern: str) -> None:
    for m in find_in_text(page, pattern, context=20, max_matches=5):
        assert page[m.start:m.end] == m.text


# -- task lines and rubrics --------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)
TASK_KEYS = st.sampled_from(["id", "question", "label", "answer", "rubrics", "entities", "metadata",
                             "prompt", "messages", "input_messages", "problem", "hops"])


@SETTINGS
@given(st.dictionaries(TASK_KEYS, JSON_VALUES, max_size=8))
def test_any_json_record_is_a_task_or_a_reason(record: dict) -> None:
    try:
        line = json.dumps(record)
    except (ValueError, RecursionError):
        return
    item = parse_task_line(line, 7)
    assert isinstance(item, (Task, TaskLineError))
    if isinstance(item, TaskLineError):
        assert item.line == 7 and item.reason


@SETTINGS
@given(ANY_TEXT)
def test_any_text_line_is_a_task_or_a_reason(line: str) -> None:
    assert isinstance(parse_task_line(line, 1), (Task, TaskLineError))


@SETTINGS
@given(st.lists(st.lists(st.integers(min_value=0, max_value=10**9), max_size=4).map(
    lambda ns: " and ".join(f"<E{n}>" for n in ns) + " hold."), max_size=6))
def test_rubric_labels_are_accepted_only_when_contiguous_from_e0(rubrics: list[str]) -> None:
    import re

    labels = {int(n) for r in rubrics for n in re.findall(r"<E(\d+)>", r)}
    try:
        check_rubrics(rubrics)
    except TaskFormatError:
        assert rubrics and (0 not in labels or labels != set(range(len(labels)))
                            or max(labels) > MAX_ENTITY_LABEL)
    else:
        assert not rubrics or labels == set(range(len(labels)))


# -- answers -------------------------------------------------------------------------------------

SECTION = ANY_TEXT.filter(lambda t: "#" not in t).map(str.strip)


@SETTINGS
@given(SECTION, SECTION, SECTION)
def test_written_answer_sections_are_read_back(explanation: str, exact: str, refs: str) -> None:
    text = (f"## Explanation with Citations\n{explanation}\n\n## Exact Answer\n{exact}\n\n"
            f"## References\n{refs}")
    answer = parse_answer(text)
    assert answer["well_formed"]
    assert (answer["explanation"], answer["exact_answer"], answer["references"]) == (
        explanation.strip(), exact.strip(), refs.strip())


@SETTINGS
@given(ANY_TEXT, st.lists(st.builds(
    lambda url, kind: {"source_id": "S1", "url": url, "title": "", "kind": kind, "step": 1,
                       "text": "", "start": None, "end": None},
    ANY_TEXT, st.sampled_from(["search", "open", "find"])), max_size=4))
def test_any_answer_parses_and_its_citations_resolve(text: str, ledger: list[dict]) -> None:
    answer = resolve_citations(parse_answer(text), ledger)
    assert len(answer["unseen"]) <= len(answer["citations"])


@pytest.mark.parametrize("url", ["http://example.org:99999/a", "http://[::1", "http://x.org/\ud800"])
def test_citations_of_malformed_urls_resolve_as_unseen(url: str) -> None:
    answer = resolve_citations(parse_answer(f"It is so [1]({url}).\n## Exact Answer\nX"), [])
    assert [c["seen"] for c in answer["citations"]] == [False]


# -- the offline corpus backends -----------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    from carr_agent.tools.corpus import CorpusIndex
    from tests.graph_support import write_corpus

    root = tmp_path_factory.mktemp("prop-corpus")
    return CorpusIndex.build(write_corpus(root / "docs.jsonl"), root / "index")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ANY_TEXT, st.integers(min_value=-3, max_value=60))
def test_corpus_search_takes_any_query(corpus, query: str, k: int) -> None:
    from carr_agent.errors import SearchError

    try:
        hits = corpus.search(query, k)
    except SearchError:
        return
    assert len(hits) <= max(k, 0)
    for hit in hits:
        assert hit.start is not None and hit.end is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ANY_TEXT | URLS)
def test_corpus_fetch_takes_any_url(corpus, url: str) -> None:
    from carr_agent.errors import FetchError

    with contextlib.suppress(FetchError):
        assert corpus.fetch(url).text
