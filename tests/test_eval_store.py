"""The SQLite results store: durable per-task writes, no duplicates, unknown stored as NULL."""

from __future__ import annotations

import sqlite3

import pytest

from carr_agent.errors import DataError
from carr_agent.eval import EvalConfig, EvalRecord, ResultStore
from carr_agent.graph.config import AgentConfig


def config(**kw) -> EvalConfig:
    return EvalConfig(model="m", corpus="c", judge="j", **kw)


def record(task_id: str, cfg: str, **kw) -> EvalRecord:
    base = dict(task_id=task_id, config_hash=cfg, question="q?", label="a", answer="ans",
                outcome_reward=1.0, rubric_reward=0.5, reward=0.85,
                rubric_scores=[{"raw_rubric": "<E0> x", "is_supported": True}],
                trajectory={"messages": []}, ledger=[{"url": "https://x.org", "text": "t"}])
    base.update(kw)
    return EvalRecord(**base)


def test_config_hash_depends_on_settings_but_is_stable():
    assert config().hash == config().hash
    assert config(agent=AgentConfig(max_tool_calls=5)).hash != config().hash
    assert config(agent=AgentConfig(min_tool_calls=0)).hash != config().hash
    assert len(config().hash) == 64


def test_saved_results_survive_reopening_and_are_skipped(tmp_path):
    path = tmp_path / "r.sqlite"
    cfg = config()
    with ResultStore(path) as store:
        store.register_run(cfg.hash, cfg.to_dict())
        assert store.save(record("t1", cfg.hash))
    with ResultStore(path) as store:
        assert store.finished_ids(cfg.hash) == {"t1"}
        (got,) = store.records(cfg.hash)
        assert got == record("t1", cfg.hash, finished_at=got.finished_at)
        assert store.runs()[0].config == cfg.to_dict()
        assert store.runs()[0].n_ok == 1


def test_an_ok_result_is_never_overwritten_or_duplicated(tmp_path):
    cfg = config()
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.register_run(cfg.hash, cfg.to_dict())
        assert store.save(record("t1", cfg.hash, answer="first"))
        assert not store.save(record("t1", cfg.hash, answer="second"))
        assert store.count(cfg.hash) == 1
        assert store.records(cfg.hash)[0].answer == "first"


def test_a_failed_result_is_replaced_by_the_retry(tmp_path):
    cfg = config()
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.register_run(cfg.hash, cfg.to_dict())
        store.save(record("t1", cfg.hash, status="failed", errors=["ModelError: boom"],
                          outcome_reward=None, rubric_reward=None, reward=None))
        assert store.finished_ids(cfg.hash) == set()
        assert store.records(cfg.hash, status="failed")[0].errors == ["ModelError: boom"]
        assert store.save(record("t1", cfg.hash))
        assert store.count(cfg.hash) == 1
        assert store.records(cfg.hash, status=None)[0].status == "ok"


def test_same_task_under_two_configs_gives_two_results(tmp_path):
    a, b = config(), config(alpha=0.5)
    with ResultStore(tmp_path / "r.sqlite") as store:
        for cfg in (a, b):
            store.register_run(cfg.hash, cfg.to_dict())
            store.save(record("t1", cfg.hash))
        assert store.count() == 2
        assert store.resolve_run(b.hash[:8]).config_hash == b.hash


def test_unknown_scores_are_stored_as_null_not_zero(tmp_path):
    path = tmp_path / "r.sqlite"
    cfg = config()
    with ResultStore(path) as store:
        store.register_run(cfg.hash, cfg.to_dict())
        store.save(record("t1", cfg.hash, outcome_reward=None, reward=None,
                          errors=["outcome judge failed: timeout"]))
    row = sqlite3.connect(path).execute(
        "SELECT outcome_reward, rubric_reward, reward FROM results").fetchone()
    assert row == (None, 0.5, None)
    with ResultStore(path) as store:
        assert store.records(cfg.hash)[0].outcome_reward is None


def test_the_store_uses_wal_journaling(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path):
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DataError, match="not a usable results store"):
        ResultStore(bogus)
    with pytest.raises(DataError, match="results store not found"):
        ResultStore.open_existing(tmp_path / "missing.sqlite")


def test_a_store_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(DataError, match="newer"):
        ResultStore(path)


def test_resolving_an_unknown_or_ambiguous_run_names_the_runs(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(DataError, match="holds no evaluation runs"):
            store.resolve_run()
        cfg = config()
        store.register_run(cfg.hash, cfg.to_dict())
        with pytest.raises(DataError, match=r"no run .* matches 'zzz'"):
            store.resolve_run("zzz")


def test_another_sqlite_file_is_refused_as_a_store_and_left_untouched(tmp_path):
    other = tmp_path / "checkpoints.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE checkpoints (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(DataError, match="not a carr-agent results store"):
        ResultStore.open_existing(other)
    with pytest.raises(DataError, match="not a carr-agent results store"):
        ResultStore(other)  # what `carr-agent eval --store` opens
    tables = {r[0] for r in sqlite3.connect(other).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"checkpoints"}
