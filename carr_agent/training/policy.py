"""Load the policy to train (and its frozen reference copy) from a :class:`PolicyConfig`.

Three sources, tried in this order: ``"tiny"`` (a random Qwen2 built from a config, no
download), an existing local directory (any Hugging Face causal LM with a chat template, e.g. a
previous run's ``checkpoints/step-N/policy``), or a registry name of :mod:`carr_agent.models`
(installed beforehand with ``carr-agent models install NAME``; nothing is downloaded here).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from carr_agent.errors import ConfigError, ModelError
from carr_agent.training.config import PolicyConfig

__all__ = ["frozen_copy", "load_policy", "resolve_device"]

logger = logging.getLogger(__name__)


def resolve_device(spec: str) -> Any:
    """``"auto"`` → CUDA when available else CPU; otherwise the named device."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"policy.device: {spec!r} requested but CUDA is not available")
    return torch.device(spec)


def _from_dir(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load a causal LM from {path}: {exc}") from exc
    return model, tokenizer


def _from_registry(name: str) -> tuple[Any, Any]:
    from carr_agent.models.offline import load_local_model
    from carr_agent.models.registry import get_spec

    try:
        spec = get_spec(name)
    except (ConfigError, KeyError) as exc:
        raise ConfigError(
            f"policy.source: {name!r} is not 'tiny', an existing directory, or a registered "
            f"model ({exc})"
        ) from exc
    return load_local_model(spec, show_progress=False)


def load_policy(config: PolicyConfig, *, path: Path | None = None) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` on the configured device and dtype, in eval mode.

    Eval mode (no dropout) keeps the rollout and trainer distributions identical; gradients flow
    in eval mode all the same. The update switches to train mode only for gradient checkpointing.

    Args:
        config: The policy section.
        path: Load from this directory instead of ``config.source`` (resume from a checkpoint).

    Raises:
        ConfigError: Unknown source or device.
        ModelError: The model cannot be loaded.
    """
    import torch

    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    if path is not None:
        model, tokenizer = _from_dir(path)
    elif config.source == "tiny":
        from carr_agent.models.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(
            config.seed, hidden_size=config.tiny_hidden_size, num_layers=config.tiny_layers
        )
    elif Path(config.source).expanduser().is_dir():
        model, tokenizer = _from_dir(Path(config.source).expanduser())
    else:
        model, tokenizer = _from_registry(config.source)
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"policy {config.source!r}: the tokenizer has no chat template")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[config.dtype]
    model = model.to(device=resolve_device(config.device), dtype=dtype)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.eval()
    logger.info(
        "policy %s: %.1fM parameters on %s (%s)",
        config.source if path is None else path,
        sum(p.numel() for p in model.parameters()) / 1e6,
        model.device,
        config.dtype,
    )
    return model, tokenizer


def frozen_copy(model: Any) -> Any:
    """A frozen, eval-mode copy of ``model`` (the KL reference policy)."""
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
