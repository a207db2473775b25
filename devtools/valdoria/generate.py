"""Write the shipped example data: the Valdoria corpus and its research tasks.

Run once after changing the generator (the output is committed)::

    python -m devtools.valdoria.generate            # writes carr_agent/data/valdoria/
    python -m devtools.valdoria.generate --out DIR  # somewhere else, e.g. to compare

The output is a pure function of the seed: the same seed gives byte-identical files.
``manifest.json`` records counts and hashes. The corpus is plain JSONL (about 3 MB) so that
every corpus reader, the tantivy indexer included, takes it as it is; :func:`iter_corpus` in
:mod:`carr_agent.data` also reads ``.jsonl.gz``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.valdoria.pages import Doc, encyclopedia, forum_threads, news, travel_blogs
from devtools.valdoria.questions import add_leak_threads, build_tasks
from devtools.valdoria.world import build_world

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20260123
MAIN_TASKS = 96
CORPUS_FILE = "corpus.jsonl"
TASKS_FILE = "tasks.jsonl"
DEV_TASKS_FILE = "tasks-dev.jsonl"
MANIFEST_FILE = "manifest.json"
_TASK_KEYS = ("id", "question", "label", "aliases", "rubrics", "entities", "entity_aliases", "hops",
              "traps", "trap_details", "gold_urls", "rubric_urls")


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """Everything the generator produces, in memory."""

    corpus: list[dict[str, str]]
    tasks: list[dict[str, Any]]
    dev_tasks: list[dict[str, Any]]
    page_kinds: dict[str, str]  # url -> wiki | news | blog | forum | blog_wrong | forum_leak


def build(seed: int = DEFAULT_SEED, main_tasks: int = MAIN_TASKS) -> Dataset:
    """Build the world, render its pages, derive tasks and trap pages, and check them."""
    world = build_world(seed)
    docs: list[Doc] = [*encyclopedia(world, seed), *news(world, seed), *travel_blogs(world, seed),
                       *forum_threads(world, seed)]
    main, dev, trap_docs = build_tasks(world, seed, main_tasks, lambda: docs)
    leak_docs = add_leak_threads(world, seed, dev + main, start=0)
    docs += trap_docs + leak_docs
    random.Random(f"{seed}:order").shuffle(docs)
    _check_unique_urls(docs)
    _check_leaks(docs, dev + main)
    order = {k: i for i, k in enumerate(_TASK_KEYS)}
    tidy = [dict(sorted(t.items(), key=lambda kv: order[kv[0]])) for t in main + dev]
    return Dataset(corpus=[d.line() for d in docs], tasks=tidy[: len(main)],
                   dev_tasks=tidy[len(main):], page_kinds={d.url: d.kind for d in docs})


def _check_unique_urls(docs: list[Doc]) -> None:
    dup = [u for u, n in Counter(d.url for d in docs).items() if n > 1]
    if dup:
        raise RuntimeError(f"duplicate page URLs: {dup[:5]}")


def _check_leaks(docs: list[Doc], tasks: list[dict[str, Any]]) -> None:
    """Only leak threads may quote a question (by the leakage guard's rule).

    A thread may also match another task whose question shares a 13-token phrase with the one
    it quotes; the guard then hides it for both tasks, which is harmless.
    """
    from carr_agent.text import tokenize
    from carr_agent.tools.leakage import NGRAM

    grams: dict[tuple[str, ...], str] = {}
    short: dict[str, str] = {}
    for t in tasks:
        toks = tokenize(t["question"])
        if len(toks) >= NGRAM:
            for i in range(len(toks) - NGRAM + 1):
                grams[tuple(toks[i:i + NGRAM])] = t["id"]
        else:
            short[" " + " ".join(toks) + " "] = t["id"]
    for d in docs:
        if d.kind == "forum_leak":
            continue
        toks = tokenize(d.title + "\n" + d.text)
        hits = {grams[g] for i in range(len(toks) - NGRAM + 1)
                if (g := tuple(toks[i:i + NGRAM])) in grams}
        joined = " " + " ".join(toks) + " "
        hits |= {tid for s, tid in short.items() if s in joined}
        if hits:
            raise RuntimeError(f"page {d.url} quotes the question of {sorted(hits)}")


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def write(ds: Dataset, out_dir: Path, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write the files and the manifest; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = _jsonl(ds.corpus)
    (out_dir / CORPUS_FILE).write_bytes(corpus)
    tasks, dev = _jsonl(ds.tasks), _jsonl(ds.dev_tasks)
    (out_dir / TASKS_FILE).write_bytes(tasks)
    (out_dir / DEV_TASKS_FILE).write_bytes(dev)
    manifest = {
        "seed": seed,
        "pages": len(ds.corpus),
        "page_kinds": dict(sorted(Counter(ds.page_kinds.values()).items())),
        "tasks": len(ds.tasks),
        "dev_tasks": len(ds.dev_tasks),
        "hops": dict(sorted(Counter(str(t["hops"]) for t in ds.tasks).items())),
        "traps": dict(sorted(Counter(x for t in ds.tasks for x in t["traps"]).items())),
        "sha256": {CORPUS_FILE: hashlib.sha256(corpus).hexdigest(),
                   TASKS_FILE: hashlib.sha256(tasks).hexdigest(),
                   DEV_TASKS_FILE: hashlib.sha256(dev).hexdigest()},
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


#: Where the package ships the data (``carr_agent/data/valdoria``).
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "carr_agent" / "data" / "valdoria"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--tasks", type=int, default=MAIN_TASKS, help="number of main tasks")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR,
                        help="output directory (default: the package's shipped data)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = write(build(args.seed, args.tasks), args.out, args.seed)
    logger.info("wrote %s: %s", args.out, json.dumps(manifest))


if __name__ == "__main__":
    main()
