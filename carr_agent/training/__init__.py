"""carr_agent.training."""
