"""`carr-agent` commands (corpus): being written; registers nothing yet."""
