"""The AWS provider's settings, read from ``LADDER_AWS_*`` environment variables.

Credentials are not settings: boto3 finds them in its standard chain (environment,
shared files, SSO, container or instance role). Only the *name* of a profile may be
given here; no key ever passes through Ladder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.prices import PricesMode

RetryMode = Literal["standard", "adaptive"]


class AwsSettings(BaseSettings):
    """Where the AWS provider reads from and how it calls AWS.

    ``usage`` is a FOCUS export (AWS Data Exports): a local file or folder, or an
    ``s3://bucket/prefix``. ``regions`` are those whose Reserved Instances are read;
    empty means the regions of the usage keys, or ``home_region`` alone.
    """

    model_config = SettingsConfigDict(env_prefix="LADDER_AWS_", frozen=True, extra="ignore")

    profile: str | None = None
    """A named profile of the shared config files (a name, never a secret)."""
    home_region: str = "us-east-1"
    """Region for the global services: Savings Plans, Cost Explorer, STS."""
    pricing_region: str = "us-east-1"
    """Endpoint region of the Price List API (us-east-1, eu-central-1 or ap-south-1)."""
    regions: tuple[str, ...] = ()
    usage: str | None = None
    prices: PricesMode = "auto"
    """Where prices come from: ``auto`` (the APIs when credentials exist, else or when they
    cannot be reached the bundled snapshot), ``api`` or ``snapshot`` (``providers/prices.py``)."""
    usage_cache_dir: Path | None = None
    """Where objects under an ``s3://`` usage prefix are downloaded (default: a temp dir)."""
    retry_mode: RetryMode = "standard"
    """botocore's retry mode for idempotent calls: ``standard`` or ``adaptive``."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """botocore's total attempts per idempotent call (first try included)."""
    throttle_attempts: int = Field(default=4, ge=1, le=20)
    """Ladder's own attempts per call when AWS keeps throttling (see ``session.py``)."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    match_window_s: float = Field(default=72 * 3600.0, gt=0)
    """How far back an untagged RI may match a purchase when the intent time is not given.

    Wide on purpose: a wrong match makes Ladder buy one order too few, never one too many
    (see the matching rule in ``market.py``).
    """
