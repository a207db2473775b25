"""carr_agent: deep-search agents on LangGraph, Citation-aware Rubric Rewards and C-GRPO."""

from __future__ import annotations

__version__ = "0.1.0"
