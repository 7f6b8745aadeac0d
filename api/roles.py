"""Roles and what each may do: the one table every route's authorisation reads.

A key carries one role; a route names the permission it needs. ``api/README.md``
states the same matrix in words (a test keeps the two equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from core.db.models import API_KEY_ROLES


class Role(StrEnum):
    """The role an API key carries."""

    VIEWER = "viewer"
    FINANCE = "finance"
    APPROVER = "approver"
    ADMIN = "admin"


class Permission(StrEnum):
    """Something a route does that not every role may do."""

    READ = "read"
    """Plans, runs, commitments, policies, and the savings/ESR, coverage, utilisation and
    calendar reports."""
    READ_FINANCE = "read_finance"
    """Amortization and chargeback reports, budgets and their status."""
    WRITE_BUDGETS = "write_budgets"
    """Create, update and delete budgets."""
    WRITE_METRICS = "write_metrics"
    """Store business metrics (unit economics)."""
    READ_AUDIT = "read_audit"
    """List the audit log and verify its chain."""
    DECIDE_PLANS = "decide_plans"
    """Approve and reject plans."""
    TRIGGER_RUNS = "trigger_runs"
    """Start a run (it may buy, inside the policy)."""
    WRITE_POLICY = "write_policy"
    """Change a scope's policy."""
    MANAGE_KEYS = "manage_keys"
    """Create, list and revoke API keys."""


GRANTS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.FINANCE: frozenset({Permission.READ, Permission.READ_FINANCE, Permission.WRITE_BUDGETS,
                             Permission.WRITE_METRICS, Permission.READ_AUDIT}),
    Role.APPROVER: frozenset({Permission.READ, Permission.READ_AUDIT, Permission.DECIDE_PLANS,
                              Permission.TRIGGER_RUNS}),
    Role.ADMIN: frozenset(Permission),
}
"""What each role may do."""

assert {str(role) for role in Role} == set(API_KEY_ROLES), "roles differ from the table's"


def roles_with(permission: Permission) -> list[Role]:
    """The roles granted ``permission``, in the order of ``Role``."""
    return [role for role in Role if permission in GRANTS[role]]
