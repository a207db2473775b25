"""carr_agent.rewards."""
