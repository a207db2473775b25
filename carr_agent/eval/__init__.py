"""carr_agent.eval."""
