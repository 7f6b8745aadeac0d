"""Runs: trigger one, list them, show one."""
