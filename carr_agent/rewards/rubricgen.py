"""Rubric generation: an LLM decomposes a multi-hop question into ``<E>``-labelled rubrics.

CaRR needs, per question, atomic single-hop statements with entity placeholders (``<E0>`` = the
final answer, ``<E1>``… = hidden intermediate entities). The paper produces them offline with a
strong LLM; this module does the same against any OpenAI-compatible endpoint (or any langchain chat
model), validates the output and asks again when it is invalid:

* the output holds a JSON list of strings (or an object with a ``rubrics`` list);
* ``<E0>`` occurs; labels are contiguous ``E0..En`` (no gaps);
* every rubric mentions at least one entity (one without can never connect to the answer).

Results are written as task JSONL in this project's format
(``{"id", "question", "label", "rubrics", "metadata"}``), one line per question, appended and
resumable by ``id``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carr_agent.errors import ConfigError, DataError, JudgeError, JudgeOutputError
from carr_agent.retry import Backoff, retry_async
from carr_agent.rewards.rubrics import ENTITY_PATTERN, all_entity_labels

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

RUBRIC_PROMPT = """Decompose the multi-hop question below into rubrics: atomic, single-hop factual \
statements that together pin down the answer.

Rules:
- Write the final answer entity as <E0> and each hidden intermediate entity as <E1>, <E2>, ... \
(contiguous numbers, first use in order).
- Every rubric must mention at least one entity placeholder, and <E0> must appear.
- Each rubric states one fact that a single web page could confirm; copy numbers, dates and names \
from the question exactly. Do not reveal entity identities in the rubrics.
- Usually 4 to 10 rubrics.

Return only a JSON list of strings in a ```json block, e.g.
```json
["<E0> is a river.", "<E0> flows through <E1>.", "<E1> is the birthplace of <E2>."]
```

[Begin of Question]
{question}
[End of Question]

[Begin of Answer]
{answer}
[End of Answer]
"""

_JSON_BLOCK = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.S | re.I)


def parse_rubric_output(text: str) -> list[str]:
    """Rubrics from an LLM reply: the last fenced JSON block (or the whole reply) as a list.

    Raises:
        JudgeOutputError: no JSON list of strings found.
    """
    blocks = _JSON_BLOCK.findall(text)
    candidates = [*reversed(blocks), text.strip()]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            data = data.get("rubrics")
        if isinstance(data, list) and all(isinstance(r, str) for r in data):
            return [r.strip() for r in data if r.strip()]
    raise JudgeOutputError("the reply holds no JSON list of rubric strings")


def validate_rubrics(rubrics: Sequence[str]) -> list[str]:
    """Check the CaRR rubric contract; returns the rubrics unchanged when valid.

    Raises:
        JudgeOutputError: naming the first violated rule.
    """
    if not rubrics:
        raise JudgeOutputError("no rubrics")
    labels = all_entity_labels(rubrics)
    if "E0" not in labels:
        raise JudgeOutputError("no rubric mentions the answer entity <E0>")
    expected = [f"E{i}" for i in range(len(labels))]
    if labels != expected:
        missing = sorted(set(expected) - set(labels), key=lambda lab: int(lab[1:]))
        raise JudgeOutputError(
            f"entity labels are not contiguous E0..E{len(labels) - 1}: missing {', '.join(missing)}"
        )
    for index, rubric in enumerate(rubrics, start=1):
        if not ENTITY_PATTERN.search(rubric):
            raise JudgeOutputError(f"rubric {index} mentions no entity: {rubric!r}")
    return list(rubrics)


class RubricGenerator:
    """Asks a chat model for rubrics and retries until they are valid.

    Args:
        chat_model: any langchain chat model (``ChatOpenAI`` for a vLLM/OpenAI endpoint).
        attempts: tries per question (invalid output or transport failure → another try).
        backoff: the wait between tries (default: short exponential backoff).
        model_name: recorded in the written tasks' metadata.
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        *,
        attempts: int = 3,
        backoff: Backoff | None = None,
        model_name: str | None = None,
    ) -> None:
        if attempts < 1:
            raise ConfigError(f"attempts must be >= 1, got {attempts}")
        self.chat_model = chat_model
        self.backoff = backoff or Backoff(attempts=attempts, base_delay=0.2, max_delay=4.0)
        if self.backoff.attempts != attempts:
            self.backoff = Backoff(attempts=attempts, base_delay=self.backoff.base_delay,
                                   factor=self.backoff.factor, max_delay=self.backoff.max_delay,
                                   jitter=self.backoff.jitter)
        self.model_name = model_name

    @classmethod
    def from_openai(
        cls,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        attempts: int = 3,
        timeout: float = 120.0,
    ) -> RubricGenerator:
        """A generator over an OpenAI-compatible endpoint.

        Unset arguments come from ``CARR_JUDGE_BASE_URL``, ``CARR_JUDGE_MODEL`` and
        ``CARR_JUDGE_API_KEY`` (then ``OPENAI_API_KEY``).

        Raises:
            ConfigError: no base URL or model given.
        """
        from carr_agent.models.openai_compat import openai_chat_model

        base_url = base_url or os.environ.get("CARR_JUDGE_BASE_URL")
        model = model or os.environ.get("CARR_JUDGE_MODEL")
        if not base_url or not model:
            raise ConfigError(
                "rubric generation needs an LLM: pass --judge-base-url and --model "
                "(or set CARR_JUDGE_BASE_URL and CARR_JUDGE_MODEL)"
            )
        key = api_key or os.environ.get("CARR_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY")
        chat = openai_chat_model(model, base_url, key or "EMPTY", temperature=0, max_retries=0,
                                 timeout=timeout)
        return cls(chat, attempts=attempts, model_name=model)

    async def agenerate(self, question: str, answer: str | None = None) -> list[str]:
        """Valid rubrics for one question.

        Raises:
            JudgeError: every attempt failed (the last reason is named).
        """
        prompt = RUBRIC_PROMPT.format(question=question.strip(), answer=(answer or "(not given)"))

        async def attempt() -> list[str]:
            try:
                reply = await self.chat_model.ainvoke(prompt)
            except Exception as exc:  # vendor transport errors → JudgeError at the seam
                raise JudgeError(f"rubric model call failed: {exc}") from exc
            text = reply.content if isinstance(reply.content, str) else str(reply.content)
            return validate_rubrics(parse_rubric_output(text))

        return await retry_async(attempt, backoff=self.backoff, retry_on=(JudgeError,),
                                 describe="rubric generation")


@dataclass
class RubricSummary:
    """What one ``generate_tasks_jsonl`` run did."""

    total: int = 0
    already_done: int = 0
    written: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)


def _question_record(number: int, record: Any) -> tuple[str, str, str]:
    if not isinstance(record, dict):
        raise DataError("not a JSON object")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError("no 'question' string")
    label = record.get("label", record.get("answer"))
    if label is not None and not isinstance(label, str):
        label = str(label)
    if not label:
        raise DataError("no 'label' (or 'answer'): tasks need the gold answer")
    return str(record.get("id", f"q{number}")), question.strip(), label


async def generate_tasks_jsonl(
    in_path: Path,
    out_path: Path,
    generator: RubricGenerator,
    *,
    concurrency: int = 4,
    on_total: Callable[[int], None] | None = None,
    on_result: Callable[[int, bool], None] | None = None,
) -> RubricSummary:
    """Generate rubrics for every question of ``in_path`` whose id is not yet in ``out_path``.

    Input lines: ``{"id"?, "question", "label" | "answer"}``. Output lines: tasks
    ``{"id", "question", "label", "rubrics", "metadata": {"rubric_model": ...}}``.
    """
    if not in_path.is_file():
        raise DataError(f"input file not found: {in_path}")
    done: set[str] = set()
    if out_path.exists():
        for line in out_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    done.add(str(json.loads(line)["id"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
    summary = RubricSummary()
    todo: list[tuple[int, str, str, str]] = []
    for number, line in enumerate(in_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        summary.total += 1
        try:
            task_id, question, label = _question_record(number, json.loads(line))
        except (json.JSONDecodeError, DataError) as exc:
            summary.bad.append((number, str(exc)))
            continue
        if task_id in done:
            summary.already_done += 1
            continue
        todo.append((number, task_id, question, label))
    if on_total is not None:
        on_total(len(todo))
    limit = asyncio.Semaphore(concurrency)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a", encoding="utf-8") as out:

        async def one(number: int, task_id: str, question: str, label: str) -> None:
            async with limit:
                try:
                    rubrics = await generator.agenerate(question, label)
                except JudgeError as exc:
                    logger.warning("line %d: %s", number, exc)
                    summary.bad.append((number, str(exc)))
                    if on_result is not None:
                        on_result(number, False)
                    return
            record = {"id": task_id, "question": question, "label": label, "rubrics": rubrics,
                      "metadata": {"rubric_model": generator.model_name}}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            summary.written += 1
            if on_result is not None:
                on_result(number, True)

        await asyncio.gather(*(one(*item) for item in todo))
    return summary


__all__ = [
    "RUBRIC_PROMPT",
    "RubricGenerator",
    "RubricSummary",
    "generate_tasks_jsonl",
    "parse_rubric_output",
    "validate_rubrics",
]
