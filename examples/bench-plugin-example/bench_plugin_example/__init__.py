"""Example synthloc-bench plugins, registered through entry points in pyproject.toml."""
