"""Every reported column is defined, in the code and in reporting/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

import reporting
from reporting.amortization import AMORTIZATION_COLUMNS, SCHEDULE_COLUMNS
from reporting.budgets import STATUS_DEFINITIONS
from reporting.calendar import CALENDAR_COLUMNS, EXPIRATION_COLUMNS
from reporting.chargeback import CHARGEBACK_COLUMNS, SHOWBACK_COLUMNS
from reporting.definitions import DEFINITIONS
from reporting.savings import SAVINGS_COLUMNS
from reporting.utilisation import COVERAGE_COLUMNS, UTILISATION_COLUMNS, WASTE_COLUMNS

README = Path(reporting.__file__).resolve().parent / "README.md"
UNDEFINED = {"provider", "commitment_id", "offering_id", "shape", "start_at",
             "payment_option", "commitment"}
"""Plain identifiers, named as in the rest of Ladder."""


@pytest.mark.parametrize("columns", [
    SAVINGS_COLUMNS, COVERAGE_COLUMNS, UTILISATION_COLUMNS, WASTE_COLUMNS,
    AMORTIZATION_COLUMNS, SCHEDULE_COLUMNS, CHARGEBACK_COLUMNS, SHOWBACK_COLUMNS,
    EXPIRATION_COLUMNS, CALENDAR_COLUMNS,
], ids=lambda columns: columns[3] if len(columns) > 3 else columns[0])
def test_every_figure_has_a_definition(columns: tuple[str, ...]) -> None:
    assert [c for c in columns if c not in DEFINITIONS and c not in UNDEFINED] == []


def test_the_readme_states_every_definition() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name for name in (*DEFINITIONS, *STATUS_DEFINITIONS) if f"`{name}`" not in text]
    assert missing == []
