"""Training config: defaults are valid, files load, and bad keys/values are named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from carr_agent.errors import ConfigError
from carr_agent.training.config import TrainConfig, config_from_dict, config_to_dict, load_config
from tests.cli_support import run_cli


def test_defaults_follow_the_paper_where_scale_free() -> None:
    cfg = TrainConfig()
    assert (cfg.loss.eps_low, cfg.loss.eps_high) == (0.2, 0.28)
    assert (cfg.loss.mismatch_low, cfg.loss.mismatch_high) == (0.5, 2.0)
    assert cfg.loss.kl_coef == 0.0 and cfg.loss.name == "clipped_token_mean"
    assert cfg.optim.weight_decay == 0.1 and cfg.rollout.temperature == 1.0
    assert config_from_dict(config_to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"rollout": {"grup_size": 4}}, "rollout.grup_size"),
        ({"rollout": {"group_size": 1}}, "rollout.group_size"),
        ({"rollout": {"group_size": "4"}}, "rollout.group_size"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
        ({"loss": {"name": "nope"}}, "loss.name"),
        ({"reward": {"advantage": "nope"}}, "reward.advantage"),
        ({"reward": {"rubric_for": "some"}}, "reward.rubric_for"),
        ({"rollout": {"vllm": {"gpu_memory_utilization": 2.0}}}, "rollout.vllm.gpu_memory_utilization"),
        ({"policy": {"device": "tpu"}}, "policy.device"),
        ({"max_steps": True}, "max_steps"),
        ({"data": []}, "data"),
    ],
)
def test_bad_config_names_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict(data)


def test_yaml_and_toml_files_load_with_overrides(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("max_steps: 7\nrollout:\n  group_size: 8\n")
    (tmp_path / "a.toml").write_text("max_steps = 7\n[rollout]\ngroup_size = 8\n")
    for name in ("a.yaml", "a.toml"):
        cfg = load_config(tmp_path / name, {"output_dir": "x"})
        assert (cfg.max_steps, cfg.rollout.group_size, cfg.output_dir) == (7, 8, "x")
    (tmp_path / "b.yaml").write_text("rollout: [\n")
    with pytest.raises(ConfigError, match="syntax error"):
        load_config(tmp_path / "b.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_shipped_example_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[1] / "examples"
    files = sorted(root.glob("train_*.yaml"))
    assert len(files) >= 3
    for f in files:
        load_config(f)


def test_cli_config_show_prints_every_default_and_bad_files_exit_2(tmp_path: Path) -> None:
    out = run_cli("train", "config-show")
    assert out.returncode == 0, out.stderr
    for key in ("group_size:", "eps_high: 0.28", "mismatch_low: 0.5", "micro_batch_size:",
                "gpu_memory_utilization:", "backend: hf"):
        assert key in out.stdout
    (tmp_path / "bad.yaml").write_text("loss:\n  eps_hi: 0.3\n")
    bad = run_cli("train", "--config", str(tmp_path / "bad.yaml"))
    assert bad.returncode == 2 and "loss.eps_hi" in bad.stdout
