"""Developer tools (stub generation)."""
