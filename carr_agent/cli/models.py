"""`carr-agent` commands (models): being written; registers nothing yet."""
