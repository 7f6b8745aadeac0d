"""Schemas of commitments: ``CommitmentRead``, and ``ExpiringCommitmentRead`` with time left."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from core.domain import Shape


class CommitmentSource(StrEnum):
    """Where Ladder learnt of a commitment."""

    INVENTORY = "inventory"
    PLAN = "plan"


class CommitmentRead(BaseModel):
    """An owned commitment, with what it costs."""

    id: int = Field(description="Ladder's id of the commitment.")
    provider: str
    commitment_id: str | None = Field(description="The provider's id, when it has one.")
    offering_id: str
    shape: Shape
    kind: str
    payment_option: str
    term_hours: int
    quantity: float = Field(description="Units (unit shape) or committed $/h (spend shape).")
    start_at: datetime
    end_at: datetime = Field(description="First hour at which it no longer applies.")
    source: CommitmentSource
    upfront_cost: float = Field(description="Paid at purchase, $: the list upfront, or for a "
                                "commitment received in an exchange the exchange's true-up.")
    hourly_cost: float = Field(description="Recurring fee, $/h.")
    amortized_hourly_cost: float = Field(description="List upfront over the term plus hourly, "
                                         "$/h (an exchange carries the value given up over).")


class ExpiringCommitmentRead(CommitmentRead):
    """A commitment that ends soon: how long it has left."""

    days_left: float = Field(description="Days from now until it ends.")
