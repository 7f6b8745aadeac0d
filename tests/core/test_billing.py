"""The billing engine on cases worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.billing import apply_commitments, bill, schedule, summarize
from core.domain import Commitment, Offering, Shape

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make_unit(offering_id: str = "ri", *, covers: dict[str, float], hourly: float = 0.6,
              upfront: float = 0.0, term_hours: int = 100, order: int = 0) -> Offering:
    """A unit offering with keyword overrides."""
    return Offering(offering_id=offering_id, shape=Shape.UNIT, term_hours=term_hours,
                    upfront=upfront, hourly=hourly, order=order, covers=covers)


def make_spend(offering_id: str = "sp", *, rates: dict[str, float], term_hours: int = 100,
               order: int = 10, upfront_fraction: float = 0.0) -> Offering:
    """A spend offering with keyword overrides."""
    return Offering.spend(offering_id, term_hours=term_hours, upfront_fraction=upfront_fraction,
                          rates=rates, order=order)


def test_size_flexible_unit_covers_most_displaced_dollars_first() -> None:
    """One unit covers 1 unit of `big` ($1.0) or 4 units of `small` ($0.2 each, $0.8 per unit).

    Usage big=2, small=8, 3 units bought: `big` first (2 units of capacity),
    then 1 unit covers 4 of `small`; on-demand left: 4 small units = $0.80.
    """
    offering = make_unit(covers={"big": 1.0, "small": 4.0})
    result = apply_commitments(np.array([[2.0, 8.0]]), ["small", "big"][::-1],
                               np.array([1.0, 0.2]), [offering], np.array([[3.0]]))
    np.testing.assert_allclose(result.covered_by(0), [[2.0, 4.0]])
    np.testing.assert_allclose(result.on_demand_units, [[0.0, 4.0]])
    np.testing.assert_allclose(result.used, [[3.0]])
    assert summarize(result).on_demand_cost == pytest.approx(0.8)


def test_spend_commitment_covers_highest_discount_first() -> None:
    """$1/h of spend, rates a=0.5 (50% off), b=0.8 (20% off), on-demand 1.0 each.

    Usage a=1, b=5: a first costs $0.5 of the dollar; the other $0.5 covers
    0.625 units of b. On-demand left: 4.375 units of b.
    """
    offering = make_spend(rates={"b": 0.8, "a": 0.5})
    result = apply_commitments(np.array([[1.0, 5.0]]), ["a", "b"], np.array([1.0, 1.0]),
                               [offering], np.array([[1.0]]))
    np.testing.assert_allclose(result.covered_by(0), [[1.0, 0.625]])
    np.testing.assert_allclose(result.on_demand_units, [[0.0, 4.375]])
    assert result.unused[0, 0] == pytest.approx(0.0)


def test_spend_discount_ties_go_to_lowest_rate_then_catalog_order() -> None:
    """Equal discounts (50%) at rates 0.5 and 1.0: the lowest rate (key b) first."""
    offering = make_spend(rates={"a": 1.0, "b": 0.5})
    result = apply_commitments(np.array([[4.0, 1.0]]), ["a", "b"], np.array([2.0, 1.0]),
                               [offering], np.array([[1.0]]))
    # b takes $0.5 for its 1 unit; the remaining $0.5 covers 0.5 units of a.
    np.testing.assert_allclose(result.covered_by(0), [[0.5, 1.0]])


def test_unit_then_narrow_spend_then_broad_spend_in_order() -> None:
    """Usage m=10, c=4, on-demand 1.0 each. RI of 6 on m; EC2 SP $1 on m at 0.5; Compute SP $1.

    RI covers 6 m. The narrow SP (order 10) covers 2 m for $1. The broad SP
    (order 20, m at 0.7, c at 0.6: c has the higher discount) covers 1/0.6 units of c.
    Listed out of order on purpose: the engine sorts by shape then order.
    """
    broad = make_spend("compute", rates={"m": 0.7, "c": 0.6}, order=20)
    narrow = make_spend("ec2-m", rates={"m": 0.5}, order=10)
    ri = make_unit(covers={"m": 1.0}, order=5)
    result = apply_commitments(np.array([[10.0, 4.0]]), ["m", "c"], np.array([1.0, 1.0]),
                               [broad, narrow, ri], np.ones((1, 3)) * [1.0, 1.0, 6.0])
    np.testing.assert_allclose(result.covered_by(2), [[6.0, 0.0]])
    np.testing.assert_allclose(result.covered_by(1), [[2.0, 0.0]])
    np.testing.assert_allclose(result.covered_by(0), [[0.0, 1.0 / 0.6]])
    np.testing.assert_allclose(result.on_demand_units, [[2.0, 4.0 - 1.0 / 0.6]])


def test_commitment_expires_at_term_end() -> None:
    """Bought at hour 1 with a 2-hour term: active in hours 1 and 2, not 0 or 3."""
    offering = make_unit(covers={"k": 1.0}, term_hours=2)
    commitment = Commitment(offering, 5.0, T0 + timedelta(hours=1))
    np.testing.assert_allclose(schedule([commitment], T0, 4)[:, 0], [0, 5, 5, 0])
    result = bill(np.full((4, 1), 7.0), ["k"], np.array([1.0]), [commitment], T0)
    np.testing.assert_allclose(result.on_demand_units[:, 0], [7, 2, 2, 7])
    assert commitment.end == T0 + timedelta(hours=3)


def test_utilisation_and_waste_are_cost_weighted() -> None:
    """RI of 10 units, $0.5/h amortized ($0.2/h + $30 upfront over 100 h); usage 10, 4, 0.

    Paid 3 × 10 × 0.5 = $15; used (10 + 4 + 0) × 0.5 = $7; waste $8; utilisation 7/15.
    ESR: equivalent $14, cost $15 + $0 on-demand → savings −$1.
    """
    offering = make_unit(covers={"k": 1.0}, hourly=0.2, upfront=30.0, term_hours=100)
    result = bill(np.array([[10.0], [4.0], [0.0]]), ["k"], np.array([1.0]),
                  [Commitment(offering, 10.0, T0)], T0)
    summary = summarize(result)
    assert summary.commitment_cost == pytest.approx(15.0)
    assert summary.waste == pytest.approx(8.0)
    assert summary.utilisation == pytest.approx(7.0 / 15.0)
    assert summary.on_demand_equivalent == pytest.approx(14.0)
    assert summary.savings == pytest.approx(-1.0)
    assert summary.coverage == pytest.approx(1.0)


def test_no_commitments_means_everything_on_demand() -> None:
    """With nothing owned, cost equals the on-demand equivalent and ESR is 0."""
    result = bill(np.array([[3.0, 1.0]]), ["a", "b"], np.array([0.5, 2.0]), [], T0)
    summary = summarize(result)
    assert summary.total_cost == pytest.approx(3.5)
    assert summary.esr == 0.0
    assert summary.utilisation == 1.0


def test_window_charges_only_hours_inside() -> None:
    """A window starting at hour 1 ignores hour 0's usage and commitment."""
    offering = make_unit(covers={"k": 1.0}, hourly=0.5)
    result = bill(np.array([[4.0], [2.0]]), ["k"], np.array([1.0]),
                  [Commitment(offering, 2.0, T0)], T0)
    summary = summarize(result, slice(1, None))
    assert summary.hours == 1
    assert summary.commitment_cost == pytest.approx(1.0)
    assert summary.on_demand_equivalent == pytest.approx(2.0)


def test_engine_never_covers_more_than_usage_or_capacity() -> None:
    """Invariants on random portfolios: coverage ≤ usage, used ≤ quantity, all ≥ 0."""
    rng = np.random.default_rng(7)
    keys = [f"k{i}" for i in range(6)]
    offerings = [make_unit(f"ri{i}", covers={keys[i]: 1.0, keys[i + 1]: 2.0}, order=i)
                 for i in range(5)]
    offerings += [make_spend(f"sp{i}", rates={k: rng.uniform(0.3, 0.9) for k in keys},
                             order=10 + i) for i in range(3)]
    usage = rng.uniform(0, 20, size=(48, 6))
    quantity = rng.uniform(0, 5, size=(48, len(offerings)))
    result = apply_commitments(usage, keys, np.ones(6), offerings, quantity)
    assert (result.on_demand_units >= -1e-12).all()
    assert (result.used <= quantity + 1e-12).all()
    assert (result.used >= -1e-12).all()
    total = sum(result.covered_by(c) for c in range(len(offerings)))
    np.testing.assert_allclose(total + result.on_demand_units, usage)
