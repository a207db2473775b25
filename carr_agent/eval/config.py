"""The configuration of one evaluation run, and its hash (the results store's run key).

Everything that can change an agent's answer or its score is part of the configuration: model,
search corpus, budgets, system prompt, judge and scoring options. Concurrency and ``--limit`` are
not (they change how fast, not what). Two invocations with equal configurations share results:
that is how an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from carr_agent.errors import ConfigError
from carr_agent.graph.config import AgentConfig
from carr_agent.rewards.options import DEFAULT_ALPHA


@dataclass(frozen=True, kw_only=True, slots=True)
class EvalConfig:
    """What an evaluation run is (recorded in the store; hashed into its key).

    Attributes:
        model: the chat model, as a descriptive string (e.g. ``"qwen2.5-0.5b"``,
            ``"openai:gpt-4.1-mini@https://api.openai.com/v1"``, ``"scripted:<sha256>"``).
        corpus: the search/fetch backend, e.g. ``"example-corpus:<sha256>"`` or ``"web"``.
        judge: the judge, e.g. ``"deterministic"`` or ``"llm:<model>@<base_url>"``.
        agent: the agent's budgets (tool calls, required tool calls, context, page size).
        system_prompt_sha: sha256 of the system prompt ("" = the default prompt).
        alpha: rubric weight α of the combined reward.
        connectivity: require supported rubrics to chain to the answer.
        check_citations: judge each citing sentence against its source's evidence.
        extra: anything else worth recording (free-form, part of the hash).
    """

    model: str
    corpus: str
    judge: str
    agent: AgentConfig = field(default_factory=AgentConfig)
    system_prompt_sha: str = ""
    alpha: float = DEFAULT_ALPHA
    connectivity: bool = True
    check_citations: bool = True
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("model", "corpus", "judge"):
            if not getattr(self, name).strip():
                raise ConfigError(f"EvalConfig.{name} must be a non-empty string")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha must be in [0, 1], got {self.alpha}")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-safe data (what the store records)."""
        data = asdict(self)
        data["extra"] = dict(self.extra)
        return data

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict` (the store's run key)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def file_sha256(data: bytes) -> str:
    """Short content hash used to identify scripts, corpora and prompts in a configuration."""
    return hashlib.sha256(data).hexdigest()[:16]


__all__ = ["EvalConfig", "file_sha256"]
