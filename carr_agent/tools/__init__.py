"""carr_agent.tools."""
