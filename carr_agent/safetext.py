"""Text that can always be encoded as UTF-8, for output, storage and display.

Model output and input files can carry lone surrogates (``"\\ud800"`` in JSON decodes to one).
Python strings hold them, but encoding them as UTF-8 fails: printing, writing a file or binding
a SQLite parameter would raise. Two remedies:

* :func:`encodable`: for text shown or stored as text, each lone surrogate becomes U+FFFD;
* :func:`json_dumps`: JSON keeps every character, escaping lone surrogates as ``\\udXXX``
  (``json.loads`` gives the original string back).
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (unchanged when there is none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def json_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **kwargs)``, unless that text holds a lone
    surrogate: then the ASCII form, which escapes it (and round-trips exactly)."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, **kwargs)
    return text


__all__ = ["encodable", "json_dumps"]
