"""Settings of the Azure provider, read from ``LADDER_AZURE_*`` environment variables.

Credentials are not settings: they come from azure-identity's
``DefaultAzureCredential`` chain (environment, workload identity, managed
identity, Azure CLI …), never from Ladder's database or logs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import default_data_dir
from providers.prices import PricesMode


class AzureSettings(BaseSettings):
    """What the Azure provider needs besides credentials.

    ``subscription_ids`` are the scopes of the usage keys (the first one is the
    billing subscription unless ``billing_scope_id`` says otherwise);
    reservations and savings plans are bought with a *shared* applied scope, so
    they cover every one of them. ``regions`` and ``groups`` (ISF groups, e.g.
    ``"Dsv5 Series"``) narrow the catalog.
    """

    model_config = SettingsConfigDict(env_prefix="LADDER_AZURE_", frozen=True, extra="ignore")

    subscription_ids: tuple[str, ...] = ()
    billing_scope_id: str = ""
    regions: tuple[str, ...] = ("eastus",)
    groups: tuple[str, ...] = ()
    usage_path: Path | None = None
    prices: PricesMode = "auto"
    """Where prices come from: ``auto`` (the Retail Prices API when credentials and
    subscriptions are configured, else or when it cannot be reached the bundled snapshot),
    ``api`` or ``snapshot`` (``providers/prices.py``)."""
    orders_file: Path = Field(default_factory=lambda: default_data_dir() / "azure-orders.json")
    """Where the idempotency key → reservation order id mapping is kept."""
    retry_total: int = Field(default=6, ge=0)
    retry_backoff_factor: float = Field(default=0.8, ge=0)
    retry_backoff_max: int = Field(default=60, ge=0)
    polling_interval_s: float = Field(default=15.0, ge=0)
    lro_timeout_s: float = Field(default=600.0, gt=0)
    """How long a purchase, exchange or return waits before reporting it pending."""
    refund_limit_usd: float = Field(default=50_000.0, ge=0)
    """Azure's rolling 12-month refund limit, used when a policy result does not state it."""

    @property
    def billing_scope(self) -> str:
        """The billing scope of purchases (``/subscriptions/<id>`` by default)."""
        if self.billing_scope_id:
            return self.billing_scope_id
        if not self.subscription_ids:
            raise ValueError("no Azure subscription: set LADDER_AZURE_SUBSCRIPTION_IDS")
        return f"/subscriptions/{self.subscription_ids[0]}"
