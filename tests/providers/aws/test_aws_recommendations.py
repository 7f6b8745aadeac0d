"""Cost Explorer's recommendations as frames with fixed columns and Ladder's offering ids."""

from __future__ import annotations

import pytest
from aws_replay import ClientsFor

from providers.aws.recommendations import (
    RI_RECOMMENDATION_COLUMNS,
    SP_RECOMMENDATION_COLUMNS,
    reservation_recommendations,
    savings_plans_recommendations,
)

A, B = "111122223333", "444455556666"


def test_savings_plans_recommendations_as_a_frame(aws_clients: ClientsFor) -> None:
    """Compute SP over two pages (NextPageToken loop), EC2 Instance SP with its family."""
    frame = savings_plans_recommendations(
        aws_clients(), terms=("ONE_YEAR",), payment_options=("NO_UPFRONT",),
        account_scope="LINKED")
    assert tuple(frame.columns) == SP_RECOMMENDATION_COLUMNS
    assert list(frame["account_id"]) == [A, B, A]
    assert list(frame["offering_id"]) == ["sp-compute-1y-nu", "sp-compute-1y-nu",
                                          "sp-ec2-1y-nu/us-east-1/m5"]
    assert list(frame["hourly_commitment"]) == pytest.approx([2.12, 0.92, 1.85])
    assert frame["lookback_days"].tolist() == [30, 30, 30]
    assert frame.loc[2, "region"] == "us-east-1" and frame.loc[2, "family"] == "m5"
    assert frame["source"].unique().tolist() == ["aws-cost-explorer"]


def test_reservation_recommendations_as_a_frame(aws_clients: ClientsFor) -> None:
    """One row per instance type; only size-flexible Linux maps to a Ladder RI offering."""
    frame = reservation_recommendations(
        aws_clients(), offering_classes=("STANDARD",), terms=("ONE_YEAR",),
        payment_options=("PARTIAL_UPFRONT",))
    assert tuple(frame.columns) == RI_RECOMMENDATION_COLUMNS
    linux, windows = frame.to_dict("records")
    assert linux["offering_id"] == "ri-std-1y-pu/us-east-1/m5/linux"
    assert (linux["instances"], linux["normalized_units"]) == (21.0, 84.0)
    assert linux["region"] == "us-east-1" and linux["location"] == "US East (N. Virginia)"
    assert windows["offering_id"] is None and windows["platform"] == "windows"
    assert windows["upfront_cost"] == 5439.0
