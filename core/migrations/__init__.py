"""Alembic migrations of Ladder's database; run them with ``core.db.migrate``."""
