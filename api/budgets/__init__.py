"""Budgets: create, read, update, delete, and their status against actual cost."""
