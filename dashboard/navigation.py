"""The pages of the navigation bar and the permission each needs.

A page needs the permission of the ``/v1`` routes it reads; who has it is
``api.roles``' matrix, so the dashboard and the API always agree on who sees what.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.roles import Permission


@dataclass(frozen=True, slots=True)
class PageSpec:
    """A page of the navigation: its path, its name and the permission it needs."""

    path: str
    label: str
    permission: Permission


PAGES = (
    PageSpec("/", "Overview", Permission.READ),
    PageSpec("/plans", "Plans", Permission.READ),
    PageSpec("/commitments", "Commitments", Permission.READ),
    PageSpec("/budgets", "Budgets", Permission.READ_FINANCE),
    PageSpec("/chargeback", "Chargeback", Permission.READ_FINANCE),
    PageSpec("/spend", "Spend", Permission.READ_FINANCE),
    PageSpec("/spend-forecast", "Forecast", Permission.READ_FINANCE),
    PageSpec("/variance", "Variance", Permission.READ_FINANCE),
    PageSpec("/unit-cost", "Unit cost", Permission.READ_FINANCE),
    PageSpec("/runs", "Runs", Permission.READ),
    PageSpec("/audit", "Audit", Permission.READ_AUDIT),
)
PAGE_BY_PATH = {spec.path: spec for spec in PAGES}
