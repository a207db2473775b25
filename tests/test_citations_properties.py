"""Property-based tests of the parsers that model output reaches: citations and URLs.

Whatever the text, they return (never raise), and they run in linear time; on well-formed answers
they find exactly the links that were written.
"""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from carr_agent.citations import answer_body, cited_urls, extract_citations
from carr_agent.urls import normalize_url, source_id, strip_wrappers

#: Text built from the characters that matter to the parsers, plus anything else.
_SPECIAL = st.sampled_from(["[", "]", "(", ")", "<", ">", "!", " ", "\n", "http://", "https://",
                            "view-source:", "## References", ":", "/", "#", "?", "%3A", "@",
                            "[1](", "](", "\ud800", ":99999", "[::1", "www."])
hostile_text = st.lists(st.one_of(_SPECIAL, st.text(max_size=8)), max_size=60).map("".join)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)
paths = st.from_regex(r"(/[A-Za-z0-9_.~-]{1,12}){0,4}", fullmatch=True)
labels = st.from_regex(r"[0-9]{1,3}|[A-Za-z][A-Za-z ]{0,10}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_citation_parsing_is_total(text):
    for citation in extract_citations(text):
        assert citation.url and citation.key is not None
    assert len(cited_urls(text)) <= len(extract_citations(text))
    assert len(answer_body(text)) <= len(text)


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_url_functions_are_total(text):
    assert isinstance(normalize_url(text), str)
    assert isinstance(strip_wrappers(text), str)
    assert source_id(text).startswith("S")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(labels, st.sampled_from(["http", "https"]), hosts, paths), max_size=8),
       st.sampled_from([" ", ", ", "\n", " and "]))
def test_written_links_are_found_in_order(links, sep):
    text = sep.join(f"[{label}]({scheme}://{host}{path})" for label, scheme, host, path in links)
    found = extract_citations(text)
    assert [(c.label, c.url) for c in found] == [
        (label.strip(), f"{scheme}://{host}{path}") for label, scheme, host, path in links]


@settings(max_examples=100, deadline=None)
@given(hosts, paths, st.sampled_from(["", "/", "#frag", "/#x"]))
def test_url_variants_share_a_key(host, path, tail):
    key = normalize_url(f"https://{host}{path}")
    assert normalize_url(f"http://www.{host.upper()}{path}{tail}") == key
    assert normalize_url(f"view-source:https://{host}{path}") == key
    assert normalize_url(f"https://{host}:443{path}") == key


@settings(max_examples=100, deadline=None)
@given(hosts, st.sampled_from([":99999", ":abc", ":-1", ":65536"]))
def test_a_bad_port_gives_its_own_key(host, port):
    key = normalize_url(f"http://{host}{port}/a")
    assert key == f"{host}{port}/a" and key != normalize_url(f"http://{host}/a")


def test_parsers_are_linear_on_pathological_answers():
    """64 kB of each known quadratic bait parses in well under a second (was 222 s)."""
    for bait in ("[a](" * 16_000, "[1](http://a.org/" + "(" * 64_000, "[1](<" * 16_000,
                 "[1](" + "view-source:" * 5_000 + "http://a.org)", "](" * 32_000,
                 "[x](http://a.org/" + "a(" * 32_000):
        start = time.perf_counter()
        cited_urls(bait)
        normalize_url(bait)
        assert time.perf_counter() - start < 1.0, bait[:20]
