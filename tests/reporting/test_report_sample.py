"""Reports on the bundled sample, checked against independent calculations.

The expected figures come from pandas over the raw FOCUS rows of
``providers/sample/data/usage.parquet`` and from a plain-Python hour-by-hour
application of the sample's inventory written here from DESIGN.md's rules —
not from ``core.billing`` nor ``reporting``. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache

import numpy as np
import pandas as pd
import pytest
from reporting_factories import store_sample
from sqlalchemy.orm import Session

from core.domain import Shape
from providers.sample import SampleProvider, usage_path
from reporting import (
    Dimension,
    Granularity,
    ReportQuery,
    Scope,
    chargeback,
    coverage,
    savings,
    utilisation,
)
from reporting.money import cents_of, round_cents

SIZES = {"large": 4.0, "xlarge": 8.0, "2xlarge": 16.0, "4xlarge": 32.0}
G, D = Granularity, Dimension

SCOPE = Scope(provider="sample")


@cache
def focus_rows() -> pd.DataFrame:
    """The sample's FOCUS rows with their usage key, units, month and team, by pandas alone."""
    rows = pd.read_parquet(usage_path())
    parts = rows["x_UsageType"].str.extract(r"BoxUsage:(\w+)\.(\w+)")
    rows["units"] = rows["ConsumedQuantity"] * parts[1].map(SIZES)
    rows["usage_key"] = ("aws/" + rows["SubAccountId"] + "/ec2/us-east-1/" + parts[0]
                         + "/linux/shared")
    rows["hour"] = rows["ChargePeriodStart"].dt.tz_convert("UTC")
    rows["month"] = rows["hour"].dt.strftime("%Y-%m")
    rows["team"] = rows["Tags"].map(lambda text: json.loads(text)["team"])
    return rows


@pytest.fixture
def sample(session: Session) -> Session:
    """The sample ingested (usage, FOCUS cost lines, catalog, inventory) and its facts built."""
    store_sample(session)
    return session


def _by(report: object, *keys: str) -> dict[tuple[object, ...], dict[str, object]]:
    return {tuple(r[k] for k in keys): r for r in report.records()}  # type: ignore[attr-defined]


def test_on_demand_equivalent_and_focus_costs_equal_the_focus_rows(sample: Session) -> None:
    rows = focus_rows()
    expected = rows.groupby(["month", "SubAccountId"])[
        ["ListCost", "BilledCost", "ContractedCost", "EffectiveCost"]].sum()
    report = _by(savings(sample, ReportQuery(group_by=D.ACCOUNT, scope=SCOPE)),
                 "period", "group")
    for index, row in expected.iterrows():
        got = report[tuple(index)]  # type: ignore[arg-type]
        assert got["on_demand_equivalent"] == pytest.approx(row["ListCost"], abs=0.01)
        assert got["focus_billed_cost"] == pytest.approx(row["BilledCost"], abs=0.01)
        assert got["focus_contracted_cost"] == pytest.approx(row["ContractedCost"], abs=0.01)
        esr = (row["ContractedCost"] - row["EffectiveCost"]) / row["ContractedCost"]
        assert got["esr_focus"] == pytest.approx(esr, abs=1e-9)


def test_on_demand_equivalent_by_tag_equals_the_focus_rows_of_each_tag(sample: Session) -> None:
    expected = focus_rows().groupby(["month", "team"])["ListCost"].sum()
    report = _by(savings(sample, ReportQuery(group_by=D.TAG, scope=Scope(
        provider="sample", tag_key="team"))), "period", "group")
    for index, cost in expected.items():
        got = report[tuple(index)]  # type: ignore[arg-type]
        assert got["on_demand_equivalent"] == pytest.approx(cost, abs=0.01)


@cache
def hand_billing() -> dict[str, dict[str, float]]:
    """The inventory applied hour by hour in plain Python (DESIGN.md, "Application order").

    Per month: on-demand equivalent, covered on-demand dollars, on-demand cost,
    commitment cost; and per commitment id its paid and used dollars.
    """
    provider = SampleProvider()
    catalog = provider.catalog()
    rates = catalog.on_demand_rates()
    order = {key: i for i, key in enumerate(catalog.key_ids)}
    rows = focus_rows()
    hourly = rows.groupby(["hour", "usage_key"])[["units", "ListCost"]].sum()
    start = rows["hour"].min()
    hours = pd.date_range(start, rows["hour"].max(), freq="h")
    owned = sorted(provider.inventory(start.to_pydatetime()), key=lambda c: c.start)
    # Unit before spend, then the offering's order and id (stable for equal keys).
    owned.sort(key=lambda c: (c.offering.shape is not Shape.UNIT, c.offering.order,
                              c.offering.offering_id))
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for hour in hours:
        month = hour.strftime("%Y-%m")
        usage: dict[str, float] = {}
        price: dict[str, float] = {}
        if hour in hourly.index.get_level_values(0):
            for name, values in hourly.loc[hour].iterrows():
                key = str(name)
                usage[key], price[key] = values["units"], values["ListCost"] / values["units"]
        left = dict(usage)
        for commitment in owned:
            offering = commitment.offering
            if not commitment.start <= hour.to_pydatetime() < commitment.end:
                continue
            capacity = commitment.quantity
            paid = capacity * offering.amortized_hourly
            if offering.shape is Shape.UNIT:
                keys = sorted(offering.covers, key=lambda k: (-offering.covers[k] * rates[k],
                                                              order[k]))
            else:
                keys = sorted(offering.rates, key=lambda k: (
                    -(1 - offering.rates[k] / rates[k]), offering.rates[k], order[k]))
            for key in keys:
                if left.get(key, 0.0) <= 0 or capacity <= 0:
                    continue
                per_unit = (1 / offering.covers[key] if offering.shape is Shape.UNIT
                            else offering.rates[key])
                take = min(left[key], capacity / per_unit)
                capacity -= take * per_unit
                left[key] -= take
                totals[month]["covered_on_demand"] += take * price[key]
            totals[commitment.commitment_id]["paid"] += paid
            totals[commitment.commitment_id]["used"] += (commitment.quantity - max(capacity, 0)) \
                * offering.amortized_hourly
            totals[month]["commitment_cost"] += paid
        totals[month]["on_demand_equivalent"] += sum(usage[k] * price[k] for k in usage)
        totals[month]["on_demand_cost"] += sum(left[k] * price[k] for k in left)
    return {name: dict(values) for name, values in totals.items()}


def test_coverage_equals_a_hand_application_of_the_inventory(sample: Session) -> None:
    expected = hand_billing()
    report = _by(coverage(sample, ReportQuery(scope=SCOPE)), "period")
    for month in ("2024-06", "2024-07", "2024-08"):
        got = report[(month,)]
        assert got["covered_on_demand"] == pytest.approx(
            expected[month]["covered_on_demand"], abs=0.01)
        assert got["coverage"] == pytest.approx(
            expected[month]["covered_on_demand"] / expected[month]["on_demand_equivalent"],
            abs=1e-6)


def test_utilisation_per_commitment_equals_the_hand_application(sample: Session) -> None:
    expected = hand_billing()
    report = _by(utilisation(sample, ReportQuery(granularity=G.TOTAL, group_by=D.COMMITMENT,
                                                 scope=SCOPE)), "group")
    for commitment_id in ("sample-ri-m4-2021-08", "sample-ri-c4-2022-01",
                          "sample-ri-r4-2023-10", "sample-sp-compute-2024-03"):
        got, hand = report[(commitment_id,)], expected[commitment_id]
        assert got["commitment_cost"] == pytest.approx(hand["paid"], abs=0.01)
        assert got["used_cost"] == pytest.approx(hand["used"], abs=0.01)
    # The c4 RI idles once c4 has moved to c5 (from 2024-08-26).
    assert float(report[("sample-ri-c4-2022-01",)]["utilisation"]) < 0.95  # type: ignore[arg-type]


def test_chargeback_equals_the_bill_to_the_cent(sample: Session) -> None:
    expected = hand_billing()
    report = chargeback(sample, ReportQuery(group_by=D.ACCOUNT, scope=SCOPE))
    bills = savings(sample, ReportQuery(scope=SCOPE))
    frame = report.frame
    for month in ("2024-06", "2024-07", "2024-08"):
        charged = int(cents_of(frame.loc[frame["period"] == month, "amortized_cost"]).sum())
        bill = bills.frame.loc[bills.frame["period"] == month, "amortized_cost"].item()
        assert charged == int(cents_of([bill])[0])
        hand = expected[month]["on_demand_cost"] + expected[month]["commitment_cost"]
        assert charged == round_cents(hand)
    for column in ("on_demand_cost", "commitment_used_cost", "commitment_unused_cost"):
        assert np.all(frame[column] >= 0)


def test_chargeback_by_tag_equals_the_bill_to_the_cent(sample: Session) -> None:
    report = chargeback(sample, ReportQuery(group_by=D.TAG, scope=Scope(
        provider="sample", tag_key="team")))
    by_account = chargeback(sample, ReportQuery(group_by=D.ACCOUNT, scope=SCOPE))
    for month in ("2024-06", "2024-07", "2024-08"):
        tags = report.frame.loc[report.frame["period"] == month, "amortized_cost"]
        accounts = by_account.frame.loc[by_account.frame["period"] == month, "amortized_cost"]
        assert cents_of(tags).sum() == cents_of(accounts).sum()


def test_sample_teams_are_those_of_the_tags() -> None:
    teams = set(focus_rows()["team"])
    assert {"commerce", "search", "platform", "growth", "data"} <= teams
    assert all(re.fullmatch(r"aws/\d{12}/ec2/us-east-1/\w+/linux/shared", k)
               for k in focus_rows()["usage_key"].unique())
