"""`carr-agent report`: one self-contained HTML file with plots, per-task details and comparison."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from carr_agent.errors import DataError
from carr_agent.eval import EvalConfig, EvalRunner, ResultStore, write_report
from carr_agent.graph import build_agent
from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.rewards import CarrScorer, DeterministicJudge
from carr_agent.task_files import load_tasks
from carr_agent.tools.corpus import CorpusIndex
from tests.cli_support import run_cli
from tests.eval_support import SCRIPT, river_task, town_task, write_jsonl, write_world
from tests.test_eval_runner import FailingOutcomeJudge


class Page(HTMLParser):
    """Collects what the tests check: images, details ids, table ids, external resources."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.details: list[str] = []
        self.tables: list[str] = []
        self.external: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        if tag == "details" and a.get("id"):
            self.details.append(a["id"])
        if tag == "table" and a.get("id"):
            self.tables.append(a["id"])
        if tag in ("script", "link", "iframe") and (a.get("src") or a.get("href")):
            self.external.append(a.get("src") or a.get("href"))
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.links.append(a["href"][1:])

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def make_store(tmp: Path, name: str, judge=None) -> Path:
    corpus_path, _ = write_world(tmp)
    index_dir = tmp / "index"
    corpus = CorpusIndex.open(index_dir) if index_dir.exists() else CorpusIndex.build(corpus_path, index_dir)
    tasks = load_tasks(write_jsonl(tmp / "tasks.jsonl", [river_task(), town_task()]))
    model = ScriptedChatModel(turns=SCRIPT)
    store_path = tmp / f"{name}.sqlite"
    with ResultStore(store_path) as store:
        EvalRunner(
            agent_factory=lambda t: build_agent(model, search=corpus, fetcher=corpus),
            scorer=CarrScorer(judge or DeterministicJudge()), store=store,
            config=EvalConfig(model=name, corpus="test", judge="deterministic"),
        ).run(tasks)
    return store_path


def test_report_cli_writes_a_self_contained_page_with_plots_and_task_details(tmp_path):
    store = make_store(tmp_path, "policy")
    out = tmp_path / "report.html"
    proc = run_cli("report", str(store), "-o", str(out), env={"COLUMNS": "140"})
    assert proc.returncode == 0, proc.stderr
    page = parse(out)
    assert len(page.imgs) >= 5  # reward hist, tool hist, scatter, hops, rubric outcomes
    assert all(src.startswith("data:image/png;base64,") for src in page.imgs)
    assert page.external == []
    assert {"a-river", "a-town"} <= set(page.details)
    assert {"summary", "tasks"} <= set(page.tables)
    assert {"a-river", "a-town"} <= set(page.links)  # the task table links to each trajectory
    text = " ".join(page.text)
    assert "Velda River" in text and "twelve symphonies" in text  # answers are in the page
    assert "Ledger (" in text and "connected" in text
    assert "50.0%" in text  # accuracy


def test_unknown_scores_read_unknown_in_the_report(tmp_path):
    store = make_store(tmp_path, "flaky", judge=FailingOutcomeJudge())
    out = write_report(store, tmp_path / "r.html")
    text = " ".join(parse(out).text)
    assert "unknown" in text
    assert "outcome unknown (judge failed)" in text


def test_compare_report_shows_both_runs_side_by_side_with_deltas(tmp_path):
    a = make_store(tmp_path, "grpo", judge=FailingOutcomeJudge())
    b = make_store(tmp_path, "cgrpo")
    out = write_report(a, tmp_path / "cmp.html", compare_store=b)
    page = parse(out)
    text = " ".join(page.text)
    assert "Δ (B − A)" in text
    assert "grpo" in text and "cgrpo" in text
    assert {"a-river", "b-river"} <= set(page.details)
    assert "2 tasks scored in both runs" in text
    assert len(page.imgs) >= 6  # one rubric-outcome plot per run


def test_report_of_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="results store not found"):
        write_report(tmp_path / "nope.sqlite", tmp_path / "r.html")
    proc = run_cli("report", str(tmp_path / "nope.sqlite"))
    assert proc.returncode == 2 and "results store not found" in proc.stderr


CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and Path(p).exists()),
                None)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path):
    out = write_report(make_store(tmp_path, "policy"), tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=1280,2400", out.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_failed_runs_are_listed_with_their_errors(tmp_path):
    from carr_agent.eval import EvalRecord

    store_path = make_store(tmp_path, "policy")
    with ResultStore(store_path) as store:
        run = store.resolve_run()
        store.save(EvalRecord(task_id="crashed", config_hash=run.config_hash, status="failed",
                              question="q?", label="a", errors=["ModelError: server went away"]))
    text = " ".join(parse(write_report(store_path, tmp_path / "r.html")).text)
    assert "Failed runs" in text and "ModelError: server went away" in text
    assert "runs failed (not scored)" in text
