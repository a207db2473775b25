"""``find`` in the open page: matches of a pattern with ±context, with exact offsets.

Pure functions over the page text. Exact (case-insensitive, whitespace-flexible) matches come
first; only when there are none, and ``fuzzy`` is on, sentence windows are scored with rapidfuzz's
``partial_ratio`` so a slightly misspelt or reworded pattern still finds its place. Every match
satisfies ``text[m.start:m.end] == m.text``, which lets the citation ledger record exact offsets.
"""

from __future__ import annotations

import re

from carr_agent.errors import ConfigError
from carr_agent.tools.render import FindMatch

#: Minimum rapidfuzz ``partial_ratio`` (0-100) for a fuzzy match.
FUZZY_THRESHOLD = 80.0
#: Patterns shorter than this (after stripping) are matched exactly only: fuzzy hits are noise.
MIN_FUZZY_LEN = 4
_SENTENCE = re.compile(r"[^.!?。！？\n]+(?:[.!?。！？]+|\n|$)")
_MAX_WINDOW = 400


def find_in_text(
    text: str,
    pattern: str,
    *,
    context: int = 200,
    max_matches: int = 10,
    fuzzy: bool = True,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
) -> list[FindMatch]:
    """Find ``pattern`` in ``text`` and return context windows around the matches.

    Args:
        text: the full page text.
        pattern: what to look for; case and runs of whitespace are ignored.
        context: characters shown on each side of a match.
        max_matches: the most matches returned.
        fuzzy: fall back to fuzzy matching when there is no exact match.
        fuzzy_threshold: minimum ``partial_ratio`` score (0-100) of a fuzzy match.

    Returns:
        Matches in page order (exact) or best-first (fuzzy); a match inside the window of the
        previous one is not repeated. Empty when nothing matches.

    Raises:
        ConfigError: empty pattern, negative ``context`` or ``max_matches`` below 1.
    """
    if not pattern or not pattern.strip():
        raise ConfigError("find pattern is empty")
    if context < 0:
        raise ConfigError(f"context must be >= 0, got {context}")
    if max_matches < 1:
        raise ConfigError(f"max_matches must be >= 1, got {max_matches}")
    spans = _exact_spans(text, pattern, context, max_matches)
    if not spans and fuzzy and len(pattern.strip()) >= MIN_FUZZY_LEN:
        spans = _fuzzy_spans(text, pattern, context, max_matches, fuzzy_threshold)
    return [FindMatch(text=text[s:e], start=s, end=e) for s, e in spans]


def _exact_spans(text: str, pattern: str, context: int, limit: int) -> list[tuple[int, int]]:
    regex = re.compile(r"\s+".join(re.escape(w) for w in pattern.split()), re.IGNORECASE)
    spans: list[tuple[int, int]] = []
    for m in regex.finditer(text):
        if spans and m.end() <= spans[-1][1]:
            continue  # already shown in the previous window
        spans.append(_window(text, m.start(), m.end(), context))
        if len(spans) >= limit:
            break
    return spans


def _fuzzy_spans(
    text: str, pattern: str, context: int, limit: int, threshold: float
) -> list[tuple[int, int]]:
    from rapidfuzz import fuzz

    needle = " ".join(pattern.lower().split())
    scored: list[tuple[float, int, int]] = []
    for start, end in _sentence_windows(text):
        window = text[start:end].lower()
        align = fuzz.partial_ratio_alignment(needle, window, score_cutoff=threshold)
        if align is not None:
            scored.append((align.score, start + align.dest_start, start + align.dest_end))
    scored.sort(key=lambda t: (-t[0], t[1]))
    spans: list[tuple[int, int]] = []
    for _, s, e in scored:
        if any(s < we and e > ws for ws, we in spans):
            continue
        spans.append(_window(text, s, e, context))
        if len(spans) >= limit:
            break
    return spans


def _sentence_windows(text: str) -> list[tuple[int, int]]:
    """Sentence spans, long sentences cut into overlapping windows of at most ``_MAX_WINDOW``."""
    out = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        if not text[s:e].strip():
            continue
        while e - s > _MAX_WINDOW:
            out.append((s, s + _MAX_WINDOW))
            s += _MAX_WINDOW // 2
        out.append((s, e))
    return out


def _window(text: str, start: int, end: int, context: int) -> tuple[int, int]:
    """``[start - context, end + context]`` clipped to the text, moved off split words."""
    s, e = max(0, start - context), min(len(text), end + context)
    if s > 0 and not text[s - 1].isspace():
        nxt = _next_space(text, s, start)
        s = nxt if nxt is not None else s
    if e < len(text) and not text[e].isspace():
        prv = text.rfind(" ", end, e)
        e = prv if prv >= end else e
    while s < start and text[s].isspace():
        s += 1
    while e > end and text[e - 1].isspace():
        e -= 1
    return s, e


def _next_space(text: str, lo: int, hi: int) -> int | None:
    for i in range(lo, hi):
        if text[i].isspace():
            return i + 1
    return None


__all__ = ["FUZZY_THRESHOLD", "find_in_text"]
