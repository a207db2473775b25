"""Every reward option in one place: how one trajectory is scored and how a group combines.

:class:`RewardOptions` is the one configuration object, composed of :class:`ScoreOptions` (one
trajectory: α, connectivity, evidence) and :class:`GroupOptions` (C-GRPO within a group). Both
carry α and the connectivity switch, because each is also usable alone; composed, they must
agree (checked), so a group can never combine rubric rewards that were not judged.

**α, the rubric weight**, has two defaults, for two kinds of caller, each defined once here:

* :data:`DEFAULT_ALPHA` (0.3, the paper's) for callers that configure a scorer: ``score_state``,
  the TRL function, evaluation, training, :class:`ScoreOptions`, :class:`GroupOptions`;
* :data:`REQUEST_DEFAULT_ALPHA` (0, the reference server's ``.get("rubric_reward_ratio", 0)``)
  for a reference-format request that does not state ``rubric_reward_ratio``: the reward server,
  ``carr-agent score`` and ``CarrScorer.score_history`` all take α from the request, so a
  request means the same thing here as on the reference server. Reference trainers always send
  it (slime fills it in from ``--rubric-reward-ratio``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from carr_agent.errors import ConfigError
from carr_agent.rewards.evidence import EvidenceMode

#: The paper's rubric weight α: the default of every configured scorer and group combination.
DEFAULT_ALPHA = 0.3
#: α of a reference-format request without ``rubric_reward_ratio`` (the reference's default).
REQUEST_DEFAULT_ALPHA = 0.0

RubricFor = Literal["positive", "negative", "all"]
RUBRIC_FOR: tuple[str, ...] = ("positive", "negative", "all")


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:  # also refuses NaN
        raise ConfigError(f"alpha must be in [0, 1], got {alpha}")


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreOptions:
    """How one trajectory is scored.

    Attributes:
        alpha: rubric weight α in ``(1 − α)·R_o + α·R_r`` (default :data:`DEFAULT_ALPHA`).
        connectivity: require supported rubrics to be connected to E0 (False: the paper's
            ablation, R_r = fraction of supported rubrics).
        max_cited_urls: how many seen cited sources the support judge reads (reference: 20).
        evidence_mode: ``"full"`` (default; the reference construction) or ``"relevant"``
            (long sources cut to their statement-related passages; see :mod:`evidence`).
        relevant_threshold: evidence length (chars) above which ``"relevant"`` shortens a source.
        relevant_budget: characters kept per shortened source.
        concurrency: trajectories scored at once by :meth:`CarrScorer.ascore_many`.
    """

    alpha: float = DEFAULT_ALPHA
    connectivity: bool = True
    max_cited_urls: int = 20
    evidence_mode: EvidenceMode = "full"
    relevant_threshold: int = 6000
    relevant_budget: int = 3000
    concurrency: int = 8

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.max_cited_urls < 1:
            raise ConfigError(f"max_cited_urls must be >= 1, got {self.max_cited_urls}")
        if self.evidence_mode not in ("full", "relevant"):
            raise ConfigError(f"evidence_mode must be 'full' or 'relevant', got {self.evidence_mode!r}")
        if self.relevant_threshold < 0 or self.relevant_budget < 1:
            raise ConfigError("relevant_threshold must be >= 0 and relevant_budget >= 1")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupOptions:
    """How a group's rewards are combined (C-GRPO; see :mod:`carr_agent.rewards.cgrpo`).

    Attributes:
        alpha: rubric weight α (default :data:`DEFAULT_ALPHA`).
        normalize: divide R_r by the group max (paper: yes).
        rubric_for: which rollouts get the rubric term (paper: ``"positive"``).
        connectivity: use the connected R_r (False: fraction supported; the paper's ablation).
    """

    alpha: float = DEFAULT_ALPHA
    normalize: bool = True
    rubric_for: RubricFor = "positive"
    connectivity: bool = True

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.rubric_for not in RUBRIC_FOR:
            raise ConfigError(
                f"rubric_for must be one of {sorted(RUBRIC_FOR)}, got {self.rubric_for!r}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class RewardOptions:
    """All reward options: per-trajectory scoring, and the group combination (None: each rollout
    gets its own ``(1 − α)·R_o + α·R_r``, as the reward server returns it).

    Build it with :meth:`create` to set α and connectivity once for both parts.

    Raises:
        ConfigError: ``score`` and ``group`` disagree on α or connectivity.
    """

    score: ScoreOptions = field(default_factory=ScoreOptions)
    group: GroupOptions | None = None

    def __post_init__(self) -> None:
        g = self.group
        if g is None:
            return
        if g.alpha != self.score.alpha:
            raise ConfigError(
                f"score alpha {self.score.alpha} and group alpha {g.alpha} differ: the group would "
                "combine rubric rewards scored with another weight (or never judged at alpha 0)"
            )
        if g.connectivity != self.score.connectivity:
            raise ConfigError("score and group options disagree on connectivity")

    @classmethod
    def create(
        cls,
        *,
        alpha: float = DEFAULT_ALPHA,
        connectivity: bool = True,
        grouped: bool = False,
        normalize: bool = True,
        rubric_for: RubricFor = "positive",
        **score: object,
    ) -> RewardOptions:
        """Options with α and connectivity given once.

        Args:
            alpha: rubric weight α.
            connectivity: require rubrics to connect to E0.
            grouped: combine rewards C-GRPO-style within groups.
            normalize: (grouped) divide R_r by the group max.
            rubric_for: (grouped) which rollouts get the rubric term.
            **score: other :class:`ScoreOptions` fields (``max_cited_urls``, ``evidence_mode``…).
        """
        group = GroupOptions(alpha=alpha, normalize=normalize, rubric_for=rubric_for,
                             connectivity=connectivity) if grouped else None
        return cls(score=ScoreOptions(alpha=alpha, connectivity=connectivity, **score),  # type: ignore[arg-type]
                   group=group)

    @property
    def alpha(self) -> float:
        """The rubric weight α."""
        return self.score.alpha


__all__ = [
    "DEFAULT_ALPHA",
    "REQUEST_DEFAULT_ALPHA",
    "RUBRIC_FOR",
    "EvidenceMode",
    "GroupOptions",
    "RewardOptions",
    "RubricFor",
    "ScoreOptions",
]
