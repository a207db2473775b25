"""The text contract of tool observations: render for the model, parse back from histories.

The formats are the reference's (the reference implementation, github.com/THUDM/CaRR) so trajectories from
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

_HIT_LINE = re.compile(r"^\[(\d{1,9})\] (Title|URL Source|Description|Date): ?(.*)$")
_MATCH_HEADER = re.compile(r"^\[Match (\d+)\]$", re.M)
_CONTENT_LINE = re.compile(r"^Markdown Content:[ \t]*(?:\n|\Z)", re.M)
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

    A hit without a usable ``URL Source:`` line is left out; the others are kept (see
    :func:`parse_search_blocks` to learn which indices were left out).
    """
    return [hit for _, hit in parse_search_blocks(text) if hit is not None]


def parse_search_blocks(text: str) -> list[tuple[int, Hit | None]]:
    """``(index shown to the model, hit)`` for every hit block of a search observation, in index
    order; the hit is None when its block has no usable ``URL Source:`` line.

    The URL is the first whitespace-separated token of the ``URL Source:`` line: text after it
    (``https://a.org/x (redirected)``) is not part of the URL.
    """
    fields: dict[int, dict[str, str]] = {}
    wrapped: dict[int, list[str]] = {}
    last: tuple[int, str] | None = None
    for line in text.splitlines():
        m = _HIT_LINE.match(line)
        if m:
            idx, key, value = int(m.group(1)), m.group(2), m.group(3)
            fields.setdefault(idx, {})[key] = value
            if key == "Description":
                wrapped[idx] = [value]
            last = (idx, key)
        elif last is not None and line.strip() and last[1] == "Description":
            # a description that wrapped onto following lines (other stacks do this)
            wrapped[last[0]].append(line.strip())
    for idx, parts in wrapped.items():
        fields[idx]["Description"] = " ".join(parts)
    blocks: list[tuple[int, Hit | None]] = []
    for idx in sorted(fields):
        block = fields[idx]
        url = first_token(block.get("URL Source", ""))
        hit = None
        if url:
            hit = Hit(
                url=url,
                title=block.get("Title", "").strip(),
                snippet=block.get("Description", "").strip(),
                date=(block.get("Date") or "").strip() or None,
            )
        blocks.append((idx, hit))
    return blocks


def first_token(value: str) -> str:
    """The first whitespace-separated token of ``value`` (``""`` when there is none)."""
    parts = value.split(maxsplit=1)
    return parts[0] if parts else ""


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

    The URL is the first token of the ``URL Source:`` line (trailing text such as
    ``(redirected)`` is dropped).

    Raises:
        HistoryFormatError: the text has no ``URL Source:`` header line.
    """
    m = _CONTENT_LINE.search(text)  # a line of its own: a title may say "Markdown Content:"
    if m is not None:
        head, body = text[: m.start()], text[m.end():]
    else:
        head, _, body = text.partition("Markdown Content:")
    meta: dict[str, str] = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() in {"Title", "URL Source", "Published Time"}:
            meta[key.strip()] = value.strip()
    url = first_token(meta.get("URL Source", ""))
    if not url:
        raise HistoryFormatError("page observation has no 'URL Source:' line")
    return Page(
        url=url,
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
