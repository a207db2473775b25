"""verl custom reward file: ``reward.custom_reward_function.path=examples/verl/carr_reward.py``
with ``reward.custom_reward_function.name=compute_score``.

verl loads reward functions from a file path; this file only re-exports the adapter so the
scoring code stays in the installed package. See docs/scale-out.md.
"""

from carr_agent.integrations.verl.reward import compute_score

__all__ = ["compute_score"]
