"""CaRR and C-GRPO for upstream slime (THUDM/slime), through its documented hooks; no fork.

Three entry points, each named by its dotted path on slime's command line:

* ``--custom-rm-path carr_agent.integrations.slime.reward``: ``async reward(args, sample)`` scores
  one rollout in this process (no HTTP hop) with the same validation and unknown handling as
  ``carr-agent serve-reward``;
* ``--custom-rm-path carr_agent.integrations.slime.remote_reward`` with ``--rm-url
  http://HOST:8888/evaluate``: the same request sent to ``carr-agent serve-reward``. (slime's
  built-in ``--rm-type remote_rm`` posts ``{prompt, response, label}``, which is not the CaRR
  request, so it cannot be used as is);
* ``--custom-reward-post-process-path carr_agent.integrations.slime.post_process``: the group
  hook. slime calls it with the whole rollout batch before computing advantages; it returns
  ``(raw_rewards, rewards)`` where ``raw_rewards`` are the C-GRPO rewards R_i and ``rewards``
  the group-normalised advantages A_i that slime's GRPO loss uses as they are.

What the sample must carry (``--metadata-key`` puts the dataset's metadata on the sample; a
``--custom-generate-function-path`` records the trajectory):

* ``sample.label``: the gold answer;
* ``sample.metadata["remote_env_info"]``: ``{"search_forbidden_strs": [question], "rubrics": [...]}``
  (the CaRR-DeepDive layout; optional ``entities`` for the deterministic judge);
* ``sample.metadata["history"]``: the trajectory in the reference message format;
* unfinished rollouts (``Sample.Status.TRUNCATED``/``ABORTED``, or
  ``metadata["task_unfinished"]``) score 0, as in the paper.

Options come from slime's args; set them with ``--custom-config-path carr.yaml``:
``carr_alpha`` (0.3), ``carr_normalize`` (true), ``carr_rubric_for`` (positive), ``carr_connectivity``
(true) for the group hook; ``carr_scorer_factory`` (dotted path of a zero-argument function
returning a :class:`~carr_agent.rewards.scorer.CarrScorer`; default: the judge the ``CARR_JUDGE_*``
environment variables configure, see :func:`carr_agent.rewards.judges.judge_from_env`).

Unknown rewards, the slime way. A rollout whose judging failed keeps ``reward: None`` in its
reward dict (never 0) and the reason under ``error``; the rollout is marked
``sample.remove_sample = True``, slime's own flag for "no loss on this sample". The group hook
leaves it out of its group's max, mean and std and gives it advantage 0.0 (and raw reward 0.0,
since slime's buffers hold floats; ``sample.metadata["carr_unknown"]`` tells them apart). Without
the group hook, slime's default normalisation meets ``None`` and stops with a ``TypeError``: a
loud failure, never a silent 0. Always pass the hook with these reward functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carr_agent.errors import ConfigError, DataError
from carr_agent.integrations.common import (
    batch_cgrpo,
    group_ids_by_size,
    group_options_from,
    load_scorer,
    result_from_reward_dict,
    scoring_alpha,
)
from carr_agent.types import RewardResult

if TYPE_CHECKING:
    from carr_agent.rewards.server import RewardService

__all__ = ["evaluate_body", "post_process", "remote_reward", "reward", "unknown_reward"]

logger = logging.getLogger(__name__)

#: Sample statuses slime uses for rollouts that ended without a final answer.
UNFINISHED_STATUSES = ("truncated", "aborted")

_services: dict[str, RewardService] = {}


def unknown_reward(reason: str) -> dict[str, Any]:
    """The reward dict of a rollout that could not be scored (``reward`` is None, never 0)."""
    return {"reward": None, "outcome_reward": None, "rubric_reward": None, "rubric_scores": {},
            "error": reason}


def _status_name(sample: Any) -> str:
    status = getattr(sample, "status", None)
    value = getattr(status, "value", status)
    return str(value).lower() if value is not None else ""


def evaluate_body(args: Any, sample: Any) -> dict[str, Any]:
    """The ``/evaluate`` request of one slime sample (see the module docstring).

    ``rubric_reward_ratio`` is always set from ``args.carr_alpha`` (default 0.3; see
    :func:`~carr_agent.integrations.common.scoring_alpha`), replacing any value in the data: the
    group hook combines with that α, and a ratio of 0 in the data would skip the rubric judge
    (its part reported as 0) and silently turn C-GRPO into outcome-only GRPO.

    Raises:
        DataError: the sample's metadata is not a mapping.
    """
    metadata = getattr(sample, "metadata", None) or {}
    if not isinstance(metadata, Mapping):
        raise DataError(f"sample.metadata must be a mapping, got {type(metadata).__name__}")
    info = metadata.get("remote_env_info")
    info = dict(info) if isinstance(info, Mapping) else info
    if isinstance(info, dict):
        info["rubric_reward_ratio"] = scoring_alpha(group_options_from(args))
    unfinished = bool(metadata.get("task_unfinished")) or _status_name(sample) in UNFINISHED_STATUSES
    return {
        "history": metadata.get("history", []) if unfinished else metadata.get("history"),
        "label": getattr(sample, "label", None),
        "task_unfinished": unfinished,
        "remote_env_info": info if info is not None else ({} if unfinished else None),
    }


def _service(args: Any) -> RewardService:
    """One in-process reward service per scorer factory (made on first use, in slime's loop)."""
    from carr_agent.rewards.server import RewardService, ServerOptions

    factory_path = getattr(args, "carr_scorer_factory", None) or ""
    service = _services.get(factory_path)
    if service is None:
        scorer = load_scorer(factory_path or None)
        service = RewardService(scorer, options=ServerOptions(cache_size=0))
        _services[factory_path] = service
    return service


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    if status == 200:
        return body
    reason = str(body.get("error") or body.get("detail") or f"HTTP {status}")
    if status >= 500:
        logger.warning("CaRR reward unknown (judging failed, %d): %s", status, reason)
        return {**unknown_reward(reason), **{k: v for k, v in body.items() if k != "reward"}}
    logger.warning("CaRR reward unknown (bad sample, %d): %s", status, reason)
    return unknown_reward(f"bad sample: {reason}")


def _mark(sample: Any, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("reward") is None and hasattr(sample, "remove_sample"):
        sample.remove_sample = True
    return body


async def reward(args: Any, sample: Any, **kwargs: Any) -> dict[str, Any]:
    """slime ``--custom-rm-path`` function: the CaRR reward dict of one sample, in process.

    Returns the reward server's response body (``reward`` is the per-rollout mixture
    ``(1 − α)·R_o + α·R_r``; ``outcome_reward``, ``rubric_reward``, ``rubric_scores`` are what the
    group hook combines). Unknown: ``reward`` None and ``error`` set; the sample is marked
    ``remove_sample``.
    """
    try:
        body = evaluate_body(args, sample)
    except DataError as exc:
        return _mark(sample, unknown_reward(f"bad sample: {exc}"))
    status, response = await _service(args).evaluate(body)
    return _mark(sample, _answer(status, response))


async def remote_reward(args: Any, sample: Any, **kwargs: Any) -> dict[str, Any]:
    """slime ``--custom-rm-path`` function: the same request sent to ``args.rm_url``
    (``carr-agent serve-reward``'s ``/evaluate``).

    Transport errors are retried (``args.carr_rm_retries``, default 5; exponential backoff),
    then the reward is unknown. A 502/504 answer (the server's judge failed) is unknown at once.
    """
    import httpx

    url = getattr(args, "rm_url", None)
    if not url:
        raise ConfigError("remote_reward needs --rm-url http://HOST:PORT/evaluate")
    try:
        body = evaluate_body(args, sample)
    except DataError as exc:
        return _mark(sample, unknown_reward(f"bad sample: {exc}"))
    retries = int(getattr(args, "carr_rm_retries", None) or 5)
    timeout = float(getattr(args, "carr_rm_timeout", None) or 900.0)
    last = "no attempt"
    async with httpx.AsyncClient(timeout=timeout) as client:
        for attempt in range(retries):
            try:
                response = await client.post(url, json=body)
                payload = response.json()
                if not isinstance(payload, dict):
                    raise DataError(f"the reward server answered {type(payload).__name__}")
                return _mark(sample, _answer(response.status_code, payload))
            except (httpx.HTTPError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                logger.info("reward server: %s (attempt %d/%d)", last, attempt + 1, retries)
                if attempt + 1 < retries:
                    await asyncio.sleep(min(2**attempt, 30))
    return _mark(sample, unknown_reward(f"reward server unreachable: {last}"))


def _result_of(sample: Any) -> RewardResult:
    value = getattr(sample, "reward", None)
    if isinstance(value, Mapping):
        try:
            return result_from_reward_dict(value)
        except DataError as exc:
            return RewardResult(None, None, None, errors=(str(exc),))
    if value is None:
        return RewardResult(None, None, None, errors=("no reward",))
    raise DataError(
        "the C-GRPO hook needs the reward dict of carr_agent.integrations.slime.reward (or "
        f"remote_reward) on each sample, got {type(value).__name__}"
    )


def _group_ids(args: Any, samples: Sequence[Any]) -> list[Any]:
    ids = [getattr(s, "group_index", None) for s in samples]
    if all(i is not None for i in ids):
        return ids
    size = int(getattr(args, "n_samples_per_prompt", 0) or 0)
    return group_ids_by_size(len(samples), size)


def post_process(args: Any, samples: Sequence[Any]) -> tuple[list[float], list[float]]:
    """slime ``--custom-reward-post-process-path`` hook: C-GRPO over each group.

    Groups are the samples sharing ``sample.group_index`` (else consecutive runs of
    ``args.n_samples_per_prompt``). Options: ``args.carr_alpha``, ``carr_normalize``,
    ``carr_rubric_for``, ``carr_connectivity`` (see :func:`~carr_agent.integrations.common.group_options_from`).

    Returns:
        ``(raw_rewards, rewards)``: C-GRPO rewards R_i and advantages A_i, in sample order; an
        unknown rollout gets 0.0 in both, ``remove_sample = True`` and
        ``metadata["carr_unknown"] = True``.
    """
    samples = list(samples)
    options = group_options_from(args)
    results = [_result_of(s) for s in samples]
    out = batch_cgrpo(results, _group_ids(args, samples), options)
    raw: list[float] = []
    advs: list[float] = []
    for sample, r, a in zip(samples, out.rewards, out.advantages, strict=True):
        if r is None or a is None:
            sample.remove_sample = True
            if isinstance(getattr(sample, "metadata", None), dict):
                sample.metadata["carr_unknown"] = True
            raw.append(0.0)
            advs.append(0.0)
        else:
            raw.append(r)
            advs.append(a)
    unknown = sum(out.unknown)
    if unknown:
        logger.warning("C-GRPO: %d of %d rollouts have unknown rewards (left out)", unknown, len(samples))
    return raw, advs
