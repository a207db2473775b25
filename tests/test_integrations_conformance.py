"""Conformance: every engine adapter turns the same group of scored rollouts into the same C-GRPO
rewards and advantages as carr_agent.rewards.cgrpo, and keeps judge failures unknown.

The rollouts are fixed RewardResults; each adapter receives them in its engine's own shape:
slime gets samples whose ``reward`` is the reward server's response dict, verl gets the
``compute_score`` dicts' scores on the last response token with the prompts' uids, TRL gets
completions whose scores come back from a scorer (one process, and a batch split over two
"processes" that see each other through the gather hook).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carr_agent.integrations import slime as slime_adapter
from carr_agent.integrations.common import batch_cgrpo, group_options_from, scoring_alpha
from carr_agent.integrations.trl import make_cgrpo_reward_func
from carr_agent.rewards.cgrpo import GroupOptions, advantages, group_rewards, rubric_supported
from carr_agent.rewards.protocol import error_response, result_to_response
from carr_agent.types import RewardResult, RubricScore

G = 4


def result(outcome: float | None, connected: int, supported: int, n: int = 8) -> RewardResult:
    """A scored rollout with n rubrics: ``connected`` count 1, ``supported - connected`` are
    supported but not connected to E0 (they count only without connectivity)."""
    if outcome is None:
        return RewardResult(None, None, None, errors=("judge failed",))
    scores = tuple(
        RubricScore(raw_rubric=f"<E0> fact {k}", filled_rubric=f"X fact {k}", entity_values={"E0": "X"},
                    all_entity_identified=True, is_supported=k < supported,
                    connected_to_answer=k < connected, score=int(k < connected))
        for k in range(n)
    )
    rubric = connected / n
    return RewardResult(outcome, rubric, 0.7 * outcome + 0.3 * rubric, rubric_scores=scores)


# two prompts × G rollouts, interleaved in batch order (engines do not promise contiguity)
GROUP_A = [result(1.0, 3, 5), result(1.0, 5, 5), result(0.0, 1, 2), result(None, 0, 0)]
GROUP_B = [result(0.0, 0, 0), result(0.0, 2, 4), result(1.0, 4, 6), result(1.0, 8, 8)]
BATCH = [x for pair in zip(GROUP_A, GROUP_B, strict=True) for x in pair]
IDS = ["a", "b"] * G

VARIANTS = {
    "paper": GroupOptions(),
    "no-normalize": GroupOptions(normalize=False),
    "negative": GroupOptions(rubric_for="negative"),
    "all": GroupOptions(rubric_for="all"),
    "no-connectivity": GroupOptions(connectivity=False),
    "outcome-only": GroupOptions(alpha=0.0),
    "alpha-0.45": GroupOptions(alpha=0.45),
}


def expected(batch, ids, options, *, eps=1e-6):
    rewards: list[float | None] = [None] * len(batch)
    advs: list[float | None] = [None] * len(batch)
    for gid in dict.fromkeys(ids):
        pos = [i for i, g in enumerate(ids) if g == gid]
        r = group_rewards([batch[i] for i in pos], options)
        for i, ri, ai in zip(pos, r, advantages(r, eps=eps), strict=True):
            rewards[i], advs[i] = ri, ai
    return rewards, advs


def args_for(options: GroupOptions, **extra) -> SimpleNamespace:
    return SimpleNamespace(carr_alpha=options.alpha, carr_normalize=options.normalize,
                           carr_rubric_for=options.rubric_for, carr_connectivity=options.connectivity,
                           n_samples_per_prompt=G, **extra)


def reward_dict(r: RewardResult) -> dict:
    return error_response("judge failed") if r.reward is None else result_to_response(r)


def slime_run(batch, ids, options):
    samples = [SimpleNamespace(reward=reward_dict(r), group_index=g, remove_sample=False, metadata={})
               for r, g in zip(batch, ids, strict=True)]
    raw, adv = slime_adapter.post_process(args_for(options), samples)
    return samples, raw, adv


def verl_run(batch, ids, options, monkeypatch):
    torch = pytest.importorskip("torch")
    from carr_agent.integrations.verl.advantage import compute_cgrpo_advantage
    from carr_agent.integrations.verl.reward import score_dict

    for key, value in (("ALPHA", options.alpha), ("NORMALIZE", options.normalize),
                       ("RUBRIC_FOR", options.rubric_for), ("CONNECTIVITY", options.connectivity)):
        monkeypatch.setenv(f"CARR_CGRPO_{key}", str(value))
    length = 6
    rewards = torch.zeros(len(batch), length)
    mask = torch.zeros(len(batch), length)
    for i, r in enumerate(batch):
        # what compute_score returns: the no-connectivity ablation is scored by the scorer itself
        scored = r if options.connectivity or r.reward is None else RewardResult(
            r.outcome_reward, rubric_supported(r), None)
        valid = 2 + i % 4
        rewards[i, valid - 1] = score_dict(scored, scoring_alpha(options))["score"]
        mask[i, :valid] = 1
    adv, returns = compute_cgrpo_advantage(token_level_rewards=rewards, response_mask=mask,
                                           index=ids, config=None)
    assert torch.equal(adv, returns)
    assert torch.all(adv[mask == 0] == 0)
    return [float(adv[i, 0]) for i in range(len(batch))]


class ListScorer:
    """Hands back fixed results: completion ``"r7"`` is ``batch[7]``."""

    def __init__(self, batch):
        self.batch = batch

    async def ascore(self, task, answer, ledger, *, alpha=None):
        return self.batch[int(answer[1:])]


def trl_columns(n: int) -> dict:
    return {"label": ["x"] * n, "question": ["q"] * n}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_slime_hook_matches_cgrpo(name):
    options = VARIANTS[name]
    samples, raw, adv = slime_run(BATCH, IDS, options)
    want_r, want_a = expected(BATCH, IDS, options)
    for i, (s, wr, wa) in enumerate(zip(samples, want_r, want_a, strict=True)):
        if wr is None:
            assert raw[i] == 0.0 and adv[i] == 0.0
            assert s.remove_sample and s.metadata["carr_unknown"]
        else:
            assert raw[i] == pytest.approx(wr, abs=1e-12)
            assert adv[i] == pytest.approx(wa, abs=1e-9)
            assert not s.remove_sample


@pytest.mark.parametrize("name", list(VARIANTS))
def test_verl_estimator_matches_cgrpo(name, monkeypatch):
    options = VARIANTS[name]
    got = verl_run(BATCH, IDS, options, monkeypatch)
    _, want = expected(BATCH, IDS, options)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(0.0 if w is None else w, abs=2e-4)


@pytest.mark.parametrize("name", list(VARIANTS))
async def test_trl_reward_matches_cgrpo(name):
    options = VARIANTS[name]
    # TRL's layout: G consecutive completions per prompt
    batch = GROUP_A + GROUP_B
    ids = [0] * G + [1] * G
    reward = make_cgrpo_reward_func(ListScorer(batch), num_generations=G, options=options)
    got = await reward(["q"] * len(batch), [f"r{i}" for i in range(len(batch))], None,
                       **trl_columns(len(batch)))
    want, _ = expected(batch, ids, options)
    assert got == [None if w is None else pytest.approx(w, abs=1e-12) for w in want]


async def test_trl_groups_spanning_processes_see_the_whole_group():
    """Four processes holding two completions each (every group spans two processes) give the
    single-process answer: each sees the others' results through the gather hook."""
    batch = GROUP_A + GROUP_B  # TRL's global order: G consecutive completions per prompt
    per_process = 2
    options = GroupOptions(rubric_for="all")

    def gather_for(rank):
        return lambda local: (list(batch), rank * len(local))

    outs = []
    for rank in range(len(batch) // per_process):
        reward = make_cgrpo_reward_func(ListScorer(batch), num_generations=G, options=options,
                                        gather=gather_for(rank))
        start = rank * per_process
        outs += await reward(["q"] * per_process, [f"r{start + i}" for i in range(per_process)],
                             None, **trl_columns(per_process))
    want = batch_cgrpo(batch, [i // G for i in range(len(batch))], options).rewards
    assert outs == [None if w is None else pytest.approx(w) for w in want]
    # without the gather, process 1 would have normalised by the max of its own half-group
    alone = batch_cgrpo(batch[2:4], [0, 0], options).rewards
    assert alone[0] != pytest.approx(outs[2])


outcomes = st.sampled_from([0.0, 1.0, None])


@st.composite
def groups(draw):
    n_groups = draw(st.integers(1, 3))
    size = draw(st.integers(1, 5))
    batch = []
    for _ in range(n_groups * size):
        outcome = draw(outcomes)
        connected = draw(st.integers(0, 8))
        supported = draw(st.integers(connected, 8))
        batch.append(result(outcome, connected, supported))
    options = draw(st.builds(GroupOptions, alpha=st.sampled_from([0.0, 0.1, 0.3, 0.45]),
                             normalize=st.booleans(),
                             rubric_for=st.sampled_from(["positive", "negative", "all"]),
                             connectivity=st.booleans()))
    return batch, size, options


@settings(max_examples=60, deadline=None)
@given(groups())
def test_property_slime_and_verl_agree_with_cgrpo(case):
    batch, size, options = case
    ids = [i // size for i in range(len(batch))]
    _, raw, adv = slime_run(batch, ids, options)
    want_r, want_a = expected(batch, ids, options)
    for got_r, got_a, wr, wa in zip(raw, adv, want_r, want_a, strict=True):
        assert got_r == (0.0 if wr is None else pytest.approx(wr, abs=1e-12))
        assert got_a == (0.0 if wa is None else pytest.approx(wa, abs=1e-9))
    with pytest.MonkeyPatch.context() as mp:
        got = verl_run(batch, ids, options, mp)
    for g, w in zip(got, want_a, strict=True):
        assert g == pytest.approx(0.0 if w is None else w, abs=5e-4)


def test_unknown_is_never_zero_in_any_engine(monkeypatch):
    """A failed judgement: slime keeps reward None (+ remove_sample), verl a NaN score, TRL None."""
    from carr_agent.integrations.verl.reward import score_dict

    failed = RewardResult(None, None, None, errors=("judge timed out",))
    assert reward_dict(failed)["reward"] is None
    d = score_dict(failed, 0.3)
    assert math.isnan(d["score"]) and d["unknown"] == 1.0 and "timed out" in d["error"]
    # a whole group unknown: no statistics, no advantage, nothing trained
    samples, raw, adv = slime_run([failed] * 2, [0, 0], GroupOptions())
    assert raw == [0.0, 0.0] and adv == [0.0, 0.0] and all(s.remove_sample for s in samples)
    assert verl_run([failed] * 2, [0, 0], GroupOptions(), monkeypatch) == [0.0, 0.0]


def test_options_from_engine_settings_are_validated():
    assert group_options_from(SimpleNamespace()) == GroupOptions()
    env = {"CARR_CGRPO_ALPHA": "0.2", "CARR_CGRPO_NORMALIZE": "false",
           "CARR_CGRPO_RUBRIC_FOR": "all", "CARR_CGRPO_CONNECTIVITY": "0"}
    assert group_options_from(env, prefix="CARR_CGRPO_") == GroupOptions(
        alpha=0.2, normalize=False, rubric_for="all", connectivity=False)
    from carr_agent.errors import ConfigError
    from carr_agent.integrations.verl.reward import options_from_env

    for bad in ({"CARR_CGRPO_ALPHA": "x"}, {"CARR_CGRPO_ALPHA": "nan"}, {"CARR_CGRPO_NORMALIZE": "maybe"},
                {"CARR_CGRPO_RUBRIC_FOR": "some"}, {"CARR_CGRPO_ALPHA": "1.5"}):
        with pytest.raises(ConfigError, match="CARR_CGRPO_"):
            group_options_from(bad, prefix="CARR_CGRPO_")
    with pytest.raises(ConfigError, match=r"< 0.5"):
        options_from_env({"CARR_CGRPO_ALPHA": "0.6"})


# ---- adversarial inputs: what engines and servers hand the adapters -------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
reward_keys = st.sampled_from(["reward", "outcome_reward", "rubric_reward", "rubric_scores", "error",
                               "extracted_answer", "x"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.dictionaries(reward_keys, json_values, max_size=6)))
def test_fuzz_reward_dicts_read_or_rejected_clearly(body):
    """Any JSON a reward server could answer: a RewardResult or a DataError, nothing else; and the
    group hook turns an unreadable dict into an unknown rollout instead of crashing."""
    from carr_agent.errors import DataError
    from carr_agent.integrations.common import result_from_reward_dict

    try:
        r = result_from_reward_dict(body)
    except DataError:
        pass
    else:
        for part in (r.outcome_reward, r.rubric_reward, r.reward):
            assert part is None or (isinstance(part, float) and not math.isnan(part))
    if isinstance(body, dict):
        sample = SimpleNamespace(reward=body, group_index=0, remove_sample=False, metadata={})
        raw, adv = slime_adapter.post_process(args_for(GroupOptions()), [sample])
        assert all(isinstance(v, float) and math.isfinite(v) for v in raw + adv)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True, width=32),
       st.sampled_from([0.0, 0.1, 0.3, 0.45]))
def test_fuzz_decode_score_any_float(score, alpha):
    from carr_agent.errors import ConfigError
    from carr_agent.integrations.verl.advantage import decode_score

    try:
        r = decode_score(score, alpha)
    except ConfigError as exc:
        assert "CARR_CGRPO_ALPHA" in str(exc)
        return
    if math.isnan(score):
        assert r.outcome_reward is None
    else:
        assert r.outcome_reward in (0.0, 1.0) or alpha == 0
        assert 0.0 <= r.rubric_reward <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["CARR_CGRPO_ALPHA", "CARR_CGRPO_NORMALIZE",
                                        "CARR_CGRPO_RUBRIC_FOR", "CARR_CGRPO_CONNECTIVITY"]),
                       st.text(max_size=6) | st.sampled_from(["0.3", "true", "0", "all"])))
def test_fuzz_options_from_environment(env):
    from carr_agent.errors import ConfigError

    try:
        options = group_options_from(env, prefix="CARR_CGRPO_")
    except ConfigError as exc:
        assert "CARR_CGRPO_" in str(exc)
    else:
        assert isinstance(options, GroupOptions)


def test_exact_score_round_trip_for_every_rubric_fraction():
    """Scores written by compute_score decode to the same parts at float32 precision (how verl
    stores token rewards), for rubric counts up to 20 and the usable α."""
    torch = pytest.importorskip("torch")
    from carr_agent.integrations.verl.advantage import decode_score
    from carr_agent.integrations.verl.reward import score_dict

    for alpha in (0.05, 0.1, 0.3, 0.45, 0.499):
        for n in range(1, 21):
            for k in range(n + 1):
                for o in (0.0, 1.0):
                    s = score_dict(RewardResult(o, k / n, None), alpha)["score"]
                    stored = float(torch.tensor(s, dtype=torch.float32))
                    back = decode_score(stored, alpha)
                    assert back.outcome_reward == o
                    assert back.rubric_reward == pytest.approx(k / n, abs=1e-5)


def test_adapters_import_without_their_engines():
    """Importing every adapter loads no engine (nor torch): lazy imports only."""
    import os
    import subprocess
    import sys

    code = ("import sys, carr_agent.integrations.slime, carr_agent.integrations.trl, "
            "carr_agent.integrations.verl, carr_agent.integrations.verl.agent_loop; "
            "print(sorted(m for m in ('trl', 'verl', 'ray', 'slime', 'torch', 'accelerate', "
            "'transformers') if m in sys.modules))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("key", ["¹", "٣", "1" * 5000, "x"])
def test_rubric_score_keys_that_int_refuses_are_read_not_raised(key: str) -> None:
    body = {"reward": None, "outcome_reward": None, "rubric_reward": None,
            "rubric_scores": {k: {"raw_rubric": k[:20]} for k in (key, "10", "2")}}
    from carr_agent.integrations.common import result_from_reward_dict

    rubrics = [r.raw_rubric for r in result_from_reward_dict(body).rubric_scores]
    assert sorted(rubrics) == sorted([key[:20], "10", "2"]) and rubrics.index("2") < rubrics.index("10")
