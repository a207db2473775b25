"""Citation counts of a final answer, and a per-citation support check.

The CaRR rubric reward asks whether the *rubrics* are supported by the union of cited evidence. An
evaluation also wants to know about each *citation*: does the sentence that cites a URL hold up
against what the agent was shown from that URL? This module answers that with the same judge:

1. split the answer body into sentences (a citation placed after the full stop belongs to the
   sentence before it);
2. pair every sentence with each URL it cites; drop the link markup to get the claim;
3. for each cited URL the ledger has evidence for, ask ``judge.judge_support(evidence of that
   URL alone, [its claims])``.

A pair is *unsupported* when the judge says no. Citations of URLs no tool ever showed are counted
separately ("unseen") and not judged. With the deterministic judge this is a lexical check (see
:class:`~carr_agent.rewards.DeterministicJudge`); with an LLM judge it is a real grounding check.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from carr_agent.errors import JudgeError
from carr_agent.rewards.citations import answer_body, cited_urls, extract_citations
from carr_agent.rewards.evidence import build_evidence_context, collect_evidence
from carr_agent.rewards.judges.base import Judge
from carr_agent.types import LedgerRecord, Task
from carr_agent.urls import normalize_url

#: A sentence end: the mark, then any citations placed after it, then whitespace or line end.
_SENTENCE_END = re.compile(r"[.!?。！？]((?:\s*\[*\[[^\[\]\n]*\]\(\S+?\)\]*)*)(?=\s|$)")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_LINK_LEFTOVER = re.compile(r"\[*\[([^\[\]\n]*)\]\(\s*<?\s*>?\s*\)\]*")


@dataclass(frozen=True, slots=True)
class CitationCounts:
    """How an answer cites.

    Attributes:
        cited: distinct cited URLs (normalised) in the body.
        unseen: cited URLs that no observation of the run came from.
    """

    cited: int
    unseen: int


@dataclass(frozen=True, slots=True)
class CitationCheck:
    """Result of the per-citation support check.

    Attributes:
        checked: (sentence, URL) pairs judged.
        unsupported: pairs judged not supported; None when a judge call failed (unknown).
        error: why the check is unknown.
    """

    checked: int
    unsupported: int | None
    error: str | None = None


def count_citations(answer: str, ledger: Sequence[LedgerRecord]) -> CitationCounts:
    """Distinct cited URLs of the answer body and how many of them were never observed."""
    seen = {normalize_url(r["url"]) for r in ledger}
    urls = {normalize_url(u) for u in cited_urls(answer)}
    return CitationCounts(cited=len(urls), unseen=sum(u not in seen for u in urls))


def citing_sentences(answer: str) -> list[tuple[str, list[str]]]:
    """``(claim, cited urls)`` for every body sentence with at least one citation.

    The claim is the sentence with its link markup removed; URLs are as written, distinct.
    """
    out = []
    for sentence in split_sentences(answer_body(answer)):
        if not sentence.strip() or _HEADING.match(sentence):
            continue
        citations = extract_citations(sentence)
        if not citations:
            continue
        claim = sentence
        for c in citations:
            claim = claim.replace(c.url, "")
        claim = _LINK_LEFTOVER.sub("", claim)
        claim = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", claim)).strip()
        if claim:
            urls = list(dict.fromkeys(c.url for c in citations))
            out.append((claim, urls))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; citations right after a sentence's full stop stay with it."""
    out = []
    for line in text.splitlines():
        start = 0
        for m in _SENTENCE_END.finditer(line):
            out.append(line[start : m.end()])
            start = m.end()
        out.append(line[start:])
    return [s.strip() for s in out if s.strip()]


async def check_citations(
    judge: Judge,
    task: Task,
    answer: str,
    ledger: Sequence[LedgerRecord],
    *,
    max_urls: int = 20,
) -> CitationCheck:
    """Judge every (sentence, cited URL) pair against that URL's evidence (module docstring).

    Returns an unknown result (``unsupported=None``) naming the error when a judge call fails.
    """
    claims_by_url: dict[str, list[str]] = {}
    first_form: dict[str, str] = {}
    for claim, urls in citing_sentences(answer):
        for url in urls:
            key = normalize_url(url)
            first_form.setdefault(key, url)
            if claim not in claims_by_url.setdefault(key, []):
                claims_by_url[key].append(claim)
    jobs = []
    for key, claims in claims_by_url.items():
        sources = collect_evidence(ledger, [first_form[key]], max_urls=1)
        if sources:
            jobs.append((build_evidence_context(sources, claims), claims))
        if len(jobs) == max_urls:
            break
    if not jobs:
        return CitationCheck(checked=0, unsupported=0)
    try:
        verdicts = await asyncio.gather(
            *(judge.judge_support(evidence, claims, task=task) for evidence, claims in jobs)
        )
    except JudgeError as exc:
        checked = sum(len(c) for _, c in jobs)
        return CitationCheck(checked, None, f"citation check failed: {exc}")
    checked = unsupported = 0
    for (_, claims), flags in zip(jobs, verdicts, strict=True):
        if len(flags) != len(claims):
            return CitationCheck(sum(len(c) for _, c in jobs), None,
                                 "citation check: judge returned a wrong number of verdicts")
        checked += len(claims)
        unsupported += sum(not f for f in flags)
    return CitationCheck(checked, unsupported)


__all__ = [
    "CitationCheck",
    "CitationCounts",
    "check_citations",
    "citing_sentences",
    "count_citations",
    "split_sentences",
]
