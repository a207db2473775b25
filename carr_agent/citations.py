"""Citations in a final answer: the body the judges read and the ``[label](url)`` links in it.

The one home of the citation syntax, shared by the agent graph (which resolves an answer's
citations against its ledger) and the rewards (which judge the cited evidence); neither imports
the other.

Only the body counts: everything after the last ``References`` heading is dropped (a reference
list proves nothing about which statement a source supports). Unlike the reference code, whose
regex only accepts ``[n](url)`` followed by ``]`` or ``,``, any markdown link to an http(s) URL in
the body is a citation: ``[4](url)``, ``[[4](url)]``, ``[Wikipedia](<url>)``, URLs with balanced
parentheses (``.../Mercury_(planet)``) and ``view-source:`` / reader-prefixed URLs. Image links
(``![alt](url)``) are not citations. URLs are matched by :func:`carr_agent.urls.normalize_url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from carr_agent.urls import normalize_url, strip_wrappers

#: A ``References`` heading line (any heading level; ``Sources`` is not special-cased on purpose:
#: the answer format names ``## References``).
_REFERENCES_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*References\b[^\n]*$", re.M | re.I)
_LINK_OPEN = re.compile(r"\[([^\[\]\n]*)\]\(")
_URL_START = re.compile(r"^(?:view-source:)?https?://", re.I)
_TARGET_STOP = re.compile(r"[()\s]")
_PLAIN_TARGET = re.compile(r"[^()\s]*")


@dataclass(frozen=True, slots=True)
class Citation:
    """One markdown link in the answer body.

    Attributes:
        label: the link text, e.g. ``"4"``.
        url: the URL as written (angle brackets and surrounding whitespace removed).
    """

    label: str
    url: str

    @property
    def key(self) -> str:
        """The normalised URL used to match this citation against observations."""
        return normalize_url(self.url)


def answer_body(answer_text: str) -> str:
    """Return the answer without its reference list (text after the last References heading).

    The reference server cuts at the last occurrence of the string ``## References``; this cuts at
    the last *heading line* named References, so a sentence mentioning "## References" inline does
    not truncate the body.
    """
    headings = list(_REFERENCES_HEADING.finditer(answer_text))
    if not headings:
        return answer_text.strip()
    return answer_text[: headings[-1].start()].strip()


def extract_citations(answer_text: str) -> list[Citation]:
    """All ``[label](http…)`` links in the answer body, in order of appearance (duplicates kept).

    Linear in the length of the answer: each link destination is read once, and a destination
    never extends past the ``](`` of the next link (such text is not a URL; the later link is read
    on its own).
    """
    body = answer_body(answer_text)
    opens = [(m.start(), m.end(), m.group(1)) for m in _LINK_OPEN.finditer(body)]
    opens.append((len(body), len(body), ""))
    out: list[Citation] = []
    for n in range(len(opens) - 1):
        start, end, label = opens[n]
        if start > 0 and body[start - 1] == "!":
            continue  # an image, not a citation
        url = _read_link_target(body, end, opens[n + 1][1])
        if url is not None and _URL_START.match(url):
            out.append(Citation(label=label.strip(), url=strip_wrappers(url)))
    return out


def cited_urls(answer_text: str) -> list[str]:
    """Distinct cited URLs (first-written form), in order of first citation; variants merged."""
    seen: set[str] = set()
    urls: list[str] = []
    for url in dict.fromkeys(c.url for c in extract_citations(answer_text)):
        key = normalize_url(url)
        if key not in seen:
            seen.add(key)
            urls.append(url)
    return urls


def _read_link_target(text: str, i: int, limit: int) -> str | None:
    """Read a link destination starting right after ``(``; None when there is none.

    The destination is ``<...>`` (up to the first ``>`` on the same line) or runs to the first
    whitespace or the first unbalanced ``)``. ``limit`` is where the next link's destination
    starts: a destination that would reach it is not one (None). Reaching the end of the text
    ends the destination (an answer cut off mid-link still cites it).
    """
    if i < len(text) and text[i] == "<":
        end = text.find(">", i + 1, limit)
        if end == -1 or text.find("\n", i + 1, end) != -1:
            return None
        return text[i + 1 : end].strip()
    j = _PLAIN_TARGET.match(text, i, limit).end()  # type: ignore[union-attr]
    if j == len(text) or text[j] != "(":  # the common case: no parentheses in the URL
        return text[i:j] if j > i else None
    depth = 0
    end = limit
    for token in _TARGET_STOP.finditer(text, i, limit):
        ch = token.group()
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        else:  # whitespace or an unbalanced ")"
            end = token.start()
            break
    else:
        if limit < len(text):
            return None  # it would run into the next link
    if end == i:
        return None
    return text[i:end]
