"""API keys: created once, stored as a keyed hash, each with a role."""
