"""Text normalisation shared by the deterministic judge and relevant-passage selection.

Normalised form: Unicode NFKC, accents removed, casefolded, punctuation folded to spaces,
whitespace collapsed; numbers canonicalised so that ``1,234`` = ``1234`` and ``14.0`` = ``14``.
Matching is on whole tokens (``"1"`` does not match inside ``"1994"``).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
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
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the regex only passes numbers
        return text
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def normalize_text(text: str) -> str:
    """Casefolded, accent-free, punctuation-folded text with canonical numbers."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
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
