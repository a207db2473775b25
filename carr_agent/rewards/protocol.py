"""The reference reward server's ``POST /evaluate`` wire format: the one request parser, responses.

Every entry point that takes a reference-format request (the HTTP server
(:mod:`carr_agent.rewards.server`), the batch scorer ``carr-agent score``, and
``CarrScorer.score_history``) parses it with :func:`parse_request` and scores it with
:func:`score_request`, so they accept the same bodies and give the same reward. The TRL function
reads a ``remote_env_info`` column with the same :func:`task_from_env_info`.

Request (all four top-level keys required, as in the reference)::

    {"history": [...], "label": "...", "task_unfinished": false,
     "remote_env_info": {"search_forbidden_strs": ["<bare question>"], "rubrics": [...],
                         "rubric_reward_ratio": 0.3,
                         "entities": {"E0": "...", "E1": "..."}}}   # optional extension

``remote_env_info.entities`` is this project's optional extension: gold entity values, which let
the deterministic judge score a request without any LLM. The reference ignores unknown keys, so
requests carrying it stay valid there.

Response (HTTP 200): ``{"reward", "outcome_reward", "rubric_reward", "rubric_scores"}`` with
``rubric_scores`` keyed ``"0"``, ``"1"``… exactly as the reference. A judging failure is *not*
reported as zeros (the reference does that): :func:`error_response` adds ``"error"`` and sets the
unknown parts to ``null``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carr_agent.errors import TaskFormatError
from carr_agent.rewards.options import REQUEST_DEFAULT_ALPHA
from carr_agent.rewards.rubrics import rubrics_problem
from carr_agent.rewards.run import Trajectory, read_history
from carr_agent.types import RewardResult, RubricScore, Task

if TYPE_CHECKING:
    from carr_agent.rewards.scorer import CarrScorer

#: The keys the reference requires, in the order it checks them.
REQUIRED_KEYS = ("history", "label", "task_unfinished", "remote_env_info")


class RequestError(TaskFormatError):
    """An ``/evaluate`` request that cannot be scored; carries the HTTP status to answer with.

    Attributes:
        status: 400 for a missing key or a body that is not a JSON object (as the reference),
            422 for a key whose value has the wrong type or shape.
        key: the offending key (dotted path), when there is one.
    """

    def __init__(self, message: str, *, status: int = 422, key: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.key = key


@dataclass(frozen=True, slots=True)
class EvaluateRequest:
    """A validated ``/evaluate`` request.

    Attributes:
        history: the reference-format messages (validated as a list of objects only; the history
            parser reports deeper problems).
        label: the gold answer.
        task_unfinished: the rollout ended without an answer (scored all zeros).
        question: ``remote_env_info.search_forbidden_strs[0]``: the bare question judges see.
        rubrics: the rubrics (may be empty: rubric reward 0).
        alpha: ``rubric_reward_ratio`` (absent: :data:`REQUEST_DEFAULT_ALPHA`, 0 as the reference).
        entities: gold entity values (this project's extension), or None.
        forbidden_strs: all of ``search_forbidden_strs``.
        remote_env_info: the raw object, passed on untouched.
    """

    history: list[dict[str, Any]]
    label: str
    task_unfinished: bool
    question: str
    rubrics: tuple[str, ...]
    alpha: float
    entities: dict[str, str] | None = None
    forbidden_strs: tuple[str, ...] = ()
    remote_env_info: dict[str, Any] = field(default_factory=dict)

    def task(self, task_id: str = "request") -> Task:
        """The request as a :class:`~carr_agent.types.Task` (what the scorer core takes)."""
        return Task(
            id=task_id,
            question=self.question,
            label=self.label,
            rubrics=self.rubrics,
            entities=self.entities,
            forbidden_strs=self.forbidden_strs,
        )


def parse_request(body: Any) -> EvaluateRequest:
    """Validate an ``/evaluate`` body.

    A ``task_unfinished`` request is valid even when ``remote_env_info`` is incomplete (the
    reference answers it with zeros before reading anything else).

    Raises:
        RequestError: status 400 naming the first missing top-level key (or a body that is not a
            JSON object), 422 naming the first key with a bad value.
    """
    if not isinstance(body, Mapping):
        raise RequestError(
            f"request body must be a JSON object, got {_json_type(body)}", status=400
        )
    for key in REQUIRED_KEYS:
        if key not in body:
            raise RequestError(f"missing required key: {key}", status=400, key=key)
    unfinished = body["task_unfinished"]
    if not isinstance(unfinished, bool) and not (isinstance(unfinished, int) and unfinished in (0, 1)):
        raise RequestError(
            f"'task_unfinished' must be a boolean, got {_json_type(unfinished)}", key="task_unfinished"
        )
    history = body["history"]
    if not isinstance(history, list):
        raise RequestError(f"'history' must be a list of messages, got {_json_type(history)}",
                           key="history")
    for index, message in enumerate(history):
        if not isinstance(message, Mapping):
            raise RequestError(f"history[{index}] must be an object, got {_json_type(message)}",
                               key=f"history[{index}]")
        _check_tool_output_ids(index, message)
    label = body["label"]
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        label = str(label)
    if not isinstance(label, str):
        raise RequestError(f"'label' must be a string, got {_json_type(label)}", key="label")
    info = body["remote_env_info"]
    if not isinstance(info, Mapping):
        raise RequestError(
            f"'remote_env_info' must be an object, got {_json_type(info)}", key="remote_env_info"
        )
    if unfinished:
        return EvaluateRequest(history=list(history), label=label, task_unfinished=True,
                               question="", rubrics=(), alpha=0.0, remote_env_info=dict(info))
    task, alpha = task_from_env_info(label, info)
    return EvaluateRequest(
        history=list(history),
        label=label,
        task_unfinished=False,
        question=task.question,
        rubrics=task.rubrics,
        alpha=alpha,
        entities=task.entities,
        forbidden_strs=task.forbidden_strs,
        remote_env_info=dict(info),
    )


def task_from_env_info(
    label: str, info: Mapping[str, Any], *, task_id: str = "request"
) -> tuple[Task, float]:
    """The task and α of a request's ``remote_env_info`` (also a TRL dataset's column).

    The question is ``search_forbidden_strs[0]``; rubrics default to none; gold ``entities`` (this
    project's extension) are kept; α is ``rubric_reward_ratio``, :data:`REQUEST_DEFAULT_ALPHA`
    when absent or null.

    Raises:
        RequestError: a key is missing or has a bad value (named).
    """
    forbidden = _string_list(info, "search_forbidden_strs", required=True)
    if not forbidden:
        raise RequestError(
            "'remote_env_info.search_forbidden_strs' must hold at least the question",
            key="remote_env_info.search_forbidden_strs",
        )
    rubrics = _string_list(info, "rubrics", required=False)
    alpha = _alpha(info)
    problem = rubrics_problem(rubrics) if alpha > 0 else None
    if problem is not None:
        raise RequestError(f"'remote_env_info.rubrics': {problem}", key="remote_env_info.rubrics")
    task = Task(
        id=task_id,
        question=forbidden[0],
        label=label,
        rubrics=tuple(rubrics),
        entities=_entities(info),
        forbidden_strs=tuple(forbidden),
    )
    return task, alpha


def request_trajectory(request: EvaluateRequest) -> Trajectory:
    """The final answer and evidence of a request's history. The tool outputs are parsed only
    when the score reads them (α > 0 and some rubrics), as the reference does.

    Raises:
        HistoryFormatError: the evidence is needed and the history is malformed.
    """
    return read_history(request.history, evidence=request.alpha > 0 and bool(request.rubrics))


async def score_request(scorer: CarrScorer, request: EvaluateRequest) -> RewardResult:
    """The reward of a parsed request: zeros for an unfinished task or a history without a final
    answer (no judging), else the scorer's result with the request's α.

    The tool outputs are parsed only when the score reads them (α > 0 and some rubrics), as the
    reference does: a malformed tool part cannot fail an outcome-only request.

    Raises:
        HistoryFormatError: the evidence is needed and the history is malformed.
    """
    if request.task_unfinished:
        return RewardResult(0.0, 0.0, 0.0, errors=("task unfinished",))
    trajectory = request_trajectory(request)
    from carr_agent.rewards.scorer import score_trajectory

    return await score_trajectory(scorer, request.task(), trajectory, alpha=request.alpha)


def zero_response() -> dict[str, Any]:
    """The reference's answer to an unfinished task or a history without a final answer."""
    return {"reward": 0.0, "outcome_reward": 0.0, "rubric_reward": 0.0, "rubric_scores": {}}


def rubric_score_to_json(score: RubricScore) -> dict[str, Any]:
    """One ``rubric_scores`` value, field for field as the reference writes it."""
    return score.to_json()


def result_to_response(result: RewardResult, *, alpha: float | None = None) -> dict[str, Any]:
    """A :class:`RewardResult` as the reference's response body.

    Parts skipped by α (outcome at α = 1, rubric at α = 0) are reported as 0, as the reference
    does (the scorer reports them as None without an error); parts that are None because judging
    failed stay ``null`` (see :func:`error_response`).
    """
    outcome, rubric = result.outcome_reward, result.rubric_reward
    if alpha is not None and alpha >= 1.0 and outcome is None:
        outcome = 0.0
    if alpha is not None and alpha <= 0.0 and rubric is None:
        rubric = 0.0
    out: dict[str, Any] = {
        "reward": result.reward,
        "outcome_reward": outcome,
        "rubric_reward": rubric,
        "rubric_scores": {
            str(i): rubric_score_to_json(score) for i, score in enumerate(result.rubric_scores)
        },
    }
    if result.extracted_answer is not None:
        out["extracted_answer"] = result.extracted_answer
    return out


def error_response(
    reason: str, result: RewardResult | None = None, *, alpha: float | None = None
) -> dict[str, Any]:
    """The body of a failed judging (HTTP 502): ``reward: null`` and the reason.

    Whatever was judged before the failure is kept (e.g. ``outcome_reward`` when only rubric
    judging failed), so a caller can still see it.
    """
    body = result_to_response(result, alpha=alpha) if result is not None else {
        "reward": None, "outcome_reward": None, "rubric_reward": None, "rubric_scores": {},
    }
    body["reward"] = None
    body["error"] = reason
    return body


def request_key(body: Mapping[str, Any]) -> str:
    """A content hash of a request: identical retries map to the same key (key order ignored)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_tool_output_ids(index: int, message: Mapping[str, Any]) -> None:
    """Tool outputs' ``tool_call_id`` must be a string (or absent): anything else cannot refer to a
    call and would otherwise reach the history parser as an unhashable key."""
    if message.get("role") != "tool" or not isinstance(message.get("content"), list):
        return
    for item_no, item in enumerate(message["content"]):
        call_id = item.get("tool_call_id") if isinstance(item, Mapping) else None
        if call_id is not None and not isinstance(call_id, str):
            raise RequestError(
                f"history[{index}].content[{item_no}].tool_call_id must be a string, got "
                f"{_json_type(call_id)}",
                key=f"history[{index}].content[{item_no}].tool_call_id",
            )


def _string_list(info: Mapping[str, Any], key: str, *, required: bool) -> list[str]:
    path = f"remote_env_info.{key}"
    if key not in info or info[key] is None:
        if required:
            raise RequestError(f"missing required key: {path}", key=path)
        return []
    value = info[key]
    if not isinstance(value, list):
        raise RequestError(f"'{path}' must be a list of strings, got {_json_type(value)}", key=path)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise RequestError(
                f"'{path}[{index}]' must be a string, got {_json_type(item)}", key=f"{path}[{index}]"
            )
    return list(value)


def _alpha(info: Mapping[str, Any]) -> float:
    path = "remote_env_info.rubric_reward_ratio"
    value = info.get("rubric_reward_ratio", REQUEST_DEFAULT_ALPHA)
    if value is None:
        value = REQUEST_DEFAULT_ALPHA
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"'{path}' must be a number in [0, 1], got {_json_type(value)}", key=path)
    alpha = float(value)
    if math.isnan(alpha) or not 0.0 <= alpha <= 1.0:
        raise RequestError(f"'{path}' must be in [0, 1], got {value}", key=path)
    return alpha


def _entities(info: Mapping[str, Any]) -> dict[str, str] | None:
    path = "remote_env_info.entities"
    value = info.get("entities")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise RequestError(f"'{path}' must be an object, got {_json_type(value)}", key=path)
    out: dict[str, str] = {}
    for label, entity in value.items():
        if isinstance(entity, (int, float)) and not isinstance(entity, bool):
            entity = str(entity)
        if not isinstance(entity, str):
            raise RequestError(f"'{path}.{label}' must be a string, got {_json_type(entity)}",
                               key=f"{path}.{label}")
        out[str(label)] = entity
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
