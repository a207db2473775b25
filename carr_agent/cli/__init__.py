"""The ``carr-agent`` command line: parse arguments, call the library, print. Nothing else.

Each command group lives in its own module and registers itself on :data:`app`; heavy libraries are
imported inside the commands so ``carr-agent --help`` stays fast.
"""

from __future__ import annotations

import importlib

from carr_agent.cli.app import app

_COMMAND_MODULES = ("run", "corpus", "models", "rewards", "train", "evaluate")


def _register() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"carr_agent.cli.{name}")


def main() -> None:
    """Entry point of the ``carr-agent`` script."""
    _register()
    app()


__all__ = ["app", "main"]
