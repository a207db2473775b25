"""``python -m carr_agent.cli`` runs the ``carr-agent`` command line."""

from carr_agent.cli import main

main()
