"""Stage B: multi-agent dialog generation (user / assistant / tool)."""
