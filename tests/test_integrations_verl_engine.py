"""The verl adapter inside the real verl package (0.9.1): estimator registry, verl's own
compute_advantage on a DataProto, the custom-reward loading and reward manager, and the agent
loop built on verl's AgentLoopBase with a scripted rollout server.

Skipped when verl is not installed (it is not a dependency: it pulls Ray and more). To run:
``python -m venv /work/venvs/verl && pip install torch==2.13.0 && pip install verl==0.9.1
cachetools fastapi`` plus this project's core dependencies, then
``PYTHONPATH=. python -m pytest tests/test_integrations_verl_engine.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("verl")
np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

from omegaconf import OmegaConf  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.config import AlgoConfig  # noqa: E402
from verl.trainer.ppo.core_algos import get_adv_estimator_fn  # noqa: E402
from verl.trainer.ppo.ray_trainer import compute_advantage  # noqa: E402

from carr_agent.integrations.common import batch_cgrpo  # noqa: E402
from carr_agent.integrations.verl import register, setup_worker  # noqa: E402
from carr_agent.integrations.verl.advantage import compute_cgrpo_advantage, decode_score  # noqa: E402
from carr_agent.models.tiny import build_tiny_tokenizer  # noqa: E402
from carr_agent.rewards.cgrpo import GroupOptions  # noqa: E402
from tests.integrations_support import (  # noqa: E402
    GOOD_SCRIPT,
    LABEL,
    QUESTION,
    REMOTE_ENV_INFO,
    ScriptedServer,
    build_corpus,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLING = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "logprobs": True}


def test_cgrpo_is_registered_in_verls_registry_idempotently():
    setup_worker()
    register()
    assert get_adv_estimator_fn("cgrpo") is compute_cgrpo_advantage


def test_verls_compute_advantage_runs_cgrpo_on_a_dataproto(monkeypatch):
    monkeypatch.setenv("CARR_CGRPO_ALPHA", "0.3")
    register()
    # two prompts, interleaved; scores (1 − α)·R_o + α·R_r on each response's last valid token
    parts = [(1, 1.0), (1, 0.5), (0, 0.25), (0, 0.0), (1, 0.75), (None, None), (1, 0.25), (0, 1.0)]
    uids = np.array(["p0", "p1"] * 4, dtype=object)
    length = 6
    rewards = torch.zeros(len(parts), length)
    mask = torch.zeros(len(parts), length)
    for i, (o, r) in enumerate(parts):
        valid = 3 + i % 3
        rewards[i, valid - 1] = float("nan") if o is None else 0.7 * o + 0.3 * r
        mask[i, :valid] = 1
    data = DataProto.from_dict(tensors={"token_level_rewards": rewards, "response_mask": mask},
                               non_tensors={"uid": uids})
    out = compute_advantage(data, adv_estimator="cgrpo", config=AlgoConfig(adv_estimator="cgrpo"))
    adv = out.batch["advantages"]
    assert torch.all(adv[mask == 0] == 0)
    want = batch_cgrpo([decode_score(float(rewards[i].sum()), 0.3) for i in range(len(parts))],
                       list(uids), GroupOptions()).advantages
    for i, w in enumerate(want):
        row = adv[i][mask[i] == 1]
        assert torch.allclose(row, torch.full_like(row, 0.0 if w is None else w), atol=1e-5)
    assert torch.all(adv[5] == 0)  # the unknown rollout: no gradient
    assert not torch.isnan(adv).any()


def _reward_config():
    return OmegaConf.create({"reward": {"custom_reward_function": {
        "path": str(ROOT / "examples" / "verl" / "carr_reward.py"), "name": "compute_score",
        "reward_kwargs": {}}}})


def test_verl_loads_the_example_reward_file_as_an_async_function():
    from verl.trainer.ppo.reward import get_custom_reward_fn

    fn = get_custom_reward_fn(_reward_config())
    assert fn is not None and fn.func.__name__ == "_call_with_kwargs_async"


async def test_naive_reward_manager_scores_an_agent_loop_rollout(tmp_path):
    """verl's NaiveRewardManager with our compute_score: the agent loop's extra fields reach it
    through tool_extra_fields, and the dict's parts land in reward_extra_info."""
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import get_custom_reward_fn

    tok = build_tiny_tokenizer()
    loop = _agent_loop(tok, tmp_path)
    out = await loop.run(SAMPLING, raw_prompt=[{"role": "user", "content": QUESTION}],
                         extra_info={"remote_env_info": REMOTE_ENV_INFO})
    prompts = torch.tensor([out.prompt_ids])
    responses = torch.tensor([out.response_ids])
    data = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses,
                 "attention_mask": torch.ones(1, prompts.shape[1] + responses.shape[1], dtype=torch.long)},
        non_tensors={"data_source": np.array(["carr"], dtype=object),
                     "reward_model": np.array([{"ground_truth": LABEL}], dtype=object),
                     "extra_info": np.array([{"remote_env_info": REMOTE_ENV_INFO}], dtype=object),
                     "tool_extra_fields": np.array([out.extra_fields], dtype=object)},
    )
    manager = NaiveRewardManager(_reward_config(), tok, get_custom_reward_fn(_reward_config()))
    result = await manager.run_single(data)
    assert result["reward_score"] == pytest.approx(1.0)
    info = result["reward_extra_info"]
    assert (info["outcome_reward"], info["rubric_reward"], info["unknown"]) == (1.0, 1.0, 0.0)


def _agent_loop(tok, tmp_path):
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap
    from verl.utils.dataset.rl_dataset import RLHFDataset

    import carr_agent.integrations.verl.agent_loop as agent_loop

    build_corpus(tmp_path)
    cfg = OmegaConf.create({"actor_rollout_ref": {"rollout": {"response_length": 4096}}})
    return agent_loop.CarrAgentLoop(
        trainer_config=DictConfigWrap(cfg), server_manager=ScriptedServer(tok, GOOD_SCRIPT),
        tokenizer=tok, processor=None, dataset_cls=RLHFDataset,
        data_config=DictConfigWrap(OmegaConf.create({})), corpus=str(tmp_path / "index"),
        max_tool_calls=5, page_budget=400, min_tool_calls=0,
    )


async def test_agent_loop_subclasses_verls_base_and_returns_its_output(tmp_path):
    from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput

    tok = build_tiny_tokenizer()
    loop = _agent_loop(tok, tmp_path)
    assert isinstance(loop, AgentLoopBase)
    out = await loop.run(SAMPLING, raw_prompt=[{"role": "user", "content": QUESTION}],
                         extra_info={"remote_env_info": REMOTE_ENV_INFO})
    assert isinstance(out, AgentLoopOutput) and out.num_turns == 4
    assert len(out.response_ids) == len(out.response_mask) == len(out.response_logprobs)
    tensors = out.as_dict()  # verl's own conversion to the batch tensors
    assert tensors["responses"].shape == tensors["response_mask"].shape
    assert 0 < int(tensors["response_mask"].sum()) < len(out.response_ids)
    assert not math.isnan(float(tensors["rollout_log_probs"].sum()))


@pytest.mark.slow
def test_ray_worker_setup_hook_registers_cgrpo_in_worker_processes():
    """The launch recipe's ``worker_process_setup_hook``: a real local Ray worker has ``cgrpo``
    registered and sees the options' environment variables (starts Ray: about a minute here)."""
    import os

    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, runtime_env={
        "worker_process_setup_hook": "carr_agent.integrations.verl.setup_worker",
        "env_vars": {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                     "CARR_CGRPO_ALPHA": "0.2"}})
    try:
        @ray.remote
        def probe():
            from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY

            from carr_agent.integrations.verl.reward import options_from_env

            return "cgrpo" in ADV_ESTIMATOR_REGISTRY, options_from_env().alpha

        assert ray.get(probe.remote()) == (True, 0.2)
    finally:
        ray.shutdown()


def test_example_launch_command_composes_against_verls_own_config():
    """Every override of examples/verl/run_cgrpo.sh is a key of verl's ppo_trainer config (or
    added with '+'), and the result selects cgrpo, the carr agent loop and the reward file."""
    import os
    import re
    import shlex

    import verl
    from hydra import compose, initialize_config_dir

    text = (ROOT / "examples" / "verl" / "run_cgrpo.sh").read_text()
    body = text[text.index("python -m verl.trainer.main_ppo"):text.index('"$@"')]
    env = {"TRAIN": "/d/t.parquet", "VAL": "/d/v.parquet", "MODEL": "/m", "CARR_ROOT": str(ROOT),
           "CARR_JUDGE_BASE_URL": "http://judge:8000/v1", "CARR_JUDGE_MODEL": "J",
           "CARR_JUDGE_API_KEY": "EMPTY", "NNODES": "2", "STEPS": "10"}
    body = re.sub(r"\$\{(\w+):-[^}]*\}", lambda m: env[m.group(1)], body)
    body = re.sub(r"\$(\w+)", lambda m: env[m.group(1)], body)
    overrides = shlex.split(body.replace("\\\n", " "))[3:]
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose("ppo_trainer", overrides=overrides)
    assert cfg.algorithm.adv_estimator == "cgrpo" and not cfg.algorithm.use_kl_in_reward
    assert (cfg.data.train_batch_size, cfg.actor_rollout_ref.rollout.n) == (16, 8)
    assert cfg.actor_rollout_ref.rollout.agent.default_agent_loop == "carr_agent"
    assert Path(cfg.reward.custom_reward_function.path).is_file()
    runtime_env = cfg.ray_kwargs.ray_init.runtime_env
    assert runtime_env.worker_process_setup_hook == "carr_agent.integrations.verl.setup_worker"
    assert all(isinstance(v, str) for v in runtime_env.env_vars.values())  # Ray wants strings
