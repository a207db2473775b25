"""A bounded, seeded fuzz of the CLIs' file inputs: mutated request, task and corpus lines.

Every line must be accounted for (processed, or named with its line number and a reason), the
exit status must say whether anything was skipped, and no traceback may appear. The mutations are
the kinds that reach these files in practice: flipped and cut bytes, foreign encodings, deep
nesting, huge numbers, lone surrogates, NUL bytes, byte-order marks.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

from carr_agent.task_files import TaskFileError, read_tasks
from tests._carr_fixture import SAMPLE_REQUESTS, carr_agent_cmd
from tests.eval_support import deepdive_task, river_task, town_task, write_world
from tests.test_cli_inputs import _env

LINES_PER_FILE = 60


def mutate(rng: random.Random, line: bytes) -> bytes:
    """One random mutation of a JSON line."""
    kind = rng.randrange(12)
    if kind == 0:  # flip a byte
        i = rng.randrange(len(line))
        return line[:i] + bytes([rng.randrange(256)]) + line[i + 1:]
    if kind == 1:  # cut
        return line[: rng.randrange(len(line))]
    if kind == 2:  # deep nesting
        depth = rng.choice([100, 5_000, 200_000])
        return b"[" * depth + line + b"]" * depth
    if kind == 3:  # a huge integer where a number or string was
        return re.sub(rb'"[^"]{1,12}"', b"1" + b"7" * rng.choice([30, 4400, 9000]), line, count=1)
    if kind == 4:  # a lone surrogate in a string
        return line.replace(b'": "', b'": "\\ud800', 1)
    if kind == 5:
        return line.decode("utf-8").encode(rng.choice(["utf-16", "utf-32", "latin-1", "cp1252"]),
                                           errors="replace")
    if kind == 6:  # NUL bytes and control characters
        return line.replace(b" ", b"\x00", rng.randrange(1, 4))
    if kind == 7:
        return b"\xef\xbb\xbf" + line
    if kind == 8:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))).replace(b"\n", b"")
    if kind == 9:  # a value of the wrong type
        return re.sub(rb':\s*"[^"]*"', rng.choice([b": null", b": []", b": {}", b": 1e999", b": true"]),
                      line, count=1)
    if kind == 10:  # NaN / Infinity
        return re.sub(rb':\s*"[^"]*"', rng.choice([b": NaN", b": Infinity", b": -Infinity"]), line, count=1)
    return line  # unchanged: valid lines must still be processed


def fuzz_file(path: Path, base: list[bytes], seed: int) -> list[int]:
    """Write ``LINES_PER_FILE`` mutated lines; returns the numbers of the non-blank ones."""
    rng = random.Random(seed)
    lines = [mutate(rng, rng.choice(base)).replace(b"\n", b" ") for _ in range(LINES_PER_FILE)]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return [i for i, line in enumerate(lines, start=1) if line.strip()]


def test_fuzzed_request_lines_are_each_scored_or_named(tmp_path) -> None:
    base = [line.encode() for line in SAMPLE_REQUESTS.read_text(encoding="utf-8").splitlines()]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    numbers = fuzz_file(src, base, seed=10)
    proc = subprocess.run([*carr_agent_cmd(), "score", str(src), "-o", str(out)], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    scored = {json.loads(x)["line"] for x in out.read_text().splitlines()} if out.exists() else set()
    named = {int(n) for n in re.findall(r"line (\d+) skipped", proc.stderr)}
    assert set(numbers) <= scored | named
    assert proc.returncode == (1 if named else 0), proc.stderr[-2000:]


def test_fuzzed_task_lines_are_each_loaded_or_named(tmp_path) -> None:
    base = [json.dumps(t).encode() for t in (river_task(), town_task(), deepdive_task())]
    for seed in range(5):
        path = tmp_path / f"tasks{seed}.jsonl"
        numbers = fuzz_file(path, base, seed=seed)
        try:
            task_set = read_tasks(path)
        except TaskFileError as exc:  # nothing usable: every line is named
            assert {e.line for e in exc.errors} == set(numbers)
            continue
        # duplicated valid lines are named as duplicate ids, so each line is one or the other
        assert len(task_set.tasks) + len(task_set.errors) == len(numbers)


def test_fuzzed_task_file_through_eval_names_lines_and_exits_non_zero(tmp_path) -> None:
    base = [json.dumps(t).encode() for t in (river_task(), town_task())]
    path = tmp_path / "tasks.jsonl"
    fuzz_file(path, base, seed=99)
    corpus, script = write_world(tmp_path)
    proc = subprocess.run([*carr_agent_cmd(), "eval", str(path), "--store", str(tmp_path / "r.sqlite"),
                           "--model", f"scripted:{script}", "--corpus", str(corpus), "--limit", "1"],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (1, 2) and re.search(r"line \d+", proc.stderr)


def test_fuzzed_corpus_lines_are_named_by_corpus_build(tmp_path) -> None:
    docs = [{"url": "https://example.org/a", "title": "A", "text": "alpha beta"},
            {"url": "https://example.org/b", "title": "B", "text": "gamma delta", "date": "2020-01-01"}]
    src = tmp_path / "docs.jsonl"
    fuzz_file(src, [json.dumps(d).encode() for d in docs], seed=3)
    proc = subprocess.run([*carr_agent_cmd(), "corpus", "build", str(src), "-o", str(tmp_path / "ix")],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (0, 1)
    if proc.returncode:
        assert re.search(r"line \d+: ", proc.stderr)
