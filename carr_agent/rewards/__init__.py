"""CaRR rewards: citation-aware rubric rewards for deep-search trajectories, and C-GRPO.

Pure core: :mod:`citations`, :mod:`rubrics`, :mod:`evidence`, :mod:`history`,
:mod:`connectivity`, :mod:`cgrpo`. Reading a finished run (its final answer and evidence):
:mod:`run`. Options: :mod:`options`. Judges: :mod:`judges`. Orchestration: :mod:`scorer`.
The reference wire format: :mod:`protocol`.
"""

from carr_agent.rewards.cgrpo import GroupOptions, advantages, group_advantages, group_rewards
from carr_agent.rewards.citations import Citation, answer_body, cited_urls, extract_citations
from carr_agent.rewards.connectivity import connected_rubrics
from carr_agent.rewards.evidence import (
    EvidencePassage,
    SourceEvidence,
    build_evidence_context,
    collect_evidence,
    evidence_from_ledger,
)
from carr_agent.rewards.history import ParsedHistory, parse_history
from carr_agent.rewards.judges import (
    DeterministicJudge,
    Judge,
    JudgeCache,
    LLMJudge,
    OutcomeVerdict,
    judge_from_env,
)
from carr_agent.rewards.options import RewardOptions
from carr_agent.rewards.rubrics import all_entity_labels, fill_rubric, parse_entity_labels
from carr_agent.rewards.run import Trajectory, final_answer, read_history, read_run
from carr_agent.rewards.scorer import CarrScorer, ScoreOptions

__all__ = [
    "CarrScorer",
    "Citation",
    "DeterministicJudge",
    "EvidencePassage",
    "GroupOptions",
    "Judge",
    "JudgeCache",
    "LLMJudge",
    "OutcomeVerdict",
    "ParsedHistory",
    "RewardOptions",
    "ScoreOptions",
    "SourceEvidence",
    "Trajectory",
    "advantages",
    "all_entity_labels",
    "answer_body",
    "build_evidence_context",
    "cited_urls",
    "collect_evidence",
    "connected_rubrics",
    "evidence_from_ledger",
    "extract_citations",
    "fill_rubric",
    "final_answer",
    "group_advantages",
    "group_rewards",
    "judge_from_env",
    "parse_entity_labels",
    "parse_history",
    "read_history",
    "read_run",
]
