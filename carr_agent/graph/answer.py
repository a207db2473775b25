"""The final answer: its three sections and its citations, checked against the ledger.

Pure functions over text and ledger records. A citation is *seen* when some observation of the
run came from the same normalised URL (:func:`carr_agent.urls.normalize_url`); citations to URLs
no tool ever showed are flagged, because they cannot be evidence (arXiv 2601.06021). The citation
syntax itself lives in :mod:`carr_agent.citations`, shared with the rewards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from carr_agent.citations import extract_citations
from carr_agent.graph.state import FinalAnswer, ResolvedCitation
from carr_agent.types import LedgerRecord
from carr_agent.urls import normalize_url

_SECTION_NAMES = {
    "explanation with citations": "explanation",
    "exact answer": "exact_answer",
    "references": "references",
}
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*(.+?)[ \t#]*$", re.M)


def parse_answer(text: str, *, forced: bool = False) -> FinalAnswer:
    """Split a final answer into its sections and list the citations of its body.

    Sections are found by their headings (``## Explanation with Citations``, ``## Exact Answer``,
    ``## References``; any heading level, any case). Citations are the ``[label](http…)`` links
    before the last ``References`` heading. They are not yet resolved: ``seen`` is ``False`` and
    ``source_id`` ``None`` until :func:`resolve_citations`.

    Args:
        text: the model's final message.
        forced: record that the answer was demanded because a budget ran out.

    Example:
        >>> a = parse_answer("## Explanation with Citations\\nIt is X [1](https://x.org/a).\\n"
        ...                  "## Exact Answer\\nX\\n## References\\n[1] https://x.org/a")
        >>> a["exact_answer"], [c["url"] for c in a["citations"]], a["well_formed"]
        ('X', ['https://x.org/a'], True)
    """
    sections = _sections(text)
    citations = [
        ResolvedCitation(label=c.label, url=c.url, source_id=None, seen=False, kinds=[])
        for c in extract_citations(text)
    ]
    return FinalAnswer(
        text=text,
        explanation=sections.get("explanation", ""),
        exact_answer=sections.get("exact_answer", ""),
        references=sections.get("references", ""),
        well_formed=len(sections) == len(_SECTION_NAMES),
        citations=citations,
        unseen=_distinct(c["url"] for c in citations),
        forced=forced,
    )


def resolve_citations(answer: FinalAnswer, ledger: Iterable[LedgerRecord]) -> FinalAnswer:
    """Resolve each citation against the ledger by normalised URL.

    Returns:
        A new answer whose citations carry the ledger's ``source_id``, ``seen`` and the kinds of
        observation that showed the URL, and whose ``unseen`` lists the distinct cited URLs
        (first-written form) that no observation came from.
    """
    seen: dict[str, tuple[str, list[str]]] = {}
    for record in ledger:
        key = normalize_url(record["url"])
        _, kinds = seen.setdefault(key, (record["source_id"], []))
        if record["kind"] not in kinds:
            kinds.append(record["kind"])
    resolved: list[ResolvedCitation] = []
    for c in answer["citations"]:
        hit = seen.get(normalize_url(c["url"]))
        resolved.append(ResolvedCitation(
            label=c["label"],
            url=c["url"],
            source_id=hit[0] if hit else None,
            seen=hit is not None,
            kinds=list(hit[1]) if hit else [],
        ))
    unseen = _distinct(c["url"] for c in resolved if not c["seen"])
    return FinalAnswer(**{**answer, "citations": resolved, "unseen": unseen})


def _sections(text: str) -> dict[str, str]:
    """The known sections of ``text``. A section runs to the next known heading (sub-headings
    inside the explanation stay in it); a later heading of the same name wins (the model's last
    word is its answer)."""
    headings = [
        (m, name)
        for m in _HEADING.finditer(text)
        if (name := _SECTION_NAMES.get(m.group(1).strip().lower().rstrip(":"))) is not None
    ]
    out: dict[str, str] = {}
    for i, (m, name) in enumerate(headings):
        end = headings[i + 1][0].start() if i + 1 < len(headings) else len(text)
        out[name] = text[m.end():end].strip()
    return out


def _distinct(urls: Iterable[str]) -> list[str]:
    keys: set[str] = set()
    out: list[str] = []
    for url in urls:
        key = normalize_url(url)
        if key not in keys:
            keys.add(key)
            out.append(url)
    return out


__all__ = ["parse_answer", "resolve_citations"]
