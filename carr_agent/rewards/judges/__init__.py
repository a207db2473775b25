"""Judges for CaRR: the :class:`Judge` Protocol, the LLM judge, the deterministic judge."""

from carr_agent.rewards.judges.base import Judge, OutcomeVerdict
from carr_agent.rewards.judges.deterministic import DeterministicJudge

__all__ = ["DeterministicJudge", "Judge", "OutcomeVerdict"]
