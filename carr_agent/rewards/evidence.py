"""Evidence of cited URLs: exactly what the agent was shown from each source, and the judge's
evidence text built from it.

The evidence of a cited URL is every ledger text recorded for its normalised URL (search snippets,
the page as shown, ``find`` matches), deduplicated, in observation order. A URL that no tool ever
returned has no evidence and supports nothing. A cited URL that was seen but whose text is empty (a
page with a title and a date but no content) is still a source: the judge is shown its URL, title
and date, as the reference does. At most ``max_urls`` sources are used; like the reference, the cap
counts cited URLs that were *seen* (empty ones included; citations of never-seen URLs cannot crowd
out real ones), in order of first citation.

The judge's evidence text (:func:`build_evidence_context`) mirrors the reference construction:
``[Webpage n]`` blocks with URL, title and published time, then ``Snippet:``, ``Content:`` and
``Find match:`` passages. ``mode="full"`` (default) is all of it. ``mode="relevant"`` shortens
sources longer than a threshold to the sentence windows that share the most content words with the
statements being judged.

Why "full" is the default: the reward means "supported by what the agent was shown", pages are
already capped by the browser's page budget (10k characters), and a lexical filter can drop the
sentence that supports a paraphrased statement (or the one that resolves its pronoun). A false
"unsupported" trains against honest citations, so the cheaper mode is an opt-in for judge budgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from carr_agent.errors import ConfigError
from carr_agent.rewards.textnorm import content_tokens, tokens
from carr_agent.types import LedgerRecord
from carr_agent.urls import normalize_url

EvidenceMode = Literal["full", "relevant"]
__all__ = [
    "EvidenceMode",
    "EvidencePassage",
    "SourceEvidence",
    "build_evidence_context",
    "collect_evidence",
    "evidence_from_ledger",
    "select_relevant",
]

_KIND_HEADER = {"search": "Snippet:", "open": "Content:", "find": "Find match:"}
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|\n+")


@dataclass(frozen=True, slots=True)
class EvidencePassage:
    """One distinct text the agent was shown from a source."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class SourceEvidence:
    """Everything the agent was shown from one cited source.

    Attributes:
        url: the URL as cited (first-written form).
        title: the first non-empty title recorded for it.
        date: the first published date recorded for it, if any.
        passages: distinct texts, in observation order.
    """

    url: str
    title: str
    date: str | None
    passages: tuple[EvidencePassage, ...]

    @property
    def text(self) -> str:
        """All passages joined: the source's evidence text."""
        return "\n\n".join(p.text for p in self.passages)


def collect_evidence(
    ledger: Iterable[LedgerRecord], cited_urls: Sequence[str], *, max_urls: int = 20
) -> list[SourceEvidence]:
    """The evidence of each cited URL that the ledger has, in order of first citation.

    Args:
        ledger: the observations of the run.
        cited_urls: cited URLs in order of first citation (variants are merged here too).
        max_urls: how many seen sources to keep at most (sources with empty text count).
    """
    if max_urls < 1:
        raise ConfigError(f"max_urls must be >= 1, got {max_urls}")
    by_key: dict[str, list[LedgerRecord]] = {}
    for record in ledger:
        by_key.setdefault(normalize_url(record["url"]), []).append(record)
    sources: list[SourceEvidence] = []
    used: set[str] = set()
    for url in cited_urls:
        key = normalize_url(url)
        if key in used or key not in by_key:
            continue
        used.add(key)
        sources.append(_source(url, by_key[key]))
        if len(sources) == max_urls:
            break
    return sources


def evidence_from_ledger(
    ledger: Iterable[LedgerRecord], cited_urls: Sequence[str], max_urls: int = 20
) -> dict[str, str]:
    """``{cited url: evidence text}`` for the cited URLs the ledger has (others are absent)."""
    return {s.url: s.text for s in collect_evidence(ledger, cited_urls, max_urls=max_urls)}


def build_evidence_context(
    sources: Sequence[SourceEvidence],
    statements: Sequence[str] = (),
    *,
    mode: EvidenceMode = "full",
    relevant_threshold: int = 6000,
    relevant_budget: int = 3000,
) -> str:
    """The evidence text the statement-support judge reads.

    Args:
        sources: from :func:`collect_evidence`.
        statements: the filled rubrics being judged (used by ``mode="relevant"``).
        mode: ``"full"``: every passage; ``"relevant"``: sources whose evidence is longer than
            ``relevant_threshold`` characters are cut to about ``relevant_budget`` characters of
            the sentence windows most related to the statements.
        relevant_threshold: evidence length above which a source is shortened.
        relevant_budget: characters kept per shortened source.
    """
    if mode not in ("full", "relevant"):
        raise ConfigError(f"evidence mode must be 'full' or 'relevant', got {mode!r}")
    query = {t for s in statements for t in content_tokens(s)}
    blocks = []
    for n, source in enumerate(sources, start=1):
        lines = [f"[Webpage {n}]", f"URL Source: {source.url}"]
        if source.title:
            lines.append(f"Title: {source.title}")
        if source.date:
            lines.append(f"Published Time: {source.date}")
        head = "\n".join(lines) + "\n"
        if mode == "relevant" and len(source.text) > relevant_threshold:
            body = "Relevant passages:\n" + select_relevant(source.text, query, relevant_budget)
        else:
            body = "\n\n".join(f"{_KIND_HEADER.get(p.kind, 'Text:')}\n{p.text}"
                               for p in source.passages)
        blocks.append(f"{head}\n{body}")
    return "\n\n".join(blocks)


def select_relevant(text: str, query_tokens: set[str], budget: int, *, window: int = 1) -> str:
    """Sentence windows of ``text`` ranked by distinct query-token overlap, up to ``budget`` chars.

    Each sentence is scored by how many distinct query tokens it contains; the best sentences are
    taken with ``window`` neighbours on each side until the budget is filled; the kept sentences
    are returned in document order, gaps marked with ``…``.
    """
    sentences = [s.strip() for s in _SENTENCE_SPLIT.split(text) if s and s.strip()]
    if not sentences:
        return ""
    scores = [len(query_tokens.intersection(tokens(s))) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    keep: set[int] = set()
    size = 0
    for i in order:
        if scores[i] == 0 or size >= budget:
            break
        for j in range(max(0, i - window), min(len(sentences), i + window + 1)):
            if j not in keep:
                keep.add(j)
                size += len(sentences[j]) + 1
    if not keep:
        return sentences[0][:budget]
    parts: list[str] = []
    prev = -2
    for i in sorted(keep):
        if parts and i != prev + 1:
            parts.append("…")
        parts.append(sentences[i])
        prev = i
    return "\n".join(parts)


def _source(url: str, records: Sequence[Mapping[str, object]]) -> SourceEvidence:
    seen: set[str] = set()
    passages = []
    title, date = "", None
    for record in records:
        title = title or str(record.get("title") or "")
        found = record.get("date")
        date = date or (found if isinstance(found, str) and found else None)
        text = str(record.get("text") or "")
        if text.strip() and text.strip() not in seen:
            seen.add(text.strip())
            passages.append(EvidencePassage(kind=str(record.get("kind", "")), text=text))
    return SourceEvidence(url=url, title=title, date=date, passages=tuple(passages))
