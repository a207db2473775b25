"""The leakage guard: hide search hits and pages that quote the question itself.

Benchmark questions are quoted on the web; a page that contains the question usually contains its
answer too, which turns research into lookup. Texts are compared as word tokens
(:func:`carr_agent.text.tokenize`: lowercase, each CJK character a token of its own). A text
leaks a forbidden string ``q`` when

* ``q`` has at least :data:`NGRAM` tokens and shares any ``NGRAM``-token sequence with the text, or
* ``q`` is shorter and its token sequence occurs in the text's token sequence (a substring match of
  the normalised texts on token boundaries, so "cat" does not match "category").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from carr_agent.text import CJK_RUN_RE, TOKEN_RE, tokenize

#: Length of the shared token sequence that counts as a quotation.
NGRAM = 13

class LeakageGuard:
    """Decides whether a text quotes any of the forbidden strings (usually the task's question).

    Args:
        forbidden: the strings to hide; empty strings (no tokens) are ignored.
        ngram: length of the token sequence that counts as a quotation for long strings.

    The forbidden strings are tokenised once; each check is linear in the text's length.
    """

    def __init__(self, forbidden: Sequence[str] | str, *, ngram: int = NGRAM) -> None:
        if isinstance(forbidden, str):
            forbidden = [forbidden]
        if ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {ngram}")
        self.ngram = ngram
        self.forbidden = tuple(forbidden)
        self._grams: set[tuple[str, ...]] = set()
        self._short: list[str] = []
        for item in self.forbidden:
            tokens = tokenize(item)
            if not tokens:
                continue
            if len(tokens) >= ngram:
                self._grams.update(_ngrams(tokens, ngram))
            else:
                self._short.append(" " + " ".join(tokens) + " ")

    def __bool__(self) -> bool:
        return bool(self._grams or self._short)

    def is_leaked(self, text: str | None) -> bool:
        """True when ``text`` quotes a forbidden string (see the module docstring)."""
        if not text or not self:
            return False
        tokens = tokenize(text)
        if self._grams and any(g in self._grams for g in _ngrams(tokens, self.ngram)):
            return True
        if self._short:
            joined = " " + " ".join(tokens) + " "
            return any(s in joined for s in self._short)
        return False

    def any_leaked(self, texts: Iterable[str | None]) -> bool:
        """True when any of ``texts`` leaks (e.g. a hit's title and its snippet)."""
        return any(self.is_leaked(t) for t in texts)


def _ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    return (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


__all__ = ["CJK_RUN_RE", "NGRAM", "TOKEN_RE", "LeakageGuard", "tokenize"]
