"""Optional vLLM rollout backend (GPU): generation by a vLLM engine, training by the HF policy.

**Status: written against vLLM 0.31-0.32's documented API and unit-tested only at its seams
(conversion of vLLM outputs into recorded turns, weight-sync dispatch with stand-in objects).
It has not been executed against a real vLLM engine: the development machine has no GPU.**
See docs/training.md for what was run where.

How it fits: :class:`VLLMChatModel` is an :class:`~carr_agent.models.hf_chat.HFChatModel` whose
sampling step asks a vLLM engine instead of the HF network. Everything else — rendering the chat
template, parsing tool calls, recording :class:`~carr_agent.models.recording.Turn` records — is
the same code, so assembly and the loss mask do not know which backend sampled. The engine gets
the prompt as token ids (``LLM.generate([{"prompt_token_ids": ids}])``) with ``logprobs=0`` (the
sampled token's log-probability only) and ``logprobs_mode="processed_logprobs"`` (after
temperature, as TRL does), so the recorded log-probabilities refer to the same distribution the
trainer recomputes. After each optimiser update the loop calls :meth:`VLLMEngine.sync_weights`,
which streams the policy's parameters into the engine (``model.load_weights``, in process with
``distributed_executor_backend="external_launcher"`` or through ``collective_rpc`` otherwise) and
resets the prefix cache (cached KV blocks were computed with the old weights).

Limitation: ``HFChatModel`` serialises turns per network, so this backend sends one request at a
time; it saves the HF decoding loop, not batching across rollouts. For batched generation across
many rollouts use TRL's GRPOTrainer with vLLM (``examples/trl_accelerate/``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from carr_agent.errors import ModelError, TrainingError
from carr_agent.models.hf_chat import HFChatModel
from carr_agent.training.config import VLLMConfig

__all__ = [
    "VLLMChatModel",
    "VLLMEngine",
    "completion_from_openai_choice",
    "completion_from_vllm",
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
        lp = entry.get(token) if isinstance(entry, dict) else None
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


def _load_weights_on_worker(worker: Any, named: list[tuple[str, Any]]) -> None:
    """Runs inside a vLLM worker (``collective_rpc``): load HF-named tensors into its model."""
    worker.model_runner.model.load_weights(weights=named)


class VLLMEngine:
    """A vLLM ``LLM`` used as the rollout engine of a policy trained in this process."""

    def __init__(self, llm: Any, *, in_process: bool) -> None:
        self.llm = llm
        self.in_process = in_process

    @classmethod
    def from_policy(cls, model: Any, tokenizer: Any, config: VLLMConfig, *, seed: int) -> VLLMEngine:
        """Start vLLM on a snapshot of the policy (written to a temporary directory)."""
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ModelError(
                "rollout.backend 'vllm' needs vLLM (pip install 'carr-agent[vllm]', CUDA only)"
            ) from exc
        snapshot = Path(tempfile.mkdtemp(prefix="carr-vllm-policy-"))
        model.save_pretrained(snapshot)
        tokenizer.save_pretrained(snapshot)
        llm = LLM(
            model=str(snapshot),
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_model_len=config.max_model_len,
            enable_sleep_mode=config.enable_sleep_mode,
            tensor_parallel_size=config.tensor_parallel_size,
            distributed_executor_backend="external_launcher",
            logprobs_mode="processed_logprobs",
            seed=seed,
        )
        return cls(llm, in_process=True)

    def generate(
        self,
        prompt_ids: Sequence[int],
        *,
        temperature: float,
        top_p: float,
        max_tokens: int,
        stop_token_ids: Iterable[int],
        stop: Sequence[str] | None = None,
    ) -> tuple[list[int], list[float], Finish]:
        """Sample one completion for ``prompt_ids``; returns ids, log-probabilities, finish."""
        from vllm import SamplingParams

        params = SamplingParams(
            n=1,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            logprobs=0,
            stop_token_ids=sorted(stop_token_ids),
            stop=list(stop) if stop else None,
            skip_special_tokens=False,
        )
        outputs = self.llm.generate([{"prompt_token_ids": list(prompt_ids)}], params, use_tqdm=False)
        return completion_from_vllm(outputs[0].outputs[0])

    def sync_weights(self, model: Any) -> None:
        """Push the trained policy's parameters into the engine and drop stale prefix caches."""
        named = [(name, p.detach()) for name, p in model.named_parameters()]
        if self.in_process:
            runner_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
            runner_model.load_weights(named)
        else:
            self.llm.collective_rpc(_load_weights_on_worker, args=(named,))
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
            max_tokens=max_new_tokens,
            stop_token_ids=self._end_ids(),
            stop=stop,
        )
