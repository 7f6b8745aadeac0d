"""Ladder's database: SQLAlchemy 2 models, engines and sessions, migrations, the repository.

SQLite is the embedded default and PostgreSQL the production database; the same
models, migrations and queries serve both.
"""

from core.db.session import create_engine_for, migrate, session_scope

__all__ = ["create_engine_for", "migrate", "session_scope"]
