"""Query-biased snippets that are exact, single-line substrings of the page text.

The citation ledger records what the model was shown with its offsets in the page, and the search
observation prints each snippet on one line. So a snippet here is always a run of the page text
that contains no line break, tab or double space (it renders unchanged) and comes with its
``(start, end)`` offsets: the best-matching sentence, cut to a window around its first matching
word when the sentence is long.
"""

from __future__ import annotations

import re
import unicodedata

from carr_agent.text import TOKEN_RE, tokenize

#: Default longest snippet, in characters.
MAX_SNIPPET = 300
_CHUNK = re.compile(r"\S+(?: \S+)*")                  # words separated by single spaces only
_SENTENCE_END = re.compile(r"[.!?]+(?= )|[。！？]+")
_STOP = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "has",
     "have", "how", "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was",
     "were", "what", "when", "where", "which", "who", "whom", "whose", "why", "with")
)


def best_snippet(text: str, query: str, *, max_chars: int = MAX_SNIPPET) -> tuple[int, int]:
    """Offsets ``(start, end)`` of the best single-line snippet of ``text`` for ``query``.

    Sentences are scored by the distinct query words they contain (stop words count little,
    prefixes match so "events" finds "event"); ties go to the earlier sentence. The winner is
    widened with its neighbours on the same line while it stays short, so an abbreviation such as
    "vs." does not leave a fragment. Without any match the page's opening is used.
    ``text[start:end]`` never contains a line break or double space. Returns ``(0, 0)`` for a text
    without words.
    """
    terms = {t: (0.1 if t in _STOP else 1.0) for t in tokenize(query)}
    best: tuple[float, int, int, list[tuple[int, int]]] | None = None  # score, sentence, focus, line
    for chunk in _CHUNK.finditer(text):
        sentences = _sentences(chunk.group(), chunk.start())
        if not terms:
            best = (0.0, 0, sentences[0][0], sentences)
            break
        for i, (s, e) in enumerate(sentences):
            score, pos = _score(text[s:e], terms)
            if score > 0 and (best is None or score > best[0]):
                best = (score, i, s + pos, sentences)
    if best is None:
        first = _CHUNK.search(text)
        if first is None:
            return 0, 0
        sentences = _sentences(first.group(), first.start())
        best = (0.0, 0, sentences[0][0], sentences)
    _, i, focus, sentences = best
    start, end = _widen(sentences, i, max_chars)
    return _clip(text, start, end, focus, max_chars)


def _widen(sentences: list[tuple[int, int]], i: int, max_chars: int) -> tuple[int, int]:
    lo = hi = i
    target = max_chars * 2 // 3
    while sentences[hi][1] - sentences[lo][0] < target:
        if lo > 0 and sentences[hi][1] - sentences[lo - 1][0] <= max_chars:
            lo -= 1
        elif hi + 1 < len(sentences) and sentences[hi + 1][1] - sentences[lo][0] <= max_chars:
            hi += 1
        else:
            break
    return sentences[lo][0], sentences[hi][1]


def _sentences(chunk: str, offset: int) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in _SENTENCE_END.finditer(chunk):
        out.append((start, m.end()))
        start = m.end()
    out.append((start, len(chunk)))
    spans = []
    for s, e in out:
        while s < e and chunk[s] == " ":
            s += 1
        if s < e:
            spans.append((offset + s, offset + e))
    return spans


def _score(sentence: str, terms: dict[str, float]) -> tuple[float, int]:
    found: dict[str, int] = {}
    for m in TOKEN_RE.finditer(sentence):
        tok = unicodedata.normalize("NFKC", m.group()).lower()
        for term in terms:
            if term not in found and _matches(tok, term):
                found[term] = m.start()
    if not found:
        return 0.0, 0
    return sum(terms[t] for t in found), min(found.values())


def _matches(token: str, term: str) -> bool:
    if token == term:
        return True
    if len(term) >= 4 and len(token) >= 4:
        return token.startswith(term) or term.startswith(token)
    return False


def _clip(text: str, start: int, end: int, focus: int, max_chars: int) -> tuple[int, int]:
    """Cut ``[start, end)`` to at most ``max_chars`` around ``focus``, on word boundaries."""
    if end - start <= max_chars:
        return start, end
    s = max(start, min(focus - max_chars // 3, end - max_chars))
    e = min(end, s + max_chars)
    if s > start and text[s - 1] != " ":
        nxt = text.find(" ", s, focus)
        s = nxt + 1 if nxt != -1 else s
    if e < end and text[e] != " ":
        prv = text.rfind(" ", max(s, focus), e)
        e = prv if prv > s else e
    return s, e


__all__ = ["MAX_SNIPPET", "best_snippet"]
