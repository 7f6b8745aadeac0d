"""Ladder's database: SQLAlchemy 2 models, engines and sessions, migrations, the repository.

SQLite is the embedded default and PostgreSQL the production database; the same
models, migrations and queries serve both.
"""

# Every table module, so that Base.metadata holds every table whichever one a caller imports
# (they share core.db.base; none imports another).
from core.db import models as models
from core.db import period_models as period_models
from core.db import reporting_models as reporting_models
from core.db.session import create_engine_for, migrate, session_scope

__all__ = ["create_engine_for", "migrate", "session_scope"]
