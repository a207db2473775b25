"""Shared helpers for the reward-hook tests: a fictional two-hop task and real server processes.

The task data is loaded from ``examples/data/build_sample_requests.py`` so the tests and the
shipped sample requests describe the same world. ``start_fake_judge`` / ``start_server`` run real
processes on free ports and wait for their ``/health``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

from carr_agent.testing.processes import free_port, start_server, stop  # noqa: F401 (re-exported)

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


# ------------------------------------------------------------------ real server processes


def carr_agent_cmd() -> list[str]:
    """The installed ``carr-agent`` script of this interpreter's environment."""
    script = Path(sys.executable).with_name("carr-agent")
    if script.exists():
        return [str(script)]
    found = shutil.which("carr-agent")
    return [found] if found else [sys.executable, "-m", "carr_agent.cli"]


def write_gold_tasks(path: Path) -> Path:
    path.write_text(json.dumps(sample_task_dict()) + "\n", encoding="utf-8")
    return path


def start_fake_judge(tmp: Path, *, latency_ms: int = 0, mode: str = "ok") -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "carr_agent.testing.fake_judge_server", "--port", str(port),
           "--latency-ms", str(latency_ms), "--mode", mode, "--tasks", str(write_gold_tasks(tmp / "gold.jsonl"))]
    return start_server(cmd, port, log=tmp / "fake_judge.log"), port
