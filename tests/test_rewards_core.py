"""Pure core of the CaRR reward: citations, rubrics, connectivity, evidence."""

from __future__ import annotations

import pytest

from carr_agent.errors import ConfigError
from carr_agent.rewards.citations import answer_body, cited_urls, extract_citations
from carr_agent.rewards.connectivity import connected_rubrics
from carr_agent.rewards.evidence import (
    build_evidence_context,
    collect_evidence,
    evidence_from_ledger,
    select_relevant,
)
from carr_agent.rewards.rubrics import (
    all_entity_labels,
    fill_rubric,
    format_constraints,
    parse_entity_labels,
    partial_fill,
)
from carr_agent.rewards.textnorm import contains_phrase, normalize_text
from carr_agent.types import LedgerRecord
from carr_agent.urls import source_id


def rec(url: str, text: str, kind: str = "open", title: str = "T", step: int = 1) -> LedgerRecord:
    return LedgerRecord(source_id=source_id(url), url=url, title=title, kind=kind, step=step,
                        text=text, start=None, end=None)


# -- citations ---------------------------------------------------------------------------------

def test_citations_after_last_references_heading_are_ignored() -> None:
    answer = (
        "## Explanation with Citations\nUFC 219 was in 2017 [1](https://a.org/x).\n"
        "## References\n[2](https://b.org/y)\n"
        "## References\n[3](https://c.org/z)"
    )
    assert [c.url for c in extract_citations(answer)] == ["https://a.org/x", "https://b.org/y"]
    assert "c.org" not in answer_body(answer)


def test_citations_only_in_references_give_no_citations() -> None:
    answer = "## Explanation\nNo links here.\n## Exact Answer\nX\n## References\n[1](https://a.org)"
    assert extract_citations(answer) == []


def test_nested_angle_bracket_and_parenthesised_urls_are_cited() -> None:
    body = (
        "A [[4](https://en.wikipedia.org/wiki/UFC_219)], B [Mercury](https://en.wikipedia.org/wiki/"
        "Mercury_(planet)), C [x](<https://ex.org/a b>), D [5](view-source:https://ex.org/v), "
        "E ![img](https://ex.org/pic.png), F [y](ftp://no.org), G [z](https://ex.org/t \"title\")"
    )
    got = [(c.label, c.url) for c in extract_citations(body)]
    assert got == [
        ("4", "https://en.wikipedia.org/wiki/UFC_219"),
        ("Mercury", "https://en.wikipedia.org/wiki/Mercury_(planet)"),
        ("x", "https://ex.org/a b"),
        ("5", "https://ex.org/v"),
        ("z", "https://ex.org/t"),
    ]


def test_cited_urls_merge_url_variants_in_order_of_first_citation() -> None:
    body = ("[1](https://www.Example.org/a/) [2](http://b.org) [3](http://example.org/a#sec) "
            "[4](https://r.jina.ai/https://b.org/)")
    assert cited_urls(body) == ["https://www.Example.org/a/", "http://b.org"]


# -- rubrics -----------------------------------------------------------------------------------

def test_entity_labels_are_parsed_per_rubric_and_across_rubrics() -> None:
    rubrics = ["<E0> met <E10> and <E2>, then <E0> left.", "<E1> is old.", "No entity."]
    assert parse_entity_labels(rubrics[0]) == ["E0", "E10", "E2"]
    assert all_entity_labels(rubrics) == ["E0", "E1", "E2", "E10"]
    assert format_constraints(rubrics[1:]) == "C1. <E1> is old.\nC2. No entity."


def test_fill_rubric_substitutes_once_and_refuses_unidentified_entities() -> None:
    values = {"E0": "UFC 219", "E1": "<E2> Holm", "E2": None}
    assert fill_rubric("<E0> featured <E1>.", values) == "UFC 219 featured <E2> Holm."
    assert fill_rubric("<E0> featured <E2>.", values) is None
    assert fill_rubric("<E0> had <E3>.", values) is None  # missing key
    assert fill_rubric("<E0> had <E1>.", {"E0": "x", "E1": "   "}) is None  # blank
    assert partial_fill("<E0> featured <E2>.", values) == "UFC 219 featured <E2>."
    assert fill_rubric("No entity here.", {}) == "No entity here."


def test_numeric_entity_values_fill_as_text() -> None:
    assert fill_rubric("<E1> landed <E2> strikes.", {"E1": "Holm", "E2": "14"}) == (
        "Holm landed 14 strikes."
    )


# -- connectivity ------------------------------------------------------------------------------

def test_connectivity_chains_from_e0_through_supported_rubrics() -> None:
    entities = [["E0", "E1"], ["E1", "E2"], ["E2"], ["E3"], [], ["E3", "E4"]]
    supported = [True, True, True, True, True, True]
    assert connected_rubrics(entities, supported) == [True, True, True, False, False, False]


def test_unsupported_rubric_breaks_the_chain() -> None:
    entities = [["E0", "E1"], ["E1", "E2"], ["E2"]]
    assert connected_rubrics(entities, [False, True, True]) == [False, False, False]
    assert connected_rubrics(entities, [True, None, True]) == [True, False, False]


# -- evidence ----------------------------------------------------------------------------------

def test_evidence_is_all_ledger_text_for_the_normalised_url_deduplicated() -> None:
    ledger = [
        rec("https://en.wikipedia.org/wiki/UFC_219", "snippet one", kind="search"),
        rec("http://www.en.wikipedia.org/wiki/UFC_219/", "page text"),
        rec("https://other.org", "unrelated"),
        rec("https://en.wikipedia.org/wiki/UFC_219#x", "snippet one", kind="search"),
        rec("https://en.wikipedia.org/wiki/UFC_219", "a find match", kind="find"),
    ]
    ev = evidence_from_ledger(ledger, ["https://en.wikipedia.org/wiki/UFC_219"])
    assert ev == {"https://en.wikipedia.org/wiki/UFC_219": "snippet one\n\npage text\n\na find match"}


def test_citation_to_never_seen_url_has_no_evidence() -> None:
    ledger = [rec("https://seen.org/a", "text")]
    assert evidence_from_ledger(ledger, ["https://never-seen.org/b"]) == {}


def test_evidence_cap_counts_sources_with_evidence_in_citation_order() -> None:
    ledger = [rec(f"https://s{i}.org", f"text {i}") for i in range(30)]
    cited = ["https://junk.org"] + [f"https://s{i}.org" for i in reversed(range(30))]
    sources = collect_evidence(ledger, cited, max_urls=20)
    assert [s.url for s in sources] == [f"https://s{i}.org" for i in range(29, 9, -1)]
    with pytest.raises(ConfigError):
        collect_evidence(ledger, cited, max_urls=0)


def test_full_evidence_context_mirrors_the_reference_layout() -> None:
    ledger = [rec("https://a.org", "snip", kind="search", title="A page"),
              rec("https://a.org", "body text"), rec("https://a.org", "match", kind="find")]
    ctx = build_evidence_context(collect_evidence(ledger, ["https://a.org"]))
    assert ctx == ("[Webpage 1]\nURL Source: https://a.org\nTitle: A page\n\n"
                   "Snippet:\nsnip\n\nContent:\nbody text\n\nFind match:\nmatch")


def test_relevant_mode_keeps_statement_passages_of_long_sources_only() -> None:
    filler = " ".join(f"Filler sentence number {i} about nothing." for i in range(400))
    page = filler + " Holly Holm fought Cris Cyborg at UFC 219 in Las Vegas. " + filler
    sources = collect_evidence([rec("https://a.org", page), rec("https://b.org", "short")],
                               ["https://a.org", "https://b.org"])
    statements = ["UFC 219 featured a bout between Holly Holm and Cris Cyborg."]
    full = build_evidence_context(sources, statements)
    rel = build_evidence_context(sources, statements, mode="relevant", relevant_threshold=6000,
                                 relevant_budget=500)
    assert len(full) > 30_000 and len(rel) < 2_000
    assert "Holly Holm fought Cris Cyborg at UFC 219" in rel
    assert "Content:\nshort" in rel  # short sources are kept whole
    with pytest.raises(ConfigError):
        build_evidence_context(sources, statements, mode="fast")  # type: ignore[arg-type]


def test_select_relevant_returns_windows_in_document_order() -> None:
    text = "Alpha one. Beta two. Gamma holm. Delta three. Epsilon four. Zeta cyborg. Eta five."
    got = select_relevant(text, {"holm", "cyborg"}, budget=1000, window=0)
    assert got == "Gamma holm.\n…\nZeta cyborg."


# -- normalisation -------------------------------------------------------------------------------

def test_normalisation_folds_case_punctuation_accents_and_numbers() -> None:
    assert normalize_text("Café  DU-Monde, 1,234 and 14.0!") == "cafe du monde 1234 and 14"
    assert contains_phrase(normalize_text("It sold 1234 copies"), "1,234")
    assert not contains_phrase(normalize_text("in 1994"), "1")
