"""The shipped example data: corpus, tasks, traps, the demo question, and reproducibility."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from carr_agent.data import (
    DEMO_ANSWER,
    DEMO_QUESTION,
    example_corpus_path,
    example_tasks_path,
    iter_corpus,
    iter_tasks,
)
from carr_agent.errors import CorpusError, DataError
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.rubrics import ENTITY_PATTERN, fill_rubric
from carr_agent.rewards.textnorm import contains_phrase, normalize_text
from carr_agent.task_files import load_tasks
from carr_agent.tools.leakage import LeakageGuard
from carr_agent.urls import normalize_url

TRAP_TYPES = {"near_duplicate", "question_leak", "conflicting_source"}


@pytest.fixture(scope="module")
def pages() -> dict[str, dict[str, str]]:
    return {row["url"]: row for row in iter_corpus(example_corpus_path())}


@pytest.fixture(scope="module")
def main_tasks() -> list[dict]:
    return list(iter_tasks("all"))


@pytest.fixture(scope="module")
def dev_tasks() -> list[dict]:
    return list(iter_tasks("dev"))


@pytest.fixture(scope="module")
def all_tasks(main_tasks: list[dict], dev_tasks: list[dict]) -> list[dict]:
    return main_tasks + dev_tasks


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# -- corpus ----------------------------------------------------------------------------------


def test_corpus_has_thousands_of_pages_with_unique_urls_and_dates(pages: dict) -> None:
    assert 3000 <= len(pages) <= 6000
    normalized = Counter(normalize_url(u) for u in pages)
    assert max(normalized.values()) == 1
    for row in pages.values():
        assert set(row) == {"url", "title", "text", "date"}
        assert row["url"].startswith("https://") and row["title"] and len(row["text"]) > 80
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date"])
    hosts = Counter(u.split("/")[2] for u in pages)
    assert {"valdopedia.example", "valdoria-herald.example", "quizhall.example"} <= set(hosts)
    assert sum(n for h, n in hosts.items() if h not in ("valdopedia.example",)) >= 500


def test_corpus_file_is_at_most_a_few_megabytes() -> None:
    assert example_corpus_path().stat().st_size < 8_000_000


def test_iter_corpus_reads_plain_and_gzipped_jsonl(tmp_path: Path) -> None:
    rows = [{"url": "https://a.example/x", "title": "X", "text": "x text", "date": "2020-01-01"},
            {"url": "https://a.example/y", "text": "y text"}]
    data = "".join(json.dumps(r) + "\n" for r in rows) + "\n"
    (tmp_path / "c.jsonl").write_text(data, encoding="utf-8")
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(data.encode()))
    assert list(iter_corpus(tmp_path / "c.jsonl")) == rows
    assert list(iter_corpus(tmp_path / "c.jsonl.gz")) == rows


def test_iter_corpus_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"url": "https://a.example/x", "text": "ok"}\n{"url": 3}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2"):
        list(iter_corpus(bad))
    with pytest.raises(CorpusError, match="not found"):
        list(iter_corpus(tmp_path / "missing.jsonl"))


def test_unknown_task_split_is_a_data_error() -> None:
    with pytest.raises(DataError, match="split"):
        example_tasks_path("test")  # type: ignore[arg-type]


# -- tasks -----------------------------------------------------------------------------------


def test_task_sets_have_expected_sizes_hops_and_unique_ids(main_tasks: list, dev_tasks: list) -> None:
    assert 60 <= len(main_tasks) <= 120
    assert 5 <= len(dev_tasks) <= 8
    ids = [t["id"] for t in main_tasks + dev_tasks]
    assert len(ids) == len(set(ids))
    assert {t["hops"] for t in main_tasks} == {2, 3, 4, 5}
    assert all(t["hops"] == 2 for t in dev_tasks)
    questions = [t["question"] for t in main_tasks + dev_tasks]
    assert len(questions) == len(set(questions))


def test_rubrics_use_contiguous_labels_rooted_at_the_answer(all_tasks: list) -> None:
    for t in all_tasks:
        labels = [set(ENTITY_PATTERN.findall(r)) for r in t["rubrics"]]
        assert all(labels), f"{t['id']}: a rubric mentions no entity"
        used = set().union(*labels)
        assert "E0" in used
        assert used == set(t["entities"]) == {f"E{i}" for i in range(len(used))}, t["id"]
        assert t["entities"]["E0"] == t["label"]
        # Every hop adds an entity; a described (unnamed) anchor is one more, E1.
        hidden_anchor = len(t["entities"]) - t["hops"]
        assert hidden_anchor in (0, 1), t["id"]
        if hidden_anchor:
            assert t["entities"]["E1"] not in t["question"]
            assert any(r.startswith("<E1> is a") for r in t["rubrics"])
        assert set(t["traps"]) <= TRAP_TYPES
        assert len(t["rubric_urls"]) == len(t["rubrics"])


def test_questions_never_name_a_hidden_entity(all_tasks: list) -> None:
    for t in all_tasks:
        question = normalize_text(t["question"])
        for label, value in t["entities"].items():
            names = [value, *t.get("entity_aliases", {}).get(label, [])]
            assert not any(contains_phrase(question, n) for n in names), (t["id"], label, value)


def test_the_project_task_loader_accepts_both_files() -> None:
    main = load_tasks(example_tasks_path("all"), strict=True)
    dev = load_tasks(example_tasks_path("dev"), strict=True)
    assert main[0].entities and main[0].metadata["hops"] >= 2
    assert dev[0].question == DEMO_QUESTION and dev[0].label == DEMO_ANSWER


def test_a_named_anchor_is_grounded_on_its_own_page(all_tasks: list, pages: dict) -> None:
    titles = {p["title"]: u for u, p in pages.items() if "/wiki/" in u}
    for t in all_tasks:
        if len(t["entities"]) > t["hops"]:
            continue  # described anchor: it is E1, grounded like any entity
        first = t["rubrics"][1]  # rubric 0 describes E0; rubric 1 is the anchor's fact
        named = [title for title in titles if title.lower() in first.lower()]
        assert named, (t["id"], first)
        assert titles[max(named, key=len)] in t["rubric_urls"][1], (t["id"], first)


def test_gold_values_appear_on_gold_pages_and_gold_pages_exist(all_tasks: list, pages: dict) -> None:
    for t in all_tasks:
        assert set(t["gold_urls"]) == {u for urls in t["rubric_urls"] for u in urls}
        texts = [normalize_text(pages[u]["title"] + " " + pages[u]["text"]) for u in t["gold_urls"]]
        for label, value in t["entities"].items():
            assert any(contains_phrase(x, value) for x in texts), f"{t['id']} {label}={value}"


async def test_every_rubric_is_supported_by_its_pages_under_the_deterministic_judge(
    all_tasks: list, pages: dict
) -> None:
    for raw in all_tasks:
        judge = DeterministicJudge(entities=raw["entities"], aliases=raw.get("entity_aliases", {}),
                                   label_aliases=raw["aliases"])
        for rubric, urls in zip(raw["rubrics"], raw["rubric_urls"], strict=True):
            assert urls, f"{raw['id']}: no page for {rubric!r}"
            filled = fill_rubric(rubric, raw["entities"])
            verdicts = [(await judge.judge_support(pages[u]["text"], [filled]))[0] for u in urls]
            assert any(verdicts), f"{raw['id']}: {filled!r} not supported by {urls}"


async def test_a_wrong_answer_entity_is_not_supported_by_the_gold_pages(
    all_tasks: list, pages: dict
) -> None:
    # The support rule must discriminate: swap E0 for a near-duplicate and the chain facts fail.
    for raw in all_tasks:
        twins = [d for d in raw["trap_details"] if d["type"] == "near_duplicate"]
        for d in twins:
            wrong = dict(raw["entities"], **{d["entity"]: d["value"]})
            judge = DeterministicJudge(entities=wrong)
            chain = [r for r in raw["rubrics"] if f"<{d['entity']}>" in r and len(ENTITY_PATTERN.findall(r)) > 1]
            for rubric, urls in zip(raw["rubrics"], raw["rubric_urls"], strict=True):
                if rubric not in chain:
                    continue
                filled = fill_rubric(rubric, wrong)
                evidence = "\n".join(pages[u]["text"] for u in urls if u != d["url"])
                assert not (await judge.judge_support(evidence, [filled]))[0], (raw["id"], filled)


# -- traps -----------------------------------------------------------------------------------


def test_every_trap_type_occurs_and_has_its_page(main_tasks: list, pages: dict) -> None:
    counts = Counter(x for t in main_tasks for x in t["traps"])
    assert all(counts[k] >= 10 for k in TRAP_TYPES), counts
    for t in main_tasks:
        assert sorted(t["traps"]) == sorted(d["type"] for d in t["trap_details"])
        for d in t["trap_details"]:
            assert d["url"] in pages, d
            assert d["url"] not in t["gold_urls"] or d["type"] == "near_duplicate"


def test_leak_threads_quote_the_question_and_the_guard_drops_only_them(
    all_tasks: list, pages: dict
) -> None:
    leaks = 0
    for t in all_tasks:
        guard = LeakageGuard(t["question"])
        for d in t["trap_details"]:
            if d["type"] == "question_leak":
                leaks += 1
                page = pages[d["url"]]
                assert t["question"] in page["text"] and t["label"] in page["text"]
                assert guard.is_leaked(page["text"])
        for url in t["gold_urls"]:
            assert not guard.any_leaked((pages[url]["title"], pages[url]["text"])), (t["id"], url)
    assert leaks >= 10


def test_conflicting_blogs_state_a_wrong_value_and_not_the_gold_one(
    main_tasks: list, pages: dict
) -> None:
    for t in main_tasks:
        for d in t["trap_details"]:
            if d["type"] != "conflicting_source":
                continue
            text = pages[d["url"]]["text"]
            assert d["statement"] in text and d["wrong_value"] in text
            assert d["wrong_value"] != d["gold_value"]
            assert not contains_phrase(normalize_text(text), d["gold_value"])
            assert not d["url"].startswith("https://valdopedia.example/")


def test_near_duplicates_are_distinct_entities_with_almost_the_same_name(
    main_tasks: list, pages: dict
) -> None:
    kinds = set()
    for t in main_tasks:
        for d in t["trap_details"]:
            if d["type"] != "near_duplicate":
                continue
            gold = t["entities"][d["entity"]]
            assert d["value"] != gold and 1 <= _levenshtein(d["value"], gold) <= 2
            assert pages[d["url"]]["title"] == d["value"]
            kinds.add(len(gold.split()))
    assert kinds == {1, 2}  # towns (one word) and people (two words) both have twins


# -- the demo question -------------------------------------------------------------------------


def test_demo_question_is_the_first_dev_task_and_its_answer_is_stated_plainly(
    dev_tasks: list, pages: dict
) -> None:
    demo = dev_tasks[0]
    assert demo["question"] == DEMO_QUESTION and demo["label"] == DEMO_ANSWER
    assert demo["hops"] == 2 and demo["traps"] == []
    page = pages["https://valdopedia.example/wiki/Ember_Suite"]
    assert f"was born in the town of {DEMO_ANSWER}" in page["text"]
    assert "Ember Suite" in page["title"]
    # No other work shares the demo's key word, so the obvious search cannot go astray.
    assert [u for u, p in pages.items() if "Ember" in p["title"]] == [page["url"]]


def test_demo_question_search_ranks_the_answer_page_first(tmp_path: Path) -> None:
    from carr_agent.tools.corpus import CorpusIndex

    index = CorpusIndex.build(example_corpus_path(), tmp_path / "index", num_threads=1)
    hits = index.search(DEMO_QUESTION, 5)
    assert hits[0].url == "https://valdopedia.example/wiki/Ember_Suite"
    assert DEMO_ANSWER in hits[0].snippet


# -- reproducibility ---------------------------------------------------------------------------


def test_regenerating_with_the_default_seed_reproduces_the_shipped_files(tmp_path: Path) -> None:
    from devtools.valdoria.generate import build, write

    manifest = write(build(), tmp_path)
    shipped = json.loads((example_corpus_path().parent / "manifest.json").read_text())
    assert manifest == shipped
    for name in ("corpus.jsonl", "tasks.jsonl", "tasks-dev.jsonl"):
        digest = hashlib.sha256((example_corpus_path().parent / name).read_bytes()).hexdigest()
        assert digest == shipped["sha256"][name] == manifest["sha256"][name]
        assert (tmp_path / name).read_bytes() == (example_corpus_path().parent / name).read_bytes()


# -- end to end with the project's scorer ------------------------------------------------------


def _oracle_answer(raw: dict, pages: dict) -> tuple[str, list[dict]]:
    """An answer stating every filled rubric, citing a page that supports it, and its ledger."""
    lines, ledger, numbers = [], [], {}
    for rubric, urls in zip(raw["rubrics"], raw["rubric_urls"], strict=True):
        url = urls[0]
        numbers.setdefault(url, len(numbers) + 1)
        lines.append(f"{fill_rubric(rubric, raw['entities'])} [{numbers[url]}]({url})")
    body = "## Explanation with Citations\n" + "\n".join(lines)
    answer = f"{body}\n\n## Exact Answer\n{raw['label']}\n\n## References\n" + "\n".join(numbers)
    for step, url in enumerate(numbers):
        text = pages[url]["text"]
        ledger.append({"source_id": f"S{step + 1}", "url": url, "title": pages[url]["title"],
                       "kind": "open", "step": step, "text": text, "start": 0, "end": len(text)})
    return answer, ledger


async def test_an_answer_citing_the_gold_pages_earns_full_rubric_and_outcome_reward(
    pages: dict,
) -> None:
    from carr_agent.rewards.scorer import CarrScorer

    scorer = CarrScorer(DeterministicJudge())
    for path in (example_tasks_path("dev"), example_tasks_path("all")):
        raws = {r["id"]: r for r in iter_tasks("dev" if path.name.endswith("dev.jsonl") else "all")}
        for task in load_tasks(path, strict=True):
            answer, ledger = _oracle_answer(raws[task.id], pages)
            result = await scorer.ascore(task, answer, ledger)
            assert result.outcome_reward == 1.0, task.id
            assert result.rubric_reward == 1.0, (task.id, result.rubric_scores)
            # Citing nothing the agent was shown earns no rubric credit.
            empty = await scorer.ascore(task, answer, [])
            assert empty.rubric_reward == 0.0 and empty.outcome_reward == 1.0


async def test_naming_the_near_duplicate_as_the_answer_is_wrong(main_tasks: list) -> None:
    judge = DeterministicJudge()
    tasks = {t.id: t for t in load_tasks(example_tasks_path("all"), strict=True)}
    checked = 0
    for raw in main_tasks:
        for d in raw["trap_details"]:
            if d["type"] == "near_duplicate" and d["entity"] == "E0":
                verdict = await judge.judge_outcome(
                    raw["question"], f"## Exact Answer\n{d['value']}\n", raw["label"],
                    task=tasks[raw["id"]])
                assert not verdict.correct, raw["id"]
                checked += 1
    assert checked >= 3
