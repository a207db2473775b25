"""Offline search backend: build time, index size and query latency vs baseline libraries.

Builds the same synthetic corpus (Zipf-distributed vocabulary, 60-120 words a passage) into
carr_agent's ``CorpusIndex`` (tantivy) and, in the same run, into the baselines: bm25s (numpy
backend), SQLite FTS5 (stdlib) and rank_bm25 (pure Python; only up to ``--rank-bm25-max``).
Queries are 2-4 words drawn from the corpus; "common" queries use only frequent words (worst case).

    python benchmarks/bench_search.py --sizes 10000 100000 [1000000] --queries 200
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import summarize_ms, write_results

_TOKEN = re.compile(r"\w+")


def make_vocab(n: int, rng: random.Random) -> list[str]:
    syll = ["ka", "lo", "mi", "ra", "ten", "vor", "ul", "se", "dra", "pin", "qu", "bel", "on", "ith",
            "ar", "es", "tor", "lin", "mau", "ze"]
    words: set[str] = set()
    while len(words) < n:  # 20 syllables, 2-5 of them: ~3.4M possible words
        words.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 5))))
    return sorted(words)


def make_corpus(path: Path, size: int, vocab: list[str], seed: int = 0) -> None:
    rng = random.Random(seed)
    cum = list(itertools.accumulate(1 / (i + 1) for i in range(len(vocab))))  # Zipf
    with path.open("w") as fh:
        for i in range(size):
            words = rng.choices(vocab, cum_weights=cum, k=rng.randint(60, 120))
            title = " ".join(rng.choices(vocab, cum_weights=cum, k=3)).title()
            doc = {"url": f"https://bench.example/doc/{i}", "title": title,
                   "text": " ".join(words) + ".", "date": "2024-01-01"}
            fh.write(json.dumps(doc) + "\n")


def make_queries(vocab: list[str], n: int, *, common: bool, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    pool = vocab[:30] if common else vocab[30:3000]
    return [" ".join(rng.sample(pool, rng.randint(2, 4))) for _ in range(n)]


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def time_queries(search: Callable[[str], object], queries: list[str]) -> dict[str, float]:
    for q in queries[:5]:
        search(q)  # warm
    samples = []
    for q in queries:
        t = time.perf_counter()
        search(q)
        samples.append(time.perf_counter() - t)
    return summarize_ms(samples)


def bench_carr(corpus: Path, work: Path, queries: dict[str, list[str]]) -> dict:
    from carr_agent.tools.corpus import CorpusIndex

    t = time.perf_counter()
    index = CorpusIndex.build(corpus, work / "carr-index")
    build = time.perf_counter() - t
    row = {"engine": "carr_agent CorpusIndex (tantivy)", "build_s": round(build, 2),
           "size_mib": round(dir_size(work / "carr-index") / 2**20, 1)}
    for kind, qs in queries.items():
        row |= {f"{kind}_{k}": v for k, v in time_queries(lambda q: index.search(q, 10), qs).items()}
    return row


def _docs(corpus: Path) -> tuple[list[str], list[str]]:
    texts, urls = [], []
    with corpus.open() as fh:
        for line in fh:
            d = json.loads(line)
            texts.append(d["title"] + " " + d["text"])
            urls.append(d["url"])
    return texts, urls


def bench_bm25s(corpus: Path, work: Path, queries: dict[str, list[str]]) -> dict:
    import bm25s

    texts, _ = _docs(corpus)
    t = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, show_progress=False), show_progress=False)
    retriever.save(work / "bm25s")
    build = time.perf_counter() - t
    row = {"engine": "bm25s (numpy, no snippets)", "build_s": round(build, 2),
           "size_mib": round(dir_size(work / "bm25s") / 2**20, 1)}

    def search(q: str) -> object:
        return retriever.retrieve(bm25s.tokenize([q], show_progress=False), k=10, show_progress=False)

    for kind, qs in queries.items():
        row |= {f"{kind}_{k}": v for k, v in time_queries(search, qs).items()}
    return row


def bench_fts5(corpus: Path, work: Path, queries: dict[str, list[str]]) -> dict:
    db = work / "fts.sqlite"
    t = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("CREATE VIRTUAL TABLE d USING fts5(url UNINDEXED, title, text)")
    with corpus.open() as fh:
        con.executemany("INSERT INTO d VALUES (?,?,?)",
                        ((x["url"], x["title"], x["text"]) for x in map(json.loads, fh)))
    con.commit()
    build = time.perf_counter() - t
    row = {"engine": "SQLite FTS5 bm25() (OR)", "build_s": round(build, 2),
           "size_mib": round(dir_size(db) / 2**20, 1)}

    def search(q: str) -> object:
        expr = " OR ".join(_TOKEN.findall(q))
        return con.execute("SELECT url, snippet(d, 2, '', '', '…', 12) FROM d WHERE d MATCH ? "
                           "ORDER BY bm25(d) LIMIT 10", (expr,)).fetchall()

    for kind, qs in queries.items():
        row |= {f"{kind}_{k}": v for k, v in time_queries(search, qs).items()}
    con.close()
    return row


def bench_rank_bm25(corpus: Path, work: Path, queries: dict[str, list[str]]) -> dict:
    from rank_bm25 import BM25Okapi

    texts, _ = _docs(corpus)
    t = time.perf_counter()
    bm = BM25Okapi([s.lower().split() for s in texts])
    build = time.perf_counter() - t
    row = {"engine": "rank_bm25 (pure Python, in memory)", "build_s": round(build, 2), "size_mib": None}

    def search(q: str) -> object:
        return bm.get_top_n(q.lower().split(), texts, n=10)

    for kind, qs in queries.items():
        row |= {f"{kind}_{k}": v for k, v in time_queries(search, qs[:20]).items()}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--rank-bm25-max", type=int, default=20_000)
    ap.add_argument("--engines", nargs="+", default=["carr", "bm25s", "fts5", "rank_bm25"])
    args = ap.parse_args()

    rng = random.Random(0)
    vocab = make_vocab(args.vocab, rng)
    queries = {"rare": make_queries(vocab, args.queries, common=False),
               "common": make_queries(vocab, args.queries, common=True)}
    runners = {"carr": bench_carr, "bm25s": bench_bm25s, "fts5": bench_fts5, "rank_bm25": bench_rank_bm25}
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            corpus = work / "corpus.jsonl"
            make_corpus(corpus, size, vocab)
            for name in args.engines:
                if name == "rank_bm25" and size > args.rank_bm25_max:
                    continue
                row = runners[name](corpus, work, queries)
                rows.append({"passages": size} | row)
                gc.collect()
    cols = ["passages", "engine", "build_s", "size_mib", "rare_p50_ms", "rare_p99_ms",
            "common_p50_ms", "common_p99_ms"]
    write_results("search", rows, params=vars(args), columns=cols,
                  notes="Top-10 queries, one at a time, warm. rank_bm25 timed on 20 queries only.")


if __name__ == "__main__":
    main()
