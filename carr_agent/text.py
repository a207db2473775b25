"""Text tokenisation, in one place.

* Word tokens (:func:`tokenize`, :data:`TOKEN_RE`): lowercase, NFKC-folded runs of letters and
  digits, every CJK character a token of its own. Search (the corpus index's query terms, the
  snippet picker) and the leakage guard read text this way.
* Normalised tokens for matching answers against evidence (accents removed, punctuation folded,
  numbers canonical): :mod:`carr_agent.rewards.textnorm`, the rules the CaRR judges match by.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = (
    "\u3040-\u30ff"          # hiragana, katakana
    "\u3400-\u4dbf"          # CJK extension A
    "\u4e00-\u9fff"          # CJK unified ideographs
    "\uac00-\ud7af"          # hangul syllables
    "\uf900-\ufaff"          # CJK compatibility ideographs
    "\U00020000-\U0002ffff"  # CJK extensions B-F, compatibility supplement
)
#: A CJK character, or a run of letters/digits without CJK characters.
TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
#: A run of CJK characters.
CJK_RUN_RE = re.compile(rf"[{_CJK}]+")


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens of ``text``; every CJK character is a token of its own.

    NFKC folding first makes full-width Latin letters and digits match their ASCII forms.
    """
    return TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower())


__all__ = ["CJK_RUN_RE", "TOKEN_RE", "tokenize"]
