"""Text normalisation shared by the deterministic judge and relevant-passage selection.

Normalised form: Unicode NFKC, accents removed, casefolded, punctuation folded to spaces,
whitespace collapsed; numbers canonicalised so that ``1,234`` = ``1234`` and ``14.0`` = ``14``.
Matching is on whole tokens (``"1"`` does not match inside ``"1994"``).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
#: Texts longer than this are normalised piece by piece.
_PIECE = 65_536
#: No code point above this has a combining class (Unicode 15: the last is U+1E94A).
_LAST_COMBINING = 0x1FFFF
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+", re.UNICODE)

#: Small English stop-word list: words that carry no checkable content in a rubric statement.
STOPWORDS = frozenset(
    """a an the and or but nor of in on at to for from by with without as is are was were be been
    being has have had having do does did this that these those it its it's he she they them his
    her hers their theirs him we us our you your i me my which who whom whose what when where why
    how than then there here also not no yes so such same other another into onto over under
    about after before between during within while both each either neither any all some more
    most only very can could would should will shall may might must one s""".split()  # noqa: SIM905
)


def _canonical_number(text: str) -> str:
    """``1,234`` → ``1234``, ``14.0`` → ``14``, ``007.50`` → ``7.5``: exact for any number of
    digits (digit strings from an answer are compared as text, never converted to a number)."""
    whole, _, fraction = text.replace(",", "").partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


@functools.cache
def _combining_marks() -> dict[int, None]:
    """``str.translate`` table deleting every combining mark (built once, on first use)."""
    return {cp: None for cp in range(_LAST_COMBINING + 1) if unicodedata.combining(chr(cp))}


def remove_combining_marks(text: str) -> str:
    """``text`` without combining marks (accents once decomposed by NFD/NFKD)."""
    return text if text.isascii() else text.translate(_combining_marks())


def normalize_text(text: str) -> str:
    """Casefolded, accent-free, punctuation-folded text with canonical numbers.

    Long texts are normalised in pieces cut at whitespace (tokens never span whitespace, so the
    result is the same): no single step holds the interpreter for long, which keeps a server
    scoring a huge answer in a worker thread responsive.
    """
    if len(text) <= _PIECE:
        return _normalize_piece(text)
    pieces = []
    start = 0
    while start < len(text):
        end = start + _PIECE
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut <= start:  # no break in this window: run to the next one (a single token)
                later = [i for i in (text.find(" ", end), text.find("\n", end)) if i != -1]
                cut = min(later) if later else len(text) - 1
            end = cut + 1
        pieces.append(_normalize_piece(text[start:end]))
        start = end
    return " ".join(p for p in pieces if p)


def _normalize_piece(text: str) -> str:
    if not text.isascii():  # ASCII is its own NFKC/NFKD form, without combining marks
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
        text = remove_combining_marks(text)
    text = _NUMBER.sub(lambda m: " " + _canonical_number(m.group(0)) + " ", text.casefold())
    return " ".join(_TOKEN.findall(text))


def tokens(text: str) -> list[str]:
    """Normalised tokens of ``text``."""
    return normalize_text(text).split()


def content_tokens(text: str) -> list[str]:
    """Normalised tokens minus stop words, distinct, in order."""
    return list(dict.fromkeys(t for t in tokens(text) if t not in STOPWORDS))


def contains_phrase(haystack_norm: str, needle: str) -> bool:
    """Whether ``needle`` occurs in an already-normalised haystack as a whole-token sequence."""
    needle_norm = normalize_text(needle)
    if not needle_norm:
        return False
    return f" {needle_norm} " in f" {haystack_norm} "
