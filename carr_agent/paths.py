"""Where carr_agent keeps files on the user's machine: the one reader of these directories.

Everything cached (the example corpus index, converted local models, the judge-output cache)
lives under :func:`cache_root`: ``$CARR_AGENT_CACHE`` when set, else the platform's user cache
directory for ``carr-agent`` (``~/.cache/carr-agent`` on Linux). Run checkpoints live under
:func:`data_root`: ``$CARR_AGENT_DATA``, else the platform's user data directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: Environment variable that moves the whole cache.
ENV_CACHE = "CARR_AGENT_CACHE"
#: Environment variable that moves the run data (checkpoints).
ENV_DATA = "CARR_AGENT_DATA"
APP_NAME = "carr-agent"


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """The cache directory: ``$CARR_AGENT_CACHE`` (``~`` expanded) or the user cache dir."""
    return _root(ENV_CACHE, "user_cache_dir", env)


def data_root(env: Mapping[str, str] | None = None) -> Path:
    """Where runs are kept (checkpoints): ``$CARR_AGENT_DATA`` or the user data directory."""
    return _root(ENV_DATA, "user_data_dir", env)


def _root(variable: str, platform_dir: str, env: Mapping[str, str] | None) -> Path:
    """``$variable`` (``~`` expanded), else ``platformdirs.<platform_dir>("carr-agent")``."""
    override = (os.environ if env is None else env).get(variable)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(getattr(platformdirs, platform_dir)(APP_NAME))


def checkpoints_path(env: Mapping[str, str] | None = None) -> Path:
    """The default SQLite checkpoint database of ``carr-agent run``."""
    return data_root(env) / "checkpoints.sqlite"


def corpus_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where corpus indexes built on first use are kept."""
    return cache_root(env) / "corpus"


def models_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where converted local models are kept."""
    return cache_root(env) / "models"


def judge_cache_path(env: Mapping[str, str] | None = None) -> Path:
    """The default judge-output cache (SQLite)."""
    return cache_root(env) / "judge-cache.sqlite"


__all__ = [
    "APP_NAME",
    "ENV_CACHE",
    "ENV_DATA",
    "cache_root",
    "checkpoints_path",
    "corpus_cache_dir",
    "data_root",
    "judge_cache_path",
    "models_cache_dir",
]
