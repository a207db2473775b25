"""C-GRPO group combination: the spec's example under every variant, exact numbers."""

from __future__ import annotations

import math
import statistics

import pytest

from carr_agent.errors import ConfigError
from carr_agent.rewards.cgrpo import GroupOptions, advantages, group_advantages, group_rewards
from carr_agent.types import RewardResult, RubricScore


def rs(supported: bool | None, connected: bool) -> RubricScore:
    return RubricScore(raw_rubric="<E0> x", filled_rubric="a x", entity_values={"E0": "a"},
                       all_entity_identified=True, is_supported=supported,
                       connected_to_answer=connected, score=int(bool(supported) and connected))


def result(outcome: float | None, n_connected: int, n_supported: int, n: int = 8) -> RewardResult:
    scores = tuple(rs(i < n_supported, i < n_connected) for i in range(n))
    rubric = n_connected / n
    reward = None if outcome is None else 0.7 * outcome + 0.3 * rubric
    return RewardResult(outcome_reward=outcome, rubric_reward=rubric, reward=reward,
                        rubric_scores=scores)


# Spec: three correct rollouts with R_r = 0.375, 0.625, 0.5 and one wrong with R_r = 0.125.
# Supported-but-disconnected counts (for the no-connectivity ablation): 4/8, 6/8, 4/8, 2/8.
GROUP = [result(1.0, 3, 4), result(1.0, 5, 6), result(1.0, 4, 4), result(0.0, 1, 2)]

CASES = {
    # (normalize, rubric_for, connectivity): expected rewards
    (True, "positive", True): [0.88, 1.0, 0.94, 0.0],  # the paper's formula (spec example)
    (False, "positive", True): [0.8125, 0.8875, 0.85, 0.0],
    # negative-only, as the reference trainer: correct rollouts keep R_o = 1.0
    (True, "negative", True): [1.0, 1.0, 1.0, 0.06],
    (False, "negative", True): [1.0, 1.0, 1.0, 0.0375],
    (True, "all", True): [0.88, 1.0, 0.94, 0.06],
    (False, "all", True): [0.8125, 0.8875, 0.85, 0.0375],
    # no connectivity: R_r = 0.5, 0.75, 0.5, 0.25 → normalised 2/3, 1, 2/3, 1/3
    (True, "positive", False): [0.9, 1.0, 0.9, 0.0],
    (False, "positive", False): [0.85, 0.925, 0.85, 0.0],
    (True, "all", False): [0.9, 1.0, 0.9, 0.1],
    (False, "negative", False): [1.0, 1.0, 1.0, 0.075],
}


@pytest.mark.parametrize(("variant", "expected"), list(CASES.items()), ids=str)
def test_group_rewards_match_hand_computed_values(variant, expected) -> None:
    normalize, rubric_for, connectivity = variant
    opts = GroupOptions(alpha=0.3, normalize=normalize, rubric_for=rubric_for,
                        connectivity=connectivity)
    assert group_rewards(GROUP, opts) == pytest.approx(expected, abs=1e-12)


def test_negative_only_gives_correct_rollouts_their_full_outcome_like_the_reference() -> None:
    # reference trainer: reward = outcome if outcome > 0 else α·R̂_r
    opts = GroupOptions(alpha=0.3, normalize=True, rubric_for="negative")
    rewards = group_rewards(GROUP, opts)
    assert rewards[:3] == [1.0, 1.0, 1.0]
    assert rewards[3] == pytest.approx(0.3 * 0.125 / 0.625)
    unknown_rubric = RewardResult(outcome_reward=1.0, rubric_reward=None, reward=None)
    assert group_rewards([unknown_rubric], opts) == [1.0]  # R_r unused for a correct rollout


def test_default_options_are_the_papers_formula() -> None:
    assert group_rewards(GROUP) == pytest.approx([0.88, 1.0, 0.94, 0.0])


def test_advantages_of_spec_example() -> None:
    adv = advantages([0.88, 1.0, 0.94, 0.0])
    std = statistics.stdev([0.88, 1.0, 0.94, 0.0])  # unbiased, like torch.std
    assert adv == pytest.approx([(r - 0.705) / (std + 1e-6) for r in [0.88, 1.0, 0.94, 0.0]])
    assert adv[3] == pytest.approx(-0.705 / (math.sqrt(0.6699 / 3) + 1e-6))
    pop = advantages([0.88, 1.0, 0.94, 0.0], ddof=0)
    assert pop[3] == pytest.approx(-0.705 / (math.sqrt(0.6699 / 4) + 1e-6))


def test_unknown_rewards_are_left_out_of_group_statistics() -> None:
    adv = advantages([1.0, None, 0.0])
    assert adv[1] is None
    assert adv[0] == pytest.approx(0.5 / (statistics.stdev([1.0, 0.0]) + 1e-6))
    assert advantages([None, None]) == [None, None]
    assert advantages([0.4]) == [0.0]


def test_unknown_outcome_or_needed_rubric_gives_unknown_reward() -> None:
    unknown_outcome = RewardResult(outcome_reward=None, rubric_reward=0.5, reward=None)
    unknown_rubric_correct = RewardResult(outcome_reward=1.0, rubric_reward=None, reward=None)
    unknown_rubric_wrong = RewardResult(outcome_reward=0.0, rubric_reward=None, reward=None)
    got = group_rewards([GROUP[1], unknown_outcome, unknown_rubric_correct, unknown_rubric_wrong])
    # the wrong rollout's rubric term is not used (positive-only), so it stays known: 0
    assert got == [pytest.approx(1.0), None, None, 0.0]
    assert group_advantages([unknown_outcome, GROUP[0]])[0] is None


def test_no_connectivity_needs_known_support_verdicts() -> None:
    res = RewardResult(outcome_reward=1.0, rubric_reward=None, reward=None,
                       rubric_scores=(rs(None, False), rs(True, True)))
    assert group_rewards([res], GroupOptions(connectivity=False)) == [None]


def test_max_zero_leaves_rubric_unnormalised_and_alpha_zero_ignores_rubric() -> None:
    zero = [result(1.0, 0, 0), result(0.0, 0, 0)]
    assert group_rewards(zero) == pytest.approx([0.7, 0.0])
    unknown_rubric = RewardResult(outcome_reward=1.0, rubric_reward=None, reward=None)
    assert group_rewards([unknown_rubric], GroupOptions(alpha=0.0)) == [1.0]


def test_group_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        GroupOptions(alpha=1.5)
    with pytest.raises(ConfigError):
        GroupOptions(rubric_for="some")  # type: ignore[arg-type]
