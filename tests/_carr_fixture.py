"""Shared test data for the reward-hook tests: a fictional two-hop task and its evidence.

Loaded from ``examples/data/build_sample_requests.py`` so the tests and the shipped sample
requests describe the same world.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_REQUESTS = ROOT / "examples" / "data" / "evaluate_requests.jsonl"

_spec = importlib.util.spec_from_file_location(
    "carr_sample_requests", ROOT / "examples" / "data" / "build_sample_requests.py"
)
sample = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(sample)  # type: ignore[union-attr]


def sample_requests() -> dict[str, dict]:
    """The shipped sample /evaluate requests by id."""
    lines = SAMPLE_REQUESTS.read_text(encoding="utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def sample_task_dict() -> dict:
    return {"id": "silver-lantern", "question": sample.QUESTION, "label": sample.LABEL,
            "rubrics": list(sample.RUBRICS), "entities": dict(sample.ENTITIES)}
