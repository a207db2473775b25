"""`carr-agent` commands (train): being written; registers nothing yet."""
