"""Task files with hostile or broken content: every bad line is named, the good ones still load."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from carr_agent.errors import TaskFormatError
from carr_agent.task_files import MAX_ENTITY_LABEL, TaskFileError, check_rubrics, read_tasks

GOOD = {"id": "good", "question": "Which river?", "label": "Velda", "rubrics": ["<E0> is a river."]}


def _file(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _good(task_id: str = "good") -> bytes:
    return json.dumps({**GOOD, "id": task_id}).encode()


@pytest.mark.parametrize(("line", "reason"), [
    (b'{"id": "x", "question": "caf\xe9?", "label": "y"}', "not UTF-8 text (byte 0xe9 at column 29)"),
    (b"\x00\x01\x02\xff\xfe binary", "not UTF-8 text"),
    (b'{"id": "x"\x00}', "NUL bytes"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"id": 1' + b"0" * 5000 + b', "question": "q", "label": "a"}', "invalid JSON"),
    (b'{"id": "x", "question": "q\\ud800", "label": "a"}', "lone surrogate"),
    (b'{"id": "x", "question": "q", "label": NaN}', "NaN is not a JSON number"),
    (b'{"id": "x", "question": "q", "label": Infinity}', "Infinity is not a JSON number"),
    (b'{"id": "x", "question": "q", "label": "a", "rubrics": ["<E0> and <E5000000>"]}',
     f"over the limit <E{MAX_ENTITY_LABEL}>"),
    (b'{"id": "x", "question": "q", "label": "a", "rubrics": ["<E0> <E' + b"9" * 5000 + b'>"]}',
     "is over the limit"),
])
def test_a_bad_line_is_named_with_its_reason_and_the_other_lines_load(tmp_path, line, reason) -> None:
    path = _file(tmp_path, _good("a"), line, _good("b"))
    started = time.perf_counter()
    task_set = read_tasks(path)
    assert time.perf_counter() - started < 2.0
    assert [t.id for t in task_set.tasks] == ["a", "b"]
    (error,) = task_set.errors
    assert error.line == 2 and reason in error.reason, error.reason


def test_a_utf8_byte_order_mark_is_accepted(tmp_path) -> None:
    path = _file(tmp_path, b"\xef\xbb\xbf" + _good("first"), _good("second"))
    task_set = read_tasks(path)
    assert [t.id for t in task_set.tasks] == ["first", "second"] and not task_set.errors


def test_a_utf16_file_is_refused_naming_the_encoding(tmp_path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "id": "b"}) + "\n", encoding="utf-16")
    with pytest.raises(TaskFileError) as err:
        read_tasks(path)
    assert "line 1" in str(err.value) and "UTF-16" in str(err.value)
    assert all(e.line for e in err.value.errors)


def test_a_binary_file_gives_line_numbered_reasons_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(TaskFileError) as err:
        read_tasks(path)
    assert err.value.errors and all(e.reason for e in err.value.errors)


def test_label_gaps_are_reported_briefly_and_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(TaskFormatError, match=r"but not E1, E2, E4, E6, .* \(and 986 more\)"):
        check_rubrics(["<E0> is", "<E3> and <E5>", f"<E{MAX_ENTITY_LABEL}>"])
    assert time.perf_counter() - started < 0.5
    check_rubrics([f"<E{i}> x" for i in range(MAX_ENTITY_LABEL + 1)])  # the limit itself is fine
