"""The offline corpus: build, search ranking and snippets, open by URL, bad input, caching, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from carr_agent.errors import CorpusError, FetchError
from carr_agent.tools.corpus import META_FILE, CorpusIndex, default_corpus
from tests import cli_support
from tests.cli_support import CliResult

DOCS = [
    {"url": "https://en.example.org/wiki/UFC_219", "title": "UFC 219",
     "text": "UFC 219: Cyborg vs. Holm was a mixed martial arts event held on December 30, 2017.\n\n"
             "The event took place at T-Mobile Arena in Paradise, Nevada. Cris Cyborg defeated Holly "
             "Holm by unanimous decision to retain the featherweight title.",
     "date": "2017-12-30"},
    {"url": "https://en.example.org/wiki/Holly_Holm", "title": "Holly Holm",
     "text": "Holly Holm is an American professional boxer and mixed martial artist.\n"
             "She is known for her head kick knockout of Ronda Rousey at UFC 193 in Melbourne."},
    {"url": "https://en.example.org/wiki/Paradise_Nevada", "title": "Paradise, Nevada",
     "text": "Paradise is an unincorporated town in Clark County, Nevada. It contains most of the "
             "Las Vegas Strip and several large arenas."},
    {"url": "https://zh.example.org/wiki/東京", "title": "東京",
     "text": "東京都是日本的首都，也是人口最多的城市。"},
    {"url": "https://en.example.org/wiki/Bread", "title": "Bread",
     "text": "Bread is a staple food prepared from a dough of flour and water, usually by baking."},
]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def index(tmp_path: Path) -> CorpusIndex:
    return CorpusIndex.build(write_jsonl(tmp_path / "docs.jsonl", DOCS), tmp_path / "index")


def test_page_containing_the_query_terms_ranks_first(index: CorpusIndex) -> None:
    assert index.search("bread dough flour baking", 3)[0].title == "Bread"
    assert index.search("head kick knockout Rousey", 3)[0].url.endswith("Holly_Holm")
    assert index.search("Las Vegas Strip unincorporated town", 3)[0].title == "Paradise, Nevada"


def test_search_uses_stemming_and_title_words(index: CorpusIndex) -> None:
    hits = index.search("baked breads", 5)
    assert hits[0].title == "Bread"
    assert index.search("featherweight titles retained", 5)[0].title == "UFC 219"


def test_snippets_are_single_line_exact_substrings_with_offsets(index: CorpusIndex) -> None:
    for query in ["unanimous decision featherweight", "Las Vegas", "martial artist boxer", "首都"]:
        for hit in index.search(query, 5):
            page = index.fetch(hit.url)
            assert hit.start is not None and hit.end is not None
            assert page.text[hit.start : hit.end] == hit.snippet
            assert hit.snippet == " ".join(hit.snippet.split())  # renders unchanged on one line
    hit = index.search("unanimous decision featherweight", 1)[0]
    assert "unanimous decision" in hit.snippet


def test_cjk_queries_match_inside_runs_of_characters(index: CorpusIndex) -> None:
    hits = index.search("日本 首都", 3)
    assert hits and hits[0].title == "東京"


def test_query_syntax_characters_are_treated_as_words(index: CorpusIndex) -> None:
    assert index.search('title:bread AND "flour (', 3)[0].title == "Bread"
    assert index.search("?!* ::", 3) == []
    assert index.search("zzzqqq", 3) == []


def test_fetch_finds_pages_by_any_url_variant(index: CorpusIndex) -> None:
    page = index.fetch("http://www.en.example.org/wiki/UFC_219/#Results")
    assert page.url == "https://en.example.org/wiki/UFC_219"
    assert page.title == "UFC 219" and page.date == "2017-12-30"
    assert page.text == DOCS[0]["text"]  # stored byte for byte
    assert index.fetch("https://zh.example.org/wiki/%E6%9D%B1%E4%BA%AC").title == "東京"


def test_fetch_of_unknown_url_is_a_fetch_error(index: CorpusIndex) -> None:
    with pytest.raises(FetchError, match="not in the offline corpus"):
        index.fetch("https://nowhere.example/page")


def test_reopened_index_answers_the_same(index: CorpusIndex) -> None:
    again = CorpusIndex.open(index.index_dir)
    assert len(again) == len(DOCS)
    assert again.search("bread", 1) == index.search("bread", 1)


def test_bad_lines_raise_one_corpus_error_naming_every_line(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "bad.jsonl", [
        DOCS[0], "{not json", {"url": "https://a.example/"}, ["a", "list"], "",
        {"text": "no url"}, {"url": "https://b.example/", "text": "ok", "title": 5},
    ])
    with pytest.raises(CorpusError) as err:
        CorpusIndex.build(src, tmp_path / "index")
    msg = str(err.value)
    assert "line 2: invalid JSON" in msg
    assert "line 3: missing 'text'" in msg
    assert "line 4: expected a JSON object" in msg
    assert "line 6: missing 'url'" in msg
    assert "line 7: 'title' must be a string" in msg
    assert not (tmp_path / "index").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.jsonl"]  # no temp dirs left behind


def test_duplicate_urls_are_skipped_and_reported(tmp_path: Path) -> None:
    dup = dict(DOCS[4], url="http://www.en.example.org/wiki/Bread/", text="A second bread page.")
    index = CorpusIndex.build(write_jsonl(tmp_path / "d.jsonl", [*DOCS, dup]), tmp_path / "index")
    assert index.build_stats is not None
    assert index.build_stats.duplicates == ((6, dup["url"], 5),)
    assert len(index) == len(DOCS)
    assert index.fetch(dup["url"]).text == DOCS[4]["text"]  # the first occurrence wins


def test_existing_index_is_kept_unless_overwrite(tmp_path: Path, index: CorpusIndex) -> None:
    src = write_jsonl(tmp_path / "one.jsonl", [DOCS[4]])
    with pytest.raises(CorpusError, match="already exists"):
        CorpusIndex.build(src, index.index_dir)
    rebuilt = CorpusIndex.build(src, index.index_dir, overwrite=True)
    assert len(rebuilt) == 1


def test_opening_a_directory_that_is_no_index_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not a carr_agent corpus index"):
        CorpusIndex.open(tmp_path)
    with pytest.raises(CorpusError, match="not found"):
        CorpusIndex.build(tmp_path / "missing.jsonl", tmp_path / "x")
    with pytest.raises(CorpusError, match="no documents"):
        CorpusIndex.build(write_jsonl(tmp_path / "blank.jsonl", [""]), tmp_path / "y")


def test_build_reports_progress_up_to_the_file_size(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "docs.jsonl", DOCS)
    seen: list[tuple[int, int]] = []
    CorpusIndex.build(src, tmp_path / "index", progress=lambda done, total: seen.append((done, total)))
    size = src.stat().st_size
    assert seen and seen[-1] == (size, size)


def test_default_corpus_is_cached_by_hash_and_rebuilt_when_the_source_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARR_AGENT_CACHE", str(tmp_path / "cache"))
    src = write_jsonl(tmp_path / "example.jsonl", DOCS)
    first = default_corpus(src)
    assert first.index_dir.parent == tmp_path / "cache" / "corpus"
    assert default_corpus(src).index_dir == first.index_dir  # reused
    mtime = (first.index_dir / META_FILE).stat().st_mtime_ns
    assert (default_corpus(src).index_dir / META_FILE).stat().st_mtime_ns == mtime
    write_jsonl(src, DOCS[:2])
    second = default_corpus(src)
    assert second.index_dir != first.index_dir and len(second) == 2
    assert not first.index_dir.exists()  # the stale index was removed
    assert sorted(p.name for p in (tmp_path / "cache" / "corpus").iterdir()) == [second.index_dir.name]


def test_concurrent_default_corpus_builds_agree(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "example.jsonl", DOCS)
    code = ("import sys; from carr_agent.tools.corpus import default_corpus; "
            "ix = default_corpus(sys.argv[1]); print(ix.index_dir, len(ix))")
    env = dict(os.environ, CARR_AGENT_CACHE=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(src)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert len({o for o, _ in outs}) == 1
    assert outs[0][0].strip().endswith(f" {len(DOCS)}")
    assert len(list((tmp_path / "cache" / "corpus").iterdir())) == 1  # no temp dirs left


def test_default_corpus_uses_the_shipped_example_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = pytest.importorskip("carr_agent.data")
    if not hasattr(data, "example_corpus_path") or not Path(data.example_corpus_path()).is_file():
        pytest.skip("the example corpus has not landed yet")
    monkeypatch.setenv("CARR_AGENT_CACHE", str(tmp_path / "cache"))
    index = default_corpus()
    assert len(index) > 0
    first = index.search("the", 1)
    assert first and index.fetch(first[0].url).url == first[0].url


def run_cli(*args: str, cwd: Path) -> CliResult:
    return cli_support.run_cli(*args, cwd=cwd)


def test_cli_builds_searches_and_opens(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "docs.jsonl", DOCS)
    built = run_cli("corpus", "build", "docs.jsonl", "-o", "idx", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert f"indexed {len(DOCS)} documents" in built.stdout
    found = run_cli("corpus", "search", "idx", "head kick knockout", "-k", "2", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("[0] Title: Holly Holm\n[0] URL Source: https://en.example.org/wiki/Holly_Holm")
    opened = run_cli("corpus", "open", "idx", "en.example.org/wiki/Bread", cwd=tmp_path)
    assert opened.returncode == 0 and "Markdown Content:\nBread is a staple food" in opened.stdout


def test_cli_reports_bad_lines_and_refuses_to_overwrite(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "bad.jsonl", [DOCS[0], "{oops"])
    bad = run_cli("corpus", "build", "bad.jsonl", "-o", "idx", cwd=tmp_path)
    assert bad.returncode == 1 and "line 2: invalid JSON" in " ".join(bad.stderr.split())
    write_jsonl(tmp_path / "docs.jsonl", DOCS)
    assert run_cli("corpus", "build", "docs.jsonl", "-o", "idx", cwd=tmp_path).returncode == 0
    again = run_cli("corpus", "build", "docs.jsonl", "-o", "idx", cwd=tmp_path)
    assert again.returncode == 1 and "--force" in again.stderr
    assert run_cli("corpus", "build", "docs.jsonl", "-o", "idx", "--force", cwd=tmp_path).returncode == 0
    missing = run_cli("corpus", "search", "nope", "x", cwd=tmp_path)
    assert missing.returncode == 1 and "no corpus 'nope'" in missing.stderr
    assert "'example' for the shipped example corpus" in missing.stderr
    (tmp_path / "empty").mkdir()
    not_index = run_cli("corpus", "search", "empty", "x", cwd=tmp_path)
    assert not_index.returncode == 1 and "not a carr_agent corpus index" in not_index.stderr


def test_cli_takes_the_shipped_corpus_by_name_and_a_jsonl_by_path(tmp_path: Path) -> None:
    """Defect: the shipped corpus's index hid in a hashed cache folder the user had to find."""
    found = run_cli("corpus", "search", "example", "Ember Suite composer", "-k", "3", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "https://valdopedia.example/wiki/Teodor_Halvane" in found.stdout
    opened = run_cli("corpus", "open", "example", "https://valdopedia.example/wiki/Ember_Suite",
                     "--budget", "300", cwd=tmp_path)
    assert opened.returncode == 0 and "Title: Ember Suite" in opened.stdout
    write_jsonl(tmp_path / "docs.jsonl", DOCS)
    by_file = run_cli("corpus", "search", "docs.jsonl", "head kick knockout", "-k", "1",
                      cwd=tmp_path)
    assert by_file.returncode == 0 and "Holly_Holm" in by_file.stdout
