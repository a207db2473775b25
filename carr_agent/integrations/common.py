"""Engine-neutral pieces shared by the adapters: rewards of a whole batch grouped by prompt,
C-GRPO options read from an engine's settings, and reward dicts turned back into results.

Every adapter ends in :func:`batch_cgrpo`, which calls :func:`carr_agent.rewards.cgrpo.group_rewards`
and :func:`carr_agent.rewards.cgrpo.advantages` on each group, so all engines compute exactly the
same numbers (``tests/test_integrations_conformance.py`` checks it per engine).
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carr_agent.errors import ConfigError, DataError
from carr_agent.rewards.cgrpo import GroupOptions, advantages, group_rewards
from carr_agent.rewards.options import RUBRIC_FOR
from carr_agent.types import RewardResult, RubricScore

if TYPE_CHECKING:
    from carr_agent.rewards.scorer import CarrScorer

__all__ = [
    "BatchRewards",
    "batch_cgrpo",
    "group_ids_by_size",
    "group_options_from",
    "load_scorer",
    "result_from_reward_dict",
    "scoring_alpha",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class BatchRewards:
    """C-GRPO over a batch, in batch order (None: unknown reward, left out of its group)."""

    rewards: list[float | None]
    advantages: list[float | None]

    @property
    def unknown(self) -> list[bool]:
        return [r is None for r in self.rewards]


def group_ids_by_size(n: int, size: int) -> list[int]:
    """Group ids for ``n`` items laid out as consecutive groups of ``size`` (TRL, slime).

    Raises:
        ConfigError: ``size`` < 1 or ``n`` is not a multiple of it.
    """
    if size < 1:
        raise ConfigError(f"group size must be >= 1, got {size}")
    if n % size:
        raise ConfigError(f"{n} rollouts do not split into groups of {size}")
    return [i // size for i in range(n)]


def batch_cgrpo(
    results: Sequence[RewardResult],
    group_ids: Sequence[Hashable],
    options: GroupOptions | None = None,
    *,
    eps: float = 1e-6,
    ddof: int = 1,
) -> BatchRewards:
    """C-GRPO rewards and advantages of a batch whose rollouts are grouped by ``group_ids``.

    Groups need not be contiguous; each rollout's outputs stay at its position.

    Args:
        results: one scored rollout per batch position.
        group_ids: the prompt (group) of each rollout.
        options: the combination (default: the paper's).
        eps, ddof: see :func:`carr_agent.rewards.cgrpo.advantages`.
    """
    if len(results) != len(group_ids):
        raise ConfigError(f"{len(results)} results but {len(group_ids)} group ids")
    members: dict[Hashable, list[int]] = {}
    for position, gid in enumerate(group_ids):
        members.setdefault(gid, []).append(position)
    rewards: list[float | None] = [None] * len(results)
    advs: list[float | None] = [None] * len(results)
    for positions in members.values():
        group = group_rewards([results[p] for p in positions], options)
        for p, r, a in zip(positions, group, advantages(group, eps=eps, ddof=ddof), strict=True):
            rewards[p], advs[p] = r, a
    return BatchRewards(rewards, advs)


def scoring_alpha(options: GroupOptions) -> float:
    """The α to score each rollout with so that every part C-GRPO needs is judged.

    The scorer skips the rubric judge at α = 0 and the outcome judge at α = 1; C-GRPO with
    α = 1 still needs R_o (``R = R_o·R̂_r``), so it is scored at 0.5 (the per-rollout mixture is
    not used by the group combination, only its parts).
    """
    if options.alpha <= 0:
        return 0.0
    return 0.5 if options.alpha >= 1 else options.alpha


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{name} must be a boolean (true/false), got {value!r}")


def group_options_from(source: Any, *, prefix: str = "carr_") -> GroupOptions:
    """:class:`GroupOptions` from an engine's settings: attributes of an args namespace (slime's
    ``--custom-config-path`` YAML sets them) or keys of a mapping (e.g. ``os.environ`` with
    ``prefix="CARR_CGRPO_"``). Missing settings keep the paper's defaults.

    Settings (after the prefix, any case): ``alpha`` (float in [0, 1]), ``normalize`` (bool),
    ``rubric_for`` (positive | negative | all), ``connectivity`` (bool).

    Raises:
        ConfigError: a setting that cannot be used, named with its prefix.
    """

    def get(key: str) -> Any:
        for name in (prefix + key, (prefix + key).upper(), (prefix + key).lower()):
            if isinstance(source, Mapping):
                if name in source:
                    return source[name]
            elif hasattr(source, name):
                return getattr(source, name)
        return None

    kwargs: dict[str, Any] = {}
    alpha = get("alpha")
    if alpha is not None:
        try:
            kwargs["alpha"] = float(alpha)
        except (TypeError, ValueError):
            raise ConfigError(f"{prefix}alpha must be a number in [0, 1], got {alpha!r}") from None
        if math.isnan(kwargs["alpha"]):
            raise ConfigError(f"{prefix}alpha must be a number in [0, 1], got {alpha!r}")
    for key in ("normalize", "connectivity"):
        value = get(key)
        if value is not None:
            kwargs[key] = _flag(prefix + key, value)
    rubric_for = get("rubric_for")
    if rubric_for is not None:
        if rubric_for not in RUBRIC_FOR:
            raise ConfigError(
                f"{prefix}rubric_for must be one of {sorted(RUBRIC_FOR)}, got {rubric_for!r}"
            )
        kwargs["rubric_for"] = rubric_for
    try:
        return GroupOptions(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}*: {exc}") from None


def _part(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"reward dict: '{key}' must be a number or null, got {value!r}")
    value = float(value)
    return None if math.isnan(value) else value


def _rubric_score(key: str, value: Any) -> RubricScore:
    if not isinstance(value, Mapping):
        raise DataError(f"reward dict: rubric_scores[{key!r}] must be an object")
    try:
        return RubricScore(
            raw_rubric=str(value["raw_rubric"]),
            filled_rubric=value.get("filled_rubric"),
            entity_values=dict(value.get("entity_values") or {}),
            all_entity_identified=bool(value.get("all_entity_identified")),
            is_supported=value.get("is_supported"),
            connected_to_answer=bool(value.get("connected_to_answer")),
            score=int(value.get("score") or 0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"reward dict: rubric_scores[{key!r}] is malformed: {exc}") from None


def result_from_reward_dict(body: Mapping[str, Any]) -> RewardResult:
    """The :class:`RewardResult` behind a reward dict: the reward server's ``/evaluate`` response
    (``reward``, ``outcome_reward``, ``rubric_reward``, ``rubric_scores`` keyed ``"0"``, ``"1"``…,
    optional ``error``), which is also what the slime reward functions return.

    NaN or null parts are unknown.

    Raises:
        DataError: not a mapping, or a part that is not a number.
    """
    if not isinstance(body, Mapping):
        raise DataError(f"a reward dict is expected, got {type(body).__name__}")
    scores = body.get("rubric_scores") or {}
    if not isinstance(scores, Mapping):
        raise DataError("reward dict: rubric_scores must be an object keyed '0', '1', ...")
    ordered = sorted(scores.items(), key=lambda kv: _index_order(kv[0]))
    error = body.get("error")
    return RewardResult(
        outcome_reward=_part(body, "outcome_reward"),
        rubric_reward=_part(body, "rubric_reward"),
        reward=_part(body, "reward"),
        rubric_scores=tuple(_rubric_score(str(k), v) for k, v in ordered),
        extracted_answer=body.get("extracted_answer"),
        errors=(str(error),) if error else (),
    )


def _index_order(key: object) -> tuple[int, str]:
    """Sort key of a ``rubric_scores`` key: numeric order for ASCII digit strings of any length
    (``int()`` refuses ``"¹"`` and 5,000-digit strings), other keys where ``"0"`` sorts."""
    text = str(key)
    digits = (text.lstrip("0") or "0") if text.isascii() and text.isdigit() else "0"
    return len(digits), digits


def load_scorer(factory: str | None = None) -> CarrScorer | None:
    """The scorer an engine's worker uses.

    Args:
        factory: dotted path ``module.function`` of a zero-argument function returning a
            :class:`~carr_agent.rewards.scorer.CarrScorer` (your own judge setup), or None.

    Returns:
        The factory's scorer; else, when ``CARR_JUDGE_BASE_URL``/``_MODEL``/``_API_KEY`` are set,
        a scorer over that LLM judge; else None (only tasks with gold entity values can be
        scored, by the deterministic judge).

    Raises:
        ConfigError: the factory cannot be loaded, or the judge is partly configured.
    """
    if factory:
        module_name, _, attr = factory.rpartition(".")
        if not module_name:
            raise ConfigError(f"scorer factory must be a dotted path 'module.function', got {factory!r}")
        try:
            make: Callable[[], CarrScorer] = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"scorer factory {factory!r} cannot be loaded: {exc}") from exc
        return make()
    from carr_agent.rewards.judges import JUDGE_ENV, judge_from_env
    from carr_agent.rewards.scorer import CarrScorer

    if not any(os.environ.get(name, "").strip() for name in JUDGE_ENV):
        return None
    return CarrScorer(judge_from_env())
