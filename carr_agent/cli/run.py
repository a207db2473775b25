"""`carr-agent` commands (run): being written; registers nothing yet."""
