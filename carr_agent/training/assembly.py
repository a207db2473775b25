"""Assemble one token sequence per trajectory from the recorded model turns, with its loss mask.

The graph runs the policy once per model turn; the chat model records each turn's exact prompt
ids, completion ids and log-probabilities (:class:`carr_agent.models.recording.Turn`). A
multi-turn trajectory is trained as ONE sequence::

    turn 1 prompt | turn 1 completion | Δ2 | turn 2 completion | Δ3 | ... | turn n completion
    mask 0          mask 1              0    1                   0         1

where Δk is what turn k's prompt adds after turn k-1's prompt + completion: the chat template's
glue (``\\n``, ``<|im_start|>user``...) and the tool outputs. The mask is decided here, where the
tokens are put together, from where each token came from — never reconstructed afterwards by
searching for special tokens.

This is only valid when every turn's prompt *extends* the previous prompt + completion token for
token (a prefix-consistent history). It breaks when the text the model sampled re-tokenises
differently once rendered into the next prompt (BPE is not injective on token sequences), when
the graph trims or rewrites the history (context budgets), or when a template re-serialises
earlier turns. Such trajectories are not trainable as one sequence: :func:`assemble_turns` raises
:class:`TokenMismatchError` naming the first differing position, and the caller reports and
excludes them (:mod:`carr_agent.training.rollout`). :func:`transcript_mismatch` makes the same
check for the final turn against the chat template applied to the whole final transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from carr_agent.errors import TrainingError

__all__ = [
    "RecordedTurn",
    "TokenMismatchError",
    "TokenTrajectory",
    "assemble_turns",
    "transcript_mismatch",
]


class RecordedTurn(Protocol):
    """What assembly needs from a recorded turn (``carr_agent.models.recording.Turn`` fits)."""

    @property
    def prompt_ids(self) -> list[int]: ...
    @property
    def completion_ids(self) -> list[int]: ...
    @property
    def logprobs(self) -> list[float]: ...
    @property
    def temperature(self) -> float: ...


class TokenMismatchError(TrainingError):
    """A trajectory's turns do not form one prefix-consistent token sequence.

    Attributes:
        turn: Index of the turn whose prompt broke the chain (0-based).
        position: First token position that differs.
    """

    def __init__(self, message: str, *, turn: int, position: int) -> None:
        super().__init__(message)
        self.turn = turn
        self.position = position


@dataclass(frozen=True, kw_only=True)
class TokenTrajectory:
    """One trajectory as a single token sequence.

    Attributes:
        input_ids: The whole conversation's token ids.
        loss_mask: 1 for tokens the policy sampled (completions), 0 for prompts, template glue and
            tool outputs.
        rollout_logprobs: The rollout engine's log-probability for each masked-in token; 0.0
            elsewhere.
        temperature: The temperature the log-probabilities refer to (trainer logits are divided
            by it so both sides compare the same distribution).
        num_turns: Model turns in the trajectory.
        scripted_mask: 1 for loss tokens that were teacher-forced (scripted turns), not sampled;
            None when none were. They are trained like sampled tokens but kept out of the clip
            and mismatch metrics (their ratio is 1 by construction) and reported separately.
        top_p: Nucleus mass the trajectory was sampled with (the trainer applies the same).
        top_k: Top-k it was sampled with (0 = off).
    """

    input_ids: list[int]
    loss_mask: list[int]
    rollout_logprobs: list[float]
    temperature: float
    num_turns: int
    scripted_mask: list[int] | None = None
    top_p: float = 1.0
    top_k: int = 0

    def __post_init__(self) -> None:
        n = len(self.input_ids)
        if len(self.loss_mask) != n or len(self.rollout_logprobs) != n:
            raise ValueError("input_ids, loss_mask and rollout_logprobs must have equal lengths")
        if self.scripted_mask is not None and len(self.scripted_mask) != n:
            raise ValueError("scripted_mask must have the length of input_ids")

    @property
    def sampled_tokens(self) -> int:
        """Number of tokens the policy produced (the loss tokens before mismatch masking)."""
        return sum(self.loss_mask)

    @property
    def free_mask(self) -> list[int]:
        """1 for loss tokens the policy sampled freely (not teacher-forced)."""
        if self.scripted_mask is None:
            return list(self.loss_mask)
        return [m * (1 - s) for m, s in zip(self.loss_mask, self.scripted_mask, strict=True)]

    @property
    def scripted_tokens(self) -> int:
        """Loss tokens that were teacher-forced."""
        return sum(self.scripted_mask) if self.scripted_mask is not None else 0


def _first_difference(a: Sequence[int], b: Sequence[int]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def assemble_turns(turns: Sequence[RecordedTurn]) -> TokenTrajectory:
    """Concatenate a run's turns into one sequence with a loss mask (see the module docstring).

    Args:
        turns: The run's recorded turns, oldest first.

    Returns:
        The assembled :class:`TokenTrajectory`.

    Raises:
        TokenMismatchError: A turn's prompt does not extend the previous prompt + completion, or
            the turns disagree on temperature.
        TrainingError: No turns.
    """
    if not turns:
        raise TrainingError("a trajectory with no model turns cannot be trained on")
    temperature = float(turns[0].temperature)
    truncation = _truncation(turns[0])
    ids: list[int] = []
    mask: list[int] = []
    logps: list[float] = []
    scripted: list[int] = []
    for k, turn in enumerate(turns):
        if float(turn.temperature) != temperature or _truncation(turn) != truncation:
            raise TokenMismatchError(
                f"turn {k} was recorded at temperature {turn.temperature} / top-p, top-k "
                f"{_truncation(turn)}, turn 0 at {temperature} / {truncation}",
                turn=k,
                position=len(ids),
            )
        prompt = list(turn.prompt_ids)
        if prompt[: len(ids)] != ids:
            pos = _first_difference(prompt, ids)
            raise TokenMismatchError(
                f"turn {k}'s prompt does not extend the previous turns: first difference at "
                f"token {pos} (prompt has {len(prompt)} tokens, history {len(ids)})",
                turn=k,
                position=pos,
            )
        delta = prompt[len(ids) :]
        ids.extend(delta)
        mask.extend([0] * len(delta))
        logps.extend([0.0] * len(delta))
        scripted.extend([0] * len(delta))
        ids.extend(turn.completion_ids)
        mask.extend([1] * len(turn.completion_ids))
        logps.extend(float(x) for x in turn.logprobs)
        forced = 1 if getattr(turn, "scripted", False) else 0
        scripted.extend([forced] * len(turn.completion_ids))
    return TokenTrajectory(
        input_ids=ids,
        loss_mask=mask,
        rollout_logprobs=logps,
        temperature=temperature,
        num_turns=len(turns),
        scripted_mask=scripted if any(scripted) else None,
        top_p=truncation[0],
        top_k=truncation[1],
    )


def _truncation(turn: RecordedTurn) -> tuple[float, int]:
    return float(getattr(turn, "top_p", 1.0)), int(getattr(turn, "top_k", 0))


def transcript_mismatch(trajectory: TokenTrajectory, transcript_ids: Sequence[int]) -> str | None:
    """Compare the assembled ids with a re-tokenisation of the whole final transcript.

    Args:
        trajectory: The assembled trajectory.
        transcript_ids: The chat template applied to the final message list (all messages the
            model saw at its last turn plus its last reply), tokenised. It may continue past the
            trajectory (the template's closing glue, a generation prompt).

    Returns:
        None when ``transcript_ids`` starts with exactly the trajectory's ids; otherwise a short
        description of the first difference (for logs and metrics).
    """
    ids = trajectory.input_ids
    if list(transcript_ids[: len(ids)]) == ids:
        return None
    pos = _first_difference(ids, transcript_ids)
    where = "a sampled token" if pos < len(ids) and trajectory.loss_mask[pos] else "a prompt token"
    return (
        f"re-tokenised transcript differs at token {pos} ({where}; trajectory {len(ids)} tokens, "
        f"transcript {len(transcript_ids)})"
    )
