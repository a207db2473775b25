"""Where carr_agent keeps files on the user's machine: the one reader of the cache directory.

Everything cached (the example corpus index, converted local models, the judge-output cache)
lives under :func:`cache_root`: ``$CARR_AGENT_CACHE`` when set, else the platform's user cache
directory for ``carr-agent`` (``~/.cache/carr-agent`` on Linux).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: Environment variable that moves the whole cache.
ENV_CACHE = "CARR_AGENT_CACHE"
APP_NAME = "carr-agent"


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """The cache directory: ``$CARR_AGENT_CACHE`` (``~`` expanded) or the user cache dir."""
    env = os.environ if env is None else env
    override = env.get(ENV_CACHE)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME))


def corpus_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where corpus indexes built on first use are kept."""
    return cache_root(env) / "corpus"


def models_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where converted local models are kept."""
    return cache_root(env) / "models"


def judge_cache_path(env: Mapping[str, str] | None = None) -> Path:
    """The default judge-output cache (SQLite)."""
    return cache_root(env) / "judge-cache.sqlite"


__all__ = ["APP_NAME", "ENV_CACHE", "cache_root", "corpus_cache_dir", "judge_cache_path",
           "models_cache_dir"]
