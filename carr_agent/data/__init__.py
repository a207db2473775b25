"""The shipped example data: the Valdoria corpus and multi-hop research tasks over it.

Valdoria is a fictional region. Its encyclopedia (``valdopedia.example``), a news site
(``valdoria-herald.example``), two travel blogs and a quiz forum (all reserved ``.example``
domains) make up an offline corpus of a few thousand pages; ``tasks.jsonl`` holds multi-hop
questions over it with CaRR rubrics, gold entity values and deliberate traps (near-duplicate
names, a forum thread quoting the question, a blog stating a wrong fact). ``tasks-dev.jsonl``
holds a handful of easy two-hop tasks for tests, demos and the CPU training recipe.

Everything here is a path helper or a pure reader: nothing happens at import. The files are
package data, found with :mod:`importlib.resources` so they work from an installed wheel. They
are written by the repository's generator (``python -m devtools.valdoria.generate``), which is
not part of the installed package.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TextIO

from carr_agent.errors import CorpusError, DataError

DATASET = "valdoria"

#: The README's main job: two hops, answerable by searching its own words and opening one page.
DEMO_QUESTION = "In which town was the composer of the Ember Suite born?"
#: Its gold answer (the ``label`` of task ``vd-dev-001``).
DEMO_ANSWER = "Kessmar"


def _data_file(name: str) -> Path:
    # The package is always installed as files (pyproject ships data/**/* and no zip import),
    # so the traversable is a real path.
    return Path(str(resources.files(__package__).joinpath(DATASET, name)))


def example_corpus_path() -> Path:
    """The shipped corpus: JSONL lines ``{"url", "title", "text", "date"}``."""
    return _data_file("corpus.jsonl")


def example_tasks_path(split: Literal["all", "dev"] = "all") -> Path:
    """The shipped task file: ``"all"`` is the main set, ``"dev"`` the small easy set."""
    if split == "all":
        return _data_file("tasks.jsonl")
    if split == "dev":
        return _data_file("tasks-dev.jsonl")
    raise DataError(f"unknown task split {split!r}; expected 'all' or 'dev'")


def _open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def iter_corpus(path: str | Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield the pages of a corpus JSONL (``.jsonl`` or ``.jsonl.gz``); default: the example.

    Raises:
        CorpusError: the file is missing, or a line is not a JSON object with ``url`` and
            ``text`` strings (the message names the line).
    """
    path = Path(path) if path is not None else example_corpus_path()
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}")
    with _open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not all(
                isinstance(row.get(k), str) for k in ("url", "text")
            ):
                raise CorpusError(f"{path}:{n}: expected an object with string 'url' and 'text'")
            yield row


def iter_tasks(split: Literal["all", "dev"] = "all") -> Iterator[dict[str, Any]]:
    """Yield the raw task objects of a shipped split (one JSON object per line)."""
    with example_tasks_path(split).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


__all__ = [
    "DEMO_ANSWER",
    "DEMO_QUESTION",
    "example_corpus_path",
    "example_tasks_path",
    "iter_corpus",
    "iter_tasks",
]
