"""Command groups of the `disca` CLI, one module each."""
