"""The text contract of tool observations: render for the model, parse back from histories.

The formats are the reference's (``/work/shared/spec/reference-protocol.md``) so trajectories from
this project and from the reference stack read the same. ``parse_*`` is the exact inverse of
``render_*`` for everything ``render_*`` produces (round-trip tested); the parsers are also lenient
with histories written by other stacks (missing ``Date:`` lines, extra blank lines).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from carr_agent.errors import HistoryFormatError
from carr_agent.types import Hit, Page

_HIT_LINE = re.compile(r"^\[(\d+)\] (Title|URL Source|Description|Date): ?(.*)$")
_MATCH_HEADER = re.compile(r"^\[Match (\d+)\]$", re.M)
NO_RESULTS = "No results found."
NO_MATCHES = "No matches found."


def render_search(hits: Sequence[Hit]) -> str:
    """Render hits as numbered blocks: ``[i] Title:``, ``URL Source:``, ``Description:``, ``Date:``."""
    if not hits:
        return NO_RESULTS
    blocks = []
    for i, hit in enumerate(hits):
        lines = [
            f"[{i}] Title: {_one_line(hit.title)}",
            f"[{i}] URL Source: {hit.url}",
            f"[{i}] Description: {_one_line(hit.snippet)}",
        ]
        if hit.date:
            lines.append(f"[{i}] Date: {hit.date}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def parse_search(text: str) -> list[Hit]:
    """Parse a rendered search observation back into hits (in index order).

    Raises:
        HistoryFormatError: the text has hit lines but a hit lacks its URL.
    """
    fields: dict[int, dict[str, str]] = {}
    last: tuple[int, str] | None = None
    for line in text.splitlines():
        m = _HIT_LINE.match(line)
        if m:
            idx, key, value = int(m.group(1)), m.group(2), m.group(3)
            fields.setdefault(idx, {})[key] = value
            last = (idx, key)
        elif last is not None and line.strip() and last[1] == "Description":
            # a description that wrapped onto following lines (other stacks do this)
            fields[last[0]]["Description"] += " " + line.strip()
    hits = []
    for idx in sorted(fields):
        block = fields[idx]
        if "URL Source" not in block:
            raise HistoryFormatError(f"search result [{idx}] has no 'URL Source:' line")
        hits.append(
            Hit(
                url=block["URL Source"].strip(),
                title=block.get("Title", "").strip(),
                snippet=block.get("Description", "").strip(),
                date=(block.get("Date") or "").strip() or None,
            )
        )
    return hits


def render_page(page: Page, *, budget: int | None = None) -> tuple[str, str]:
    """Render an opened page; returns ``(observation, shown_text)``.

    ``shown_text`` is the page text as shown (``page.text[:budget]``): what the ledger records.
    """
    shown = page.text if budget is None else page.text[:budget]
    header = [f"Title: {_one_line(page.title)}", f"URL Source: {page.url}"]
    if page.date:
        header.append(f"Published Time: {page.date}")
    header.append("Markdown Content:")
    return "\n".join(header) + "\n" + shown, shown


def parse_page(text: str) -> Page:
    """Parse a rendered page observation (the inverse of :func:`render_page`).

    Raises:
        HistoryFormatError: the text has no ``URL Source:`` header line.
    """
    head, sep, body = text.partition("Markdown Content:\n")
    if not sep:
        head, sep, body = text.partition("Markdown Content:")
    meta: dict[str, str] = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() in {"Title", "URL Source", "Published Time"}:
            meta[key.strip()] = value.strip()
    if "URL Source" not in meta:
        raise HistoryFormatError("page observation has no 'URL Source:' line")
    return Page(
        url=meta["URL Source"],
        title=meta.get("Title", ""),
        text=body,
        date=meta.get("Published Time") or None,
    )


@dataclass(frozen=True, slots=True)
class FindMatch:
    """One ``find`` match: the shown context and its offsets in the page text."""

    text: str
    start: int
    end: int


def render_find(matches: Sequence[FindMatch] | Sequence[str]) -> str:
    """Render find matches as ``[Match 1]`` blocks separated by blank lines."""
    if not matches:
        return NO_MATCHES
    texts = [m.text if isinstance(m, FindMatch) else m for m in matches]
    return "\n\n".join(f"[Match {i}]\n{t}" for i, t in enumerate(texts, start=1))


def parse_find(text: str) -> list[str]:
    """Parse a rendered find observation into the matched context strings."""
    headers = list(_MATCH_HEADER.finditer(text))
    out = []
    for i, h in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        body = text[h.end() + 1 : end]
        if i + 1 < len(headers):
            body = body.removesuffix("\n\n")
        out.append(body)
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())
