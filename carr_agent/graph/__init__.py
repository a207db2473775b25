"""carr_agent.graph."""
