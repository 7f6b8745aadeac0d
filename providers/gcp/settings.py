"""Settings of the GCP provider, read from ``LADDER_GCP_*`` environment variables.

Credentials are not settings: they come from Application Default Credentials
(``gcloud auth application-default login``, ``GOOGLE_APPLICATION_CREDENTIALS``, the
metadata server), never from Ladder's database or logs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.prices import PricesMode


class GcpSettings(BaseSettings):
    """What the GCP provider needs besides credentials.

    ``project`` is where commitments are listed and bought (and the scope of its
    usage keys); empty means the project of the Application Default Credentials.
    ``regions`` and ``series`` narrow the catalog (empty: everything priced).
    """

    model_config = SettingsConfigDict(env_prefix="LADDER_GCP_", frozen=True, extra="ignore")

    project: str = ""
    regions: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    usage_path: Path | None = None
    prices: PricesMode = "auto"
    """Ladder prices GCP from its bundled snapshot only (``auto`` and ``snapshot``); ``api``
    is refused: there is no live GCP price reader."""
    operation_timeout_s: float = Field(default=300.0, gt=0)
    """How long a purchase waits for its operation before reporting it pending."""
    retry_initial_s: float = Field(default=1.0, ge=0)
    retry_maximum_s: float = Field(default=60.0, ge=0)
    retry_timeout_s: float = Field(default=300.0, gt=0)
