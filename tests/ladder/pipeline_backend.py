"""Which database the pipeline tests run on.

A whole forecast-and-LP run (``ladder run``, ``ladder optimize``, a fault-injected run)
gives the same result on SQLite and on PostgreSQL: the database only stores what the
pipeline decided. Such tests run once, on SQLite (:data:`ON_SQLITE_ONLY`). What the
database itself does (run locks, advisory locks and leases, SKIP LOCKED, migrations,
triggers, column limits, recovery of killed runs) stays tested on both backends.
"""

from __future__ import annotations

import pytest

ON_SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""Run the test on SQLite only (it overrides the ``backend`` fixture's two params)."""
