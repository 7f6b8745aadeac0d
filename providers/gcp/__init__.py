"""The GCP provider: Compute Engine usage (FOCUS), resource-based CUDs, and buying them.

Nothing here imports google-cloud-compute until a call needs it: reading usage
and the catalog work without the SDK; the inventory, the market and ``check``
build the SDK clients on first use. Credentials come from Application Default
Credentials only. See ``README.md`` beside this file for the permissions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.domain import Catalog, Commitment, UsageKey
from core.errors import InvalidInput
from providers.base import CheckResult
from providers.gcp.settings import GcpSettings
from providers.prices import PriceSource

log = logging.getLogger("ladder.providers.gcp")

if TYPE_CHECKING:
    from providers.gcp.clients import GcpClients
    from providers.gcp.market import GcpMarket

PERMISSIONS_READ: tuple[str, ...] = (
    "compute.commitments.list",
    "compute.commitments.get",
)
PERMISSIONS_PURCHASE: tuple[str, ...] = (
    "compute.commitments.create",
    "compute.regionOperations.get",
)
_RESOURCE_MANAGER = "https://cloudresourcemanager.googleapis.com/v1/projects/{}:testIamPermissions"


class GcpProvider:
    """Usage, catalog, inventory and market of one GCP project."""

    name: str = "gcp"

    def __init__(self, settings: GcpSettings | None = None, *,
                 clients: GcpClients | None = None, credentials: Any = None) -> None:
        self.settings = settings or GcpSettings()
        self._clients = clients
        self._credentials = credentials
        self._project = self.settings.project
        self._catalog: Catalog | None = None

    @property
    def project(self) -> str:
        """The project: from settings, else from Application Default Credentials."""
        if not self._project:
            import google.auth

            credentials, project = google.auth.default()
            self._credentials = self._credentials or credentials
            if not project:
                raise ValueError("no GCP project: set LADDER_GCP_PROJECT or a default project "
                                 "in Application Default Credentials")
            self._project = str(project)
        return self._project

    def clients(self) -> GcpClients:
        """The SDK clients, built on first use."""
        if self._clients is None:
            from providers.gcp.clients import make_clients

            self._clients = make_clients(credentials=self._credentials)
        return self._clients

    def usage_paths(self) -> Sequence[Path]:
        """The configured FOCUS export (``LADDER_GCP_USAGE_PATH``), if any."""
        return [self.settings.usage_path] if self.settings.usage_path else []

    def has_credentials(self) -> bool:
        """Whether Application Default Credentials are configured, found without a call:
        given ones, ``GOOGLE_APPLICATION_CREDENTIALS`` or gcloud's ADC file."""
        if self._credentials is not None or self._clients is not None:
            return True
        if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            return True
        from google.auth import _cloud_sdk

        return Path(_cloud_sdk.get_application_default_credentials_path()).is_file()

    def catalog_project(self) -> str:
        """The project the catalog's keys are scoped to: the settings', else the bill's one
        project when there are no credentials to ask, else the credentials' project."""
        if self._project or self.has_credentials() or not self.settings.usage_path:
            return self.project
        from providers.gcp.usage import read_gcp_focus

        usage = read_gcp_focus(self.settings.usage_path)
        projects = sorted({UsageKey.parse(str(k)).scope for k in usage.keys["usage_key"]})
        if len(projects) != 1:
            raise InvalidInput(f"the GCP bill holds {len(projects)} projects "
                               f"({', '.join(projects[:5])}): set LADDER_GCP_PROJECT to the one "
                               "to plan", source=str(self.settings.usage_path))
        self._project = projects[0]
        return self._project

    def price_source(self) -> PriceSource:
        """The prices of the catalog: always the bundled snapshot (no live reader for GCP)."""
        from providers.gcp.catalog import SNAPSHOT_DATE, SOURCE

        if self.settings.prices == "api":
            raise InvalidInput("LADDER_GCP_PRICES=api: Ladder has no live GCP price reader; "
                               "GCP is priced from the bundled snapshot (auto or snapshot)")
        reason = ("LADDER_GCP_PRICES=snapshot" if self.settings.prices == "snapshot"
                  else "Ladder prices GCP from its bundled snapshot only")
        return PriceSource("snapshot", SOURCE, SNAPSHOT_DATE, reason)

    def catalog(self) -> Catalog:
        """Keys and resource-based CUD offerings from the bundled price snapshot."""
        if self._catalog is None:
            from providers.gcp.catalog import build_catalog

            self.price_source()
            self._catalog = build_catalog(self.catalog_project(), regions=self.settings.regions,
                                          series=self.settings.series)
        return self._catalog

    def inventory(self, at: datetime) -> Sequence[Commitment]:
        """Commitments of the project (all regions) active at ``at`` or starting later.

        With no credentials there is nothing to read: none (a plan from the bill alone).
        """
        if not self.has_credentials():
            log.warning("gcp: no Application Default Credentials, so no commitment inventory "
                        "is read")
            return []
        from providers.gcp.clients import make_retry
        from providers.gcp.errors import gcp_call
        from providers.gcp.inventory import live_commitments

        moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        with gcp_call("regionCommitments.aggregatedList",
                      project=self.project) as call:
            pages = self.clients().commitments.aggregated_list(
                project=self.project, retry=make_retry(self.settings))
            owned = live_commitments(pages, self.project, self.catalog(), moment)
            call.note(commitments=len(owned))
        return owned

    def market(self) -> GcpMarket:
        """The market buying commitments in this project (irreversible)."""
        from providers.gcp.market import GcpMarket

        return GcpMarket(self.settings, self.project, self.clients())

    def check(self) -> list[CheckResult]:
        """Credentials, the read calls, and the purchase permissions (tested, never used)."""
        results: list[CheckResult] = []
        try:
            project = self.project
            clients = self.clients()
        except Exception as exc:  # a check reports, it does not raise
            return [CheckResult("credentials", False,
                                f"Application Default Credentials unusable: {type(exc).__name__}: "
                                f"{exc}")]
        results.append(CheckResult("credentials", True, f"project {project}"))
        results.append(self._probe_list(clients, project))
        results.extend(self._test_permissions(clients, project))
        return results

    def _probe_list(self, clients: GcpClients, project: str) -> CheckResult:
        from providers.calllog import logged_call

        try:
            with logged_call("gcp", "regionCommitments.aggregatedList", project=project,
                             max_results=1):
                pager = clients.commitments.aggregated_list(
                    request={"project": project, "max_results": 1})
                next(iter(pager.pages), None)
        except Exception as exc:
            return CheckResult("regionCommitments.aggregatedList", False,
                               f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
        return CheckResult("regionCommitments.aggregatedList", True, "inventory readable")

    def _test_permissions(self, clients: GcpClients, project: str) -> list[CheckResult]:
        """Ask Resource Manager which of Ladder's permissions the caller holds."""
        from providers.calllog import logged_call

        wanted = [*PERMISSIONS_READ, *PERMISSIONS_PURCHASE]
        try:
            with logged_call("gcp", "projects.testIamPermissions", project=project):
                response = clients.session.post(_RESOURCE_MANAGER.format(project),
                                                json={"permissions": wanted}, timeout=60)
                response.raise_for_status()
                granted = set(response.json().get("permissions", []))
        except Exception as exc:
            return [CheckResult(p, False, f"could not test: {type(exc).__name__}") for p in wanted]
        return [
            CheckResult(p, p in granted,
                        ("granted" if p in granted else "missing")
                        + (" (purchasing)" if p in PERMISSIONS_PURCHASE else " (read-only)"))
            for p in wanted
        ]


__all__ = ["GcpProvider", "GcpSettings"]
