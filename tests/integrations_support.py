"""Test data for the engine adapters: a three-page corpus, a two-hop task and a stand-in for an
engine's rollout server that answers with scripted completions as token ids (the one part that
cannot run here is a large policy; everything around it — chat template, tool calls, the real
graph and tools, token assembly, CaRR scoring — is real).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the world of the CPU training test: same corpus, task and scripted full research
from tests.test_training_loop import DOCS, GOOD, TASK
from tests.test_training_loop import _answer as answer
from tests.test_training_loop import _call as call

QUESTION = TASK.question
LABEL = TASK.label
REMOTE_ENV_INFO = {
    "search_forbidden_strs": [QUESTION],
    "rubrics": list(TASK.rubrics),
    "entities": dict(TASK.entities or {}),
}
GOOD_SCRIPT = [call("search", query="Zorblat Institute founded"),
               call("open", id_or_url="https://example.org/zorblat"),
               call("open", id_or_url="https://example.org/prague"), GOOD]
__all__ = ["DOCS", "GOOD", "GOOD_SCRIPT", "LABEL", "QUESTION", "REMOTE_ENV_INFO", "ScriptedServer",
           "answer", "build_corpus", "call"]


def build_corpus(root: Path) -> Any:
    from carr_agent.tools.corpus import CorpusIndex

    (root / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return CorpusIndex.build(root / "docs.jsonl", root / "index")


@dataclass
class TokenOutput:
    token_ids: list[int]
    log_probs: list[float] | None


@dataclass
class ScriptedServer:
    """``async generate(request_id, *, prompt_ids, sampling_params)`` answering each call with the
    next scripted completion, tokenised with the policy's tokenizer and ended by ``<|im_end|>``."""

    tokenizer: Any
    script: Sequence[str]
    logprob: float = -0.5
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def generate(self, request_id: str, *, prompt_ids: list[int],
                       sampling_params: dict[str, Any], **kwargs: Any) -> TokenOutput:
        await asyncio.sleep(0)
        k = len(self.calls)
        self.calls.append({"request_id": request_id, "prompt_ids": list(prompt_ids),
                           "sampling_params": dict(sampling_params)})
        text = self.script[k]
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        ids.append(self.tokenizer.convert_tokens_to_ids("<|im_end|>"))
        return TokenOutput(ids, [self.logprob] * len(ids))
