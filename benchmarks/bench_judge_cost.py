"""Judge cost per scored trajectory: this project's evidence construction vs the reference's.

The support judge reads the evidence of the cited URLs; that text dominates the judge's input.
On the SAME trajectories this script builds:

* ``reference``: the reference reward server's construction, rebuilt from the reference-format
  ``history`` (tool outputs): for every cited URL (the reference's citation pattern, raw URL
  strings, at most 20 URLs with content) every search snippet, every opened page as shown (the
  browser truncates pages to 10,000 characters) and every ``find`` output, deduplicated;
* ``full (ledger)``: this project's default, from the citation ledger the ``Browser`` recorded
  (what the agent was shown from each cited source, deduplicated, URLs normalised);
* ``full (parsed history)``: the same construction from ``parse_history`` (histories from other
  stacks): must equal the ledger row;
* ``relevant (ledger)``: ``evidence_mode="relevant"``: sources longer than 6,000 characters cut to
  the 3,000 characters of sentence windows that share the most words with the statements.

Trajectories are generated deterministically by driving the real ``Browser`` over a real
``CorpusIndex`` built from the example corpus, with some gold pages lengthened past 10,000
characters (filler sections appended, or prepended so the facts lie beyond the shown budget):
search (title) → open (by index, or URL) → find (a fact of the statements), a distractor opened
but not cited, an answer citing 2-6 URLs, some citing a URL never returned by a tool, a URL in
a variant spelling (``http://www.…/``), or a page seen only as a search snippet.

The DeterministicJudge decides the support of each gold-filled rubric statement under each
construction; verdicts are compared with the reference's.

    python benchmarks/bench_judge_cost.py --trajectories 96 --long-every 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
from harness import percentile, write_results

from carr_agent.data import example_corpus_path, example_tasks_path, iter_corpus
from carr_agent.errors import ToolError
from carr_agent.rewards.citations import answer_body, cited_urls
from carr_agent.rewards.evidence import build_evidence_context, collect_evidence
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.judges.prompts import (
    identify_entities_prompt,
    outcome_prompt,
    support_prompt,
)
from carr_agent.rewards.rubrics import fill_rubric
from carr_agent.task_files import load_tasks
from carr_agent.tools.browser import Browser
from carr_agent.tools.corpus import CorpusIndex
from carr_agent.types import Hit, LedgerRecord, Page, Task

PAGE_BUDGET = 10_000
MAX_URLS = 20
TOOL_NAMES = {"search": "browser.search", "open": "browser.open", "find": "browser.find"}


# ----------------------------------------------------------------------------- corpus


def write_bench_corpus(out: Path, tasks: Sequence[Task], *, long_every: int, seed: int) -> dict[str, str]:
    """The example corpus with the gold pages of every ``long_every``-th task made longer than
    the 10k-character page budget. Returns ``{url: "append"|"prepend"}`` for the changed pages."""
    rng = random.Random(seed)
    docs = list(iter_corpus(example_corpus_path()))
    texts = [d["text"] for d in docs]
    changed: dict[str, str] = {}
    if long_every > 0:
        for i, task in enumerate(tasks):
            if i % long_every == 0:
                where = "prepend" if (i // long_every) % 2 else "append"
                for url in task.metadata.get("gold_urls", ()):
                    changed.setdefault(url, where)
    with out.open("w", encoding="utf-8") as fh:
        for doc in docs:
            where = changed.get(doc["url"])
            if where:
                filler = _filler(rng, texts, 12_000 + rng.randrange(8_000))
                doc = dict(doc)
                doc["text"] = (doc["text"] + "\n\n" + filler if where == "append"
                               else filler + "\n\n" + doc["text"])
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return changed


def _filler(rng: random.Random, texts: Sequence[str], size: int) -> str:
    """Unrelated encyclopedia-style sections (other pages' prose) of about ``size`` characters."""
    parts: list[str] = []
    total = 0
    while total < size:
        text = rng.choice(texts)
        parts.append(f"Further reading {len(parts) + 1}\n{text}")
        total += len(parts[-1]) + 2
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- trajectories


@dataclass
class Trajectory:
    """One generated run: what the agent saw (ledger), its history and final answer."""

    task: Task
    answer: str
    ledger: list[LedgerRecord]
    history: list[dict[str, Any]]
    statements: list[str]
    kinds: list[str] = field(default_factory=list)


class _Recorder:
    """Drives the Browser and writes the matching reference-format history."""

    def __init__(self, browser: Browser, question: str) -> None:
        self.browser = browser
        self.history: list[dict[str, Any]] = [{"role": "user", "content": question}]
        self.ledger: list[LedgerRecord] = []
        self.hits: list[Hit] = []
        self.page: Page | None = None
        self.step = 0

    def call(self, name: str, args: dict[str, Any]) -> str:
        self.step += 1
        call_id = f"tc-{self.step}"
        self.history.append({"role": "assistant", "content": "", "tool_calls": [
            {"tool_call_id": call_id, "name": TOOL_NAMES[name], "arguments": json.dumps(args)}]})
        try:
            if name == "search":
                obs = self.browser.search(args["query"], args.get("num"), step=self.step)
                self.hits = obs.hits or []
            elif name == "open":
                obs = self.browser.open(args["id"], latest_hits=self.hits, step=self.step)
                if obs.page is not None:
                    self.page = obs.page
            else:
                obs = self.browser.find(args["pattern"], page=self.page, step=self.step)
            text = obs.text
            self.ledger.extend(obs.records)
        except ToolError as exc:
            text = f"Error: {exc}"
        self.history.append({"role": "tool", "content": [{"tool_call_id": call_id, "output": text}]})
        return text


def _find_pattern(statements: Sequence[str], rng: random.Random) -> str:
    numbers = [n for s in statements for n in re.findall(r"\d[\d,]*\d|\d", s)]
    if numbers and rng.random() < 0.7:
        return rng.choice(numbers)
    words = [w for s in statements for w in re.findall(r"[A-Z][a-z]{4,}", s)]
    return rng.choice(words) if words else "born"


def _variant(url: str) -> str:
    """A spelling of ``url`` that normalises to the same source: http, www., trailing slash."""
    return re.sub(r"^https://", "http://www.", url) + "/"


def make_trajectories(
    browser: Browser, tasks: Sequence[Task], titles: Mapping[str, str], *, n: int, seed: int
) -> list[Trajectory]:
    """``n`` deterministic trajectories (cycling over ``tasks``) through the real browser."""
    out = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        rng = random.Random(seed * 100_003 + i)
        statements = [s for s in (fill_rubric(r, dict(task.entities)) for r in task.rubrics) if s]
        gold = list(task.metadata.get("gold_urls", ())) or [task.metadata.get("url", "")]
        cite_n = min(len(gold), rng.randint(2, 6))
        chosen = rng.sample(gold, cite_n)
        rec = _Recorder(browser, task.question)
        kinds: list[str] = []
        cited: list[str] = []
        for j, url in enumerate(chosen):
            rec.call("search", {"query": titles.get(url, url.rsplit("/", 1)[-1].replace("_", " ")),
                                "num": 10})
            idx = next((k for k, h in enumerate(rec.hits) if h.url == url), None)
            if j == 0 and i % 6 == 4 and idx is not None:
                kinds.append("snippet-only")  # cited from its search snippet, never opened
                cited.append(url)
                continue
            rec.call("open", {"id": idx if idx is not None else url})
            rec.call("find", {"pattern": _find_pattern(statements, rng)})
            if j == 0 and len(rec.hits) > 1:  # a distractor, opened but not cited
                other = next((k for k, h in enumerate(rec.hits) if h.url not in gold), None)
                if other is not None:
                    rec.call("open", {"id": other})
            cited.append(url)
        if i % 5 == 2:
            cited[0] = _variant(cited[0])
            kinds.append("variant-url")
        if i % 4 == 1:
            cited.append(f"https://valdopedia.example/wiki/Unseen_source_{i}")
            kinds.append("unseen-url")
        answer = _answer(statements, cited, task.label)
        rec.history.append({"role": "assistant", "content": answer})
        out.append(Trajectory(task, answer, rec.ledger, rec.history, statements, kinds))
    return out


def _answer(statements: Sequence[str], cited: Sequence[str], label: str) -> str:
    lines = []
    for k, statement in enumerate(statements):
        n = k % len(cited)
        lines.append(f"{statement.rstrip('.')} [[{n + 1}]({cited[n]})].")
    for n in range(len(statements), len(cited)):  # every cited URL appears at least once
        lines.append(f"See also [[{n + 1}]({cited[n]})].")
    refs = "\n".join(f"[{n + 1}] {u}" for n, u in enumerate(cited))
    return ("## Explanation with Citations\n" + " ".join(lines) + f"\n\n## Exact Answer\n{label}\n\n"
            f"## References\n{refs}\n")


# ----------------------------------------------------------------------------- constructions

_REF_CITATION = re.compile(r"\[\d+\]\((?:view-source:)?(https?://.+?)\)[\],]")
_REF_HIT = re.compile(
    r"\[(\d+)\]\sTitle:\s(.+?)\s*\[\1\]\sURL\sSource:\s(.+?)\s*\[\1\]\sDescription:\s(.+?)\s*"
    r"(?:\[\1\]\sDate:\s(.+?))?\s*(?=\[\d+\]\sTitle:|\Z)", re.S)


def reference_context(answer: str, history: Sequence[Mapping[str, Any]], max_urls: int = MAX_URLS) -> str:
    """The reference server's citation context, rebuilt from the history's tool outputs.

    Cited URLs are taken with the reference's pattern (``[n](url)`` followed by ``]`` or ``,``)
    and matched by exact string; the find output is attributed to the last opened page; snippets,
    page contents and find outputs are each deduplicated across the whole context.
    """
    urls = list(dict.fromkeys(u.replace("view-source:", "") for u in _REF_CITATION.findall(answer)))
    if not urls:
        return ""
    seen: dict[str, dict[str, Any]] = {}
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    current = None

    def entry(url: str, title: str = "", date: str = "") -> dict[str, Any]:
        if url not in seen:
            seen[url] = {"title": title, "date": date, "snippets": [], "pages": [], "finds": []}
        return seen[url]

    for message in history:
        if message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                calls[call["tool_call_id"]] = (call["name"], json.loads(call["arguments"]))
        elif message.get("role") == "tool":
            for item in message["content"]:
                output = item.get("output", "")
                if "tool_call_id" not in item or not output.strip():
                    continue
                name, args = calls[item["tool_call_id"]]
                if name == "browser.search":
                    for m in _REF_HIT.finditer(output):
                        e = entry(m.group(3).strip(), m.group(2).strip(), (m.group(5) or "").strip())
                        e["snippets"].append(m.group(4).strip())
                elif name == "browser.open":
                    title = re.search(r"Title:\s*(.+)", output)
                    url = re.search(r"URL Source:\s*(\S+)", output)
                    date = re.search(r"Published Time:\s*([^\n]+)", output)
                    body = re.search(r"Markdown Content:\s*(.*)", output, re.S)
                    current = url.group(1).strip() if url else ""
                    e = entry(current, title.group(1).strip() if title else "",
                              date.group(1).strip() if date else "")
                    e["pages"].append(body.group(1).strip() if body else "")
                elif name == "browser.find":
                    entry(current or "")["finds"].append((args.get("pattern", ""), output))
    out: list[str] = []
    done: dict[str, set[str]] = {"s": set(), "p": set(), "f": set()}
    count = 0
    for url in urls:
        if url not in seen:
            continue
        count += 1
        e = seen[url]
        out.append(f"[Webpage {count}]\nURL Source: {url}\n")
        if e["title"]:
            out.append(f"Title: {e['title']}\n")
        if e["date"]:
            out.append(f"Published Time: {e['date']}\n")
        out.append("\n")
        for s in e["snippets"]:
            if s not in done["s"]:
                done["s"].add(s)
                out.append(f"Snippet:\n{s}\n\n")
        for p in e["pages"]:
            if p not in done["p"]:
                done["p"].add(p)
                out.append(f"Content:\n{p}\n\n")
        for pattern, matches in e["finds"]:
            if matches not in done["f"]:
                done["f"].add(matches)
                out.append(f'Search Result of Keyword "{pattern}":\n{matches}\n\n')
        if count == max_urls:
            break
    return "".join(out)


def project_context(answer: str, ledger: Sequence[LedgerRecord], statements: Sequence[str],
                    mode: str) -> str:
    sources = collect_evidence(ledger, cited_urls(answer_body(answer)), max_urls=MAX_URLS)
    return build_evidence_context(sources, statements, mode=mode)  # type: ignore[arg-type]


def constructions(t: Trajectory) -> dict[str, str]:
    parsed = parse_history(t.history)
    return {
        "reference": reference_context(t.answer, t.history),
        "full (ledger)": project_context(t.answer, t.ledger, t.statements, "full"),
        "full (parsed history)": project_context(parsed.answer, parsed.records, t.statements, "full"),
        "relevant (ledger)": project_context(t.answer, t.ledger, t.statements, "relevant"),
    }


# ----------------------------------------------------------------------------- tokens


def load_tokenizer(name: str) -> tuple[Any, str] | None:
    """A real tokenizer from the local model cache (never downloaded), or None."""
    if name == "none":
        return None
    try:
        from tokenizers import Tokenizer

        from carr_agent.models.offline import cache_root
    except ImportError:
        return None
    path = cache_root() / "models" / name / "tokenizer.json"
    if not path.is_file():
        return None
    return Tokenizer.from_file(str(path)), f"{name} tokenizer ({path})"


# ----------------------------------------------------------------------------- main


async def _verdicts(judge: DeterministicJudge, t: Trajectory, context: str) -> list[bool]:
    if not context.strip():
        return [False] * len(t.statements)
    return await judge.judge_support(context, t.statements, task=t.task)


_KEYWORD_HEADER = re.compile(r'^Search Result of Keyword ".*":$', re.M)


async def _why(judge: DeterministicJudge, t: Trajectory, statement: str, ref: str,
               same_sources: bool) -> str:
    """Name the cause of a verdict that differs from the reference's."""
    if not same_sources:
        return ("the reference matches cited URLs by exact string: it has no evidence for the "
                "variant spelling")
    stripped = _KEYWORD_HEADER.sub("Find match:", ref)
    if (await judge.judge_support(stripped, [statement], task=t.task))[0] is False:
        return ("the reference's evidence repeats the agent's own find pattern "
                "('Search Result of Keyword \"…\"', even over 'No matches found.'): the pattern, "
                "not the page, supplies the statement's number/words")
    return "the evidence texts differ"


def example_tasks() -> list[Task]:
    """The shipped tasks that carry gold entities and rubrics."""
    return [t for t in load_tasks(example_tasks_path("all")) if t.entities and t.rubrics]


def build_trajectories(n: int, *, seed: int = 0, long_every: int = 3) -> tuple[list[Trajectory], int]:
    """``n`` trajectories over a temporary bench corpus; also returns how many pages were
    lengthened past the page budget."""
    tasks = example_tasks()
    with tempfile.TemporaryDirectory(prefix="bench-judge-") as tmp:
        corpus_file = Path(tmp) / "corpus.jsonl"
        changed = write_bench_corpus(corpus_file, tasks, long_every=long_every, seed=seed)
        index = CorpusIndex.build(corpus_file, Path(tmp) / "index")
        titles = {d["url"]: d.get("title", "") for d in iter_corpus(corpus_file)}
        browser = Browser(search=index, fetcher=index, page_budget=PAGE_BUDGET)
        return make_trajectories(browser, tasks, titles, n=n, seed=seed), len(changed)


def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    trajectories, n_changed = build_trajectories(args.trajectories, seed=args.seed,
                                                 long_every=args.long_every)
    tokenizer = load_tokenizer(args.tokenizer)
    judge = DeterministicJudge()

    names = ["reference", "full (ledger)", "full (parsed history)", "relevant (ledger)"]
    chars: dict[str, list[int]] = defaultdict(list)
    chars_same: dict[str, list[int]] = defaultdict(list)
    prompt_chars: dict[str, list[int]] = defaultdict(list)
    total_chars: dict[str, list[int]] = defaultdict(list)
    tokens: dict[str, list[int]] = defaultdict(list)
    supported: dict[str, int] = defaultdict(int)
    agree: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    agree_same: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    disagreements: list[dict[str, Any]] = []
    n_statements = 0

    async def score_all() -> None:
        nonlocal n_statements
        for t in trajectories:
            contexts = constructions(t)
            other = (len(identify_entities_prompt(t.task.question, t.task.rubrics, answer_body(t.answer)))
                     + len(outcome_prompt(t.task.question, answer_body(t.answer), t.task.label)))
            verdicts = {k: await _verdicts(judge, t, c) for k, c in contexts.items()}
            n_statements += len(t.statements)
            ref = verdicts["reference"]
            same_sources = "variant-url" not in t.kinds
            for k, c in contexts.items():
                chars[k].append(len(c))
                if same_sources:
                    chars_same[k].append(len(c))
                p = len(support_prompt(c, t.statements)) if c.strip() else 0
                prompt_chars[k].append(p)
                total_chars[k].append(p + other)
                if tokenizer is not None:
                    tokens[k].append(len(tokenizer[0].encode(c).ids))
                supported[k] += sum(verdicts[k])
                if k == "reference":
                    continue
                for s, a, b in zip(t.statements, ref, verdicts[k], strict=True):
                    agree[k][0] += a == b
                    agree[k][1] += 1
                    if same_sources:
                        agree_same[k][0] += a == b
                        agree_same[k][1] += 1
                    if a != b:
                        disagreements.append({
                            "task": t.task.id, "construction": k, "statement": s,
                            "reference": a, "this": b, "trajectory_kinds": t.kinds,
                            "why": await _why(judge, t, s, contexts["reference"], same_sources)})

    asyncio.run(score_all())
    ref_mean = statistics.fmean(chars["reference"])
    ref_total = statistics.fmean(total_chars["reference"])
    rows = []
    for k in names:
        row: dict[str, Any] = {
            "construction": k,
            "evidence_chars_mean": round(statistics.fmean(chars[k]), 1),
            "evidence_chars_p50": round(percentile(chars[k], 50), 1),
            "evidence_chars_p90": round(percentile(chars[k], 90), 1),
            "judge_input_chars_mean": round(statistics.fmean(total_chars[k]), 1),
            "judge_input_tokens_mean_chars4": round(statistics.fmean(total_chars[k]) / 4, 1),
            "evidence_tokens_mean": round(statistics.fmean(tokens[k]), 1) if tokens[k] else None,
            "evidence_chars_mean_same_sources": (round(statistics.fmean(chars_same[k]), 1)
                                                 if chars_same[k] else None),
            "evidence_reduction_x": round(ref_mean / statistics.fmean(chars[k]), 2),
            "judge_input_reduction_x": round(ref_total / statistics.fmean(total_chars[k]), 2),
            "supported_pct": round(100 * supported[k] / max(n_statements, 1), 1),
            "agreement_with_reference_pct": (round(100 * agree[k][0] / agree[k][1], 2)
                                             if k in agree else None),
            "agreement_same_sources_pct": (round(100 * agree_same[k][0] / agree_same[k][1], 2)
                                           if k in agree_same and agree_same[k][1] else None),
        }
        rows.append(row)
    lengths = [len(r["text"]) for t in trajectories for r in t.ledger if r["kind"] == "open"]
    kinds = defaultdict(int)
    for t in trajectories:
        for kind in t.kinds:
            kinds[kind] += 1
    params = {
        "trajectories": len(trajectories), "statements": n_statements, "long_every": args.long_every,
        "seed": args.seed, "long_pages": n_changed, "page_budget": PAGE_BUDGET,
        "max_urls": MAX_URLS, "tokenizer": tokenizer[1] if tokenizer else "none (chars/4 only)",
        "trajectory_kinds": dict(kinds),
        "opened_pages_shown_chars": {"mean": round(statistics.fmean(lengths), 1) if lengths else None,
                                     "max": max(lengths, default=0),
                                     "at_budget": sum(n >= PAGE_BUDGET for n in lengths)},
        "cited_urls_mean": round(statistics.fmean(len(set(cited_urls(answer_body(t.answer))))
                                                  for t in trajectories), 2),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    notes = (
        f"{len(trajectories)} trajectories, {n_statements} gold-filled statements; judge input = "
        "support prompt + entity prompt + outcome prompt (chars; tokens ≈ chars/4"
        + (f"; evidence tokens by the {tokenizer[1].split(' (')[0]}" if tokenizer else "")
        + "). Agreement: DeterministicJudge support verdicts vs the reference construction's; "
        f"'same sources' leaves out trajectories citing a URL variant. {len(disagreements)} "
        f"disagreeing verdicts. Load average at start: {args.load}."
    )
    write_results("judge_cost", rows, params=params, notes=notes, columns=[
        "construction", "evidence_chars_mean", "evidence_chars_p50", "evidence_chars_p90",
        "evidence_tokens_mean", "judge_input_chars_mean", "judge_input_tokens_mean_chars4",
        "evidence_chars_mean_same_sources", "evidence_reduction_x", "judge_input_reduction_x", "supported_pct",
        "agreement_with_reference_pct", "agreement_same_sources_pct"])
    _append_disagreements(disagreements, args.show_disagreements)
    return {"rows": rows, "disagreements": disagreements}


def _append_disagreements(disagreements: list[dict[str, Any]], show: int) -> None:
    from harness import RESULTS_DIR

    path = RESULTS_DIR / "judge_cost.json"
    payload = json.loads(path.read_text())
    payload["disagreements"] = disagreements
    path.write_text(json.dumps(payload, indent=2, default=str))
    if disagreements:
        lines = ["", "Disagreements with the reference construction (first "
                 f"{min(show, len(disagreements))} of {len(disagreements)}):", ""]
        for d in disagreements[:show]:
            lines.append(f"- {d['task']} [{d['construction']}] reference={d['reference']} "
                         f"this={d['this']} ({', '.join(d['trajectory_kinds']) or 'plain'}): "
                         f"{d['statement']} — {d['why']}")
        text = "\n".join(lines) + "\n"
        md = RESULTS_DIR / "judge_cost.md"
        md.write_text(md.read_text() + text)
        print(text)


def main(argv: Sequence[str] | None = None) -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trajectories", type=int, default=96, help="trajectories to generate")
    parser.add_argument("--long-every", type=int, default=3,
                        help="lengthen the gold pages of every N-th task past 10k chars (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizer", default="qwen2.5-0.5b",
                        help="cached model tokenizer to count tokens with, or 'none'")
    parser.add_argument("--show-disagreements", type=int, default=20)
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where to write <name>.json/.md (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.results_dir is not None:
        harness.RESULTS_DIR = args.results_dir
    if args.trajectories < 1:
        parser.error("--trajectories must be >= 1")
    args.load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run(args)


if __name__ == "__main__":
    sys.exit(main())
