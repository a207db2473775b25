"""Development tools of the carr_agent repository (not part of the installed package)."""
