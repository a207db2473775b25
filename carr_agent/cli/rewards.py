"""`carr-agent` commands (rewards): being written; registers nothing yet."""
