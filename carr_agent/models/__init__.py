"""carr_agent.models."""
