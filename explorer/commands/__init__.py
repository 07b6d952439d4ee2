"""One module per CLI command (see explorer/cli.py)."""
