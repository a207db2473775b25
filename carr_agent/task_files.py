"""Task files: JSONL research tasks in this project's format or the public CaRR-DeepDive layout.

Two layouts are read as they are, one JSON object per line (blank lines are ignored):

* **This project's format**::

      {"id": "t1", "question": "...", "label": "...", "aliases": [...] or {"E1": [...]},
       "rubrics": ["<E0> ...", ...], "entities": {"E0": "...", "E1": "..."},
       "hops": 2, "traps": [...], "gold_urls": [...]}

* **The CaRR-DeepDive / BrowseComp-style reference layout**: the prompt as a message list
  (``input_messages``, ``prompt`` or ``messages``) or a ``question``/``problem`` field, the gold
  answer in ``label`` (or ``answer``), and ``metadata.remote_env_info`` holding
  ``search_forbidden_strs`` (its first item is the bare question the judges see) and ``rubrics``.

A line that cannot be used (not UTF-8, invalid JSON, JSON nested too deeply, an integer too large
to read, a lone surrogate, no label, no question, rubrics that never mention ``<E0>``, entity
labels with gaps such as E0, E1, E3 or beyond ``<E{MAX_ENTITY_LABEL}>``, a duplicate id) is
reported with its line number and reason and skipped; a UTF-8 byte-order mark is accepted; :func:`load_tasks` raises only when nothing usable is left (or,
with ``strict=True``, at the first report). ``aliases``, ``hops``, ``traps``, ``gold_urls`` and
any other key a record carries (e.g. ``source``, ``tools``) go into :attr:`Task.metadata`, where
:class:`~carr_agent.rewards.DeterministicJudge` reads ``aliases`` (a list: aliases of the label;
a mapping: aliases per entity label) and ``entity_aliases``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carr_agent.errors import TaskFormatError
from carr_agent.rewards.rubrics import MAX_ENTITY_LABEL, rubrics_problem
from carr_agent.types import Task

logger = logging.getLogger(__name__)

#: Keys of this project's format that are kept in ``Task.metadata`` (with any other extra key).
METADATA_KEYS = ("aliases", "entity_aliases", "hops", "traps", "trap_details", "gold_urls", "rubric_urls")
_PROMPT_KEYS = ("input_messages", "prompt", "messages")
_QUESTION_KEYS = ("question", "problem")
_LABEL_KEYS = ("label", "answer")
#: Keys that become Task fields; every other key of a record is kept in ``Task.metadata``.
_CONSUMED = frozenset({"id", "question", "problem", "label", "answer", "rubrics", "entities",
                       "metadata", "input_messages", "prompt", "messages"})
_ENTITY_KEY = re.compile(r"E\d+")
#: The largest entity label a rubric may use (real tasks use a handful; a bound keeps a label such
#: as ``<E5000000>`` from making the scorer build millions of slots).
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True, slots=True)
class TaskLineError:
    """One unusable line of a task file.

    Attributes:
        line: 1-based line number in the file.
        reason: what is wrong, naming the key.
        task_id: the line's ``id`` when it could be read.
    """

    line: int
    reason: str
    task_id: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (id {self.task_id!r})" if self.task_id else "")
        return f"{where}: {self.reason}"


class TaskFileError(TaskFormatError):
    """A task file with no usable task, or (strict mode) with any unusable line.

    Attributes:
        path: the file.
        errors: every :class:`TaskLineError` found (line number and reason).
    """

    def __init__(self, path: Path, errors: Sequence[TaskLineError], message: str) -> None:
        self.path = path
        self.errors = tuple(errors)
        shown = "\n".join(f"  {e}" for e in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"{path}: {message}" + (f"\n{shown}{more}" if shown else ""))


@dataclass(frozen=True, slots=True)
class TaskSet:
    """What a task file yielded: the usable tasks and the skipped lines."""

    path: Path
    tasks: tuple[Task, ...]
    errors: tuple[TaskLineError, ...] = field(default=())


def iter_tasks(path: str | Path) -> Iterator[Task | TaskLineError]:
    """Yield each line of a JSONL task file as a :class:`Task` or a :class:`TaskLineError`.

    Never raises for a bad line (the caller decides); raises :class:`TaskFormatError` only when
    the file cannot be read at all.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise TaskFormatError(f"cannot read task file {path}: {exc}") from exc
    seen: set[str] = set()
    with handle:
        for lineno, data in enumerate(handle, start=1):
            if lineno == 1:
                data = data.removeprefix(_UTF8_BOM)
            text = _decode_line(data, lineno)
            if isinstance(text, TaskLineError):
                yield text
                continue
            if not text.strip():
                continue
            item = parse_task_line(text, lineno)
            if isinstance(item, Task):
                if item.id in seen:
                    item = TaskLineError(lineno, f"duplicate task id {item.id!r}", item.id)
                else:
                    seen.add(item.id)
            yield item


def read_tasks(path: str | Path, *, strict: bool = False) -> TaskSet:
    """Read a task file: usable tasks plus a report of the skipped lines.

    Raises:
        TaskFileError: no usable task in the file, or ``strict`` and any line is unusable.
    """
    path = Path(path)
    tasks: list[Task] = []
    errors: list[TaskLineError] = []
    for item in iter_tasks(path):
        if isinstance(item, Task):
            tasks.append(item)
        else:
            if strict:
                raise TaskFileError(path, [item], "unusable task line (strict mode)")
            logger.warning("%s: skipped %s", path, item)
            errors.append(item)
    if not tasks:
        why = "no usable task" if errors else "the file contains no tasks"
        raise TaskFileError(path, errors, why)
    return TaskSet(path=path, tasks=tuple(tasks), errors=tuple(errors))


def load_tasks(path: str | Path, *, strict: bool = False) -> list[Task]:
    """The usable tasks of a JSONL task file (bad lines are logged and skipped).

    Args:
        path: the task file (this project's format or the CaRR-DeepDive layout, mixed freely).
        strict: raise at the first unusable line instead of skipping it.

    Raises:
        TaskFileError: (a :class:`~carr_agent.errors.TaskFormatError`) the file is empty, holds
            no usable task, or ``strict`` and a line is unusable; ``.errors`` lists every
            line number with its reason.
    """
    return list(read_tasks(path, strict=strict).tasks)


def _decode_line(data: bytes, lineno: int) -> str | TaskLineError:
    """A line's text, or why it is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf16 = lineno == 1 and data.startswith(_UTF16_BOMS)
        hint = "; the file looks UTF-16: save it as UTF-8" if utf16 else ""
        return TaskLineError(lineno, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column "
                                     f"{exc.start + 1}){hint}")
    if "\x00" in text:
        return TaskLineError(lineno, "holds NUL bytes: not a UTF-8 text line (UTF-16 or binary?)")
    return text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_task_line(raw: str, lineno: int) -> Task | TaskLineError:
    """One JSONL line as a :class:`Task`, or the reason it cannot be one. Never raises for bad
    content: invalid or too deeply nested JSON, huge integers, ``NaN``/``Infinity`` and lone
    surrogates are reasons like any other."""
    try:
        record = json.loads(raw, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return TaskLineError(lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return TaskLineError(lineno, "invalid JSON: nested too deeply")
    except ValueError as exc:  # an integer over Python's digit limit, NaN/Infinity
        return TaskLineError(lineno, f"invalid JSON: {exc}")
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return TaskLineError(lineno, f"a string holds a lone surrogate ({exc.object[exc.start]!r}), "
                                     "which is not Unicode text")
    except (ValueError, RecursionError) as exc:  # pragma: no cover - json.loads caught these
        return TaskLineError(lineno, f"unusable JSON: {exc}")
    if not isinstance(record, dict):
        return TaskLineError(lineno, f"expected a JSON object, got {type(record).__name__}")
    task_id = record.get("id")
    shown_id = str(task_id) if isinstance(task_id, (str, int)) else None
    try:
        return task_from_record(record)
    except TaskFormatError as exc:
        return TaskLineError(lineno, str(exc), shown_id)


def task_from_record(record: Mapping[str, Any]) -> Task:
    """A :class:`Task` from one decoded record of either layout.

    Raises:
        TaskFormatError: the record lacks a label or a question, or its rubrics are unusable.
    """
    meta = record.get("metadata")
    env = meta.get("remote_env_info") if isinstance(meta, Mapping) else None
    if env is not None and not isinstance(env, Mapping):
        raise TaskFormatError("metadata.remote_env_info must be an object")
    env = env or {}
    label = _label(record)
    prompt = _prompt(record)
    forbidden = _forbidden(env)
    question = forbidden[0] if forbidden else _question(record, prompt)
    rubrics = _rubrics(record, env)
    entities = _entities(record.get("entities"))
    if entities is not None:
        _check_entity_keys(entities, rubrics)
    task_id = _task_id(record, question)
    metadata: dict[str, object] = {k: v for k, v in record.items() if k not in _CONSUMED}
    if isinstance(meta, Mapping):
        extra = {k: v for k, v in meta.items() if k != "remote_env_info"}
        if extra:
            metadata["source_metadata"] = extra
    return Task(
        id=task_id,
        question=question,
        label=label,
        rubrics=tuple(rubrics),
        entities=entities,
        forbidden_strs=tuple(forbidden) if forbidden else (question,),
        prompt=prompt if prompt and prompt != question else None,
        metadata=metadata,
    )


def check_rubrics(rubrics: Sequence[str]) -> None:
    """Rubrics must be non-blank, mention ``<E0>`` and use contiguous entity labels E0..En up to
    ``<E{MAX_ENTITY_LABEL}>`` (:func:`carr_agent.rewards.rubrics.rubrics_problem`).

    Raises:
        TaskFormatError: naming the problem.
    """
    problem = rubrics_problem(rubrics)
    if problem is not None:
        raise TaskFormatError(problem)


# -- fields ----------------------------------------------------------------------------------


def _label(record: Mapping[str, Any]) -> str:
    for key in _LABEL_KEYS:
        if key in record:
            value = record[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                raise TaskFormatError(f"'{key}' must be a non-empty string")
            return value.strip()
    raise TaskFormatError("missing 'label' (the gold answer)")


def _prompt(record: Mapping[str, Any]) -> str | None:
    for key in _PROMPT_KEYS:
        if key not in record:
            continue
        value = record[key]
        if isinstance(value, str):
            return value
        if not isinstance(value, list):
            raise TaskFormatError(f"'{key}' must be a list of messages or a string")
        users = [
            m.get("content")
            for m in value
            if isinstance(m, Mapping) and m.get("role") == "user"
        ]
        texts = [c for c in users if isinstance(c, str) and c.strip()]
        if not texts:
            raise TaskFormatError(f"'{key}' has no user message with text content")
        return texts[-1]
    return None


def _forbidden(env: Mapping[str, Any]) -> list[str]:
    if "search_forbidden_strs" not in env:
        return []
    value = env["search_forbidden_strs"]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise TaskFormatError(
            "metadata.remote_env_info.search_forbidden_strs must be a list of strings"
        )
    if value and not value[0].strip():
        raise TaskFormatError("metadata.remote_env_info.search_forbidden_strs[0] is empty")
    return list(value)


def _question(record: Mapping[str, Any], prompt: str | None) -> str:
    for key in _QUESTION_KEYS:
        if key in record:
            value = record[key]
            if not isinstance(value, str) or not value.strip():
                raise TaskFormatError(f"'{key}' must be a non-empty string")
            return value.strip()
    if prompt and prompt.strip():
        return prompt.strip()
    raise TaskFormatError(
        "missing question: give 'question', a prompt message list, or "
        "metadata.remote_env_info.search_forbidden_strs"
    )


def _rubrics(record: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    if "rubrics" in record:
        value, where = record["rubrics"], "rubrics"
    else:
        value, where = env.get("rubrics", []), "metadata.remote_env_info.rubrics"
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(r, str) and r.strip() for r in value):
        raise TaskFormatError(f"'{where}' must be a list of non-empty strings")
    check_rubrics(value)
    return list(value)


def _entities(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TaskFormatError("'entities' must be an object mapping E0, E1, ... to values")
    out: dict[str, str] = {}
    for key, val in value.items():
        if isinstance(val, (int, float)) and not isinstance(val, bool):
            val = str(val)
        if not isinstance(val, str) or not val.strip():
            raise TaskFormatError(f"'entities.{key}' must be a non-empty string")
        out[str(key)] = val
    return out


def _check_entity_keys(entities: Mapping[str, str], rubrics: Sequence[str]) -> None:
    bad = [k for k in entities if not _ENTITY_KEY.fullmatch(k)]
    if bad:
        raise TaskFormatError(f"'entities' keys must look like E0, E1, ...; got {bad}")


def _task_id(record: Mapping[str, Any], question: str) -> str:
    value = record.get("id")
    if value is None:
        return "q-" + hashlib.sha1(question.encode("utf-8")).hexdigest()[:12]
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise TaskFormatError("'id' must be a non-empty string or an integer")
    return str(value)


__all__ = [
    "MAX_ENTITY_LABEL",
    "METADATA_KEYS",
    "TaskFileError",
    "TaskLineError",
    "TaskSet",
    "check_rubrics",
    "iter_tasks",
    "load_tasks",
    "parse_task_line",
    "read_tasks",
    "task_from_record",
]
