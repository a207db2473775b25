"""Every cache lives under the one cache directory ($CARR_AGENT_CACHE)."""

from __future__ import annotations

from carr_agent import paths
from carr_agent.models import offline
from carr_agent.rewards.judges.cache import default_cache_path
from carr_agent.tools import corpus


def test_every_cache_follows_carr_agent_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CARR_AGENT_CACHE", str(tmp_path))
    monkeypatch.delenv("CARR_JUDGE_CACHE", raising=False)
    assert paths.cache_root() == corpus.cache_dir() == offline.cache_root() == tmp_path
    assert paths.judge_cache_path() == default_cache_path() == tmp_path / "judge-cache.sqlite"
    assert offline.converted_dir("qwen2.5-0.5b").parent == tmp_path / "models"
    assert paths.corpus_cache_dir() == tmp_path / "corpus"


def test_without_the_variable_the_user_cache_dir_is_used(monkeypatch):
    from platformdirs import user_cache_dir

    monkeypatch.delenv("CARR_AGENT_CACHE", raising=False)
    assert str(paths.cache_root()) == user_cache_dir("carr-agent")
    assert paths.cache_root({"CARR_AGENT_CACHE": "~/x"}).name == "x"
