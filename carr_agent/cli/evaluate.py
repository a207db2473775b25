"""`carr-agent` commands (evaluate): being written; registers nothing yet."""
