"""Financial reporting: what the commitments saved and where the money went.

Every figure comes from the billing engine (``core.billing``) applied to the
ingested FOCUS usage, plus the FOCUS cost lines; ``reporting/README.md`` defines
each one, and every report carries its definitions. The service API, for the
REST API and the CLI (functions take a SQLAlchemy ``Session``, flush and never
commit):

* facts: ``refresh_facts`` (after ingest / inventory changes), ``snapshot_status``;
* reports (a :class:`Report` each): ``savings``, ``coverage``, ``utilisation``,
  ``waste``, ``amortization``, ``payment_schedule``, ``chargeback``,
  ``commitment_showback``, ``expirations``, ``commitment_calendar``;
* budgets: ``create_budget``, ``get_budget``, ``list_budgets``, ``count_budgets``,
  ``update_budget``, ``delete_budget``, ``budget_status``, ``budget_statuses``;
* the whole bill (every FOCUS row, ``bill_cost_lines``), in modules of their own:
  ``reporting.spend`` (spend, cash and amortized basis), ``reporting.spend_forecast``
  (to the end of month, quarter, fiscal year), ``reporting.spend_budgets`` (spend
  budgets, the monthly variance report), ``reporting.unit_cost`` (business metrics,
  cost per unit).
"""

from reporting.amortization import amortization, payment_schedule
from reporting.budgets import (
    Budget,
    BudgetBasis,
    BudgetPeriod,
    BudgetSpec,
    BudgetStatus,
    RunRate,
    SpendForecaster,
    ThresholdState,
    budget_status,
    budget_statuses,
    count_budgets,
    create_budget,
    delete_budget,
    get_budget,
    list_budgets,
    update_budget,
)
from reporting.calendar import commitment_calendar, expirations
from reporting.chargeback import chargeback, commitment_showback
from reporting.common import Dimension, Granularity, Report, ReportQuery, Scope, SnapshotInfo
from reporting.definitions import DEFINITIONS, UNALLOCATED, UNTAGGED
from reporting.savings import savings
from reporting.snapshot import SnapshotStatus, clear_cache, refresh_facts, snapshot_status
from reporting.utilisation import coverage, utilisation, waste

__all__ = [
    "DEFINITIONS",
    "UNALLOCATED",
    "UNTAGGED",
    "Budget",
    "BudgetBasis",
    "BudgetPeriod",
    "BudgetSpec",
    "BudgetStatus",
    "Dimension",
    "Granularity",
    "Report",
    "ReportQuery",
    "RunRate",
    "Scope",
    "SnapshotInfo",
    "SnapshotStatus",
    "SpendForecaster",
    "ThresholdState",
    "amortization",
    "budget_status",
    "budget_statuses",
    "chargeback",
    "clear_cache",
    "commitment_calendar",
    "commitment_showback",
    "count_budgets",
    "coverage",
    "create_budget",
    "delete_budget",
    "expirations",
    "get_budget",
    "list_budgets",
    "payment_schedule",
    "refresh_facts",
    "savings",
    "snapshot_status",
    "update_budget",
    "utilisation",
    "waste",
]
