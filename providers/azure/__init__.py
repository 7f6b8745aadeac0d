"""The Azure provider: VM usage (FOCUS), reservations and savings plans, and acting on them.

Nothing here imports the Azure SDK until a call needs it: reading usage works
without it; the catalog, inventory, market and ``check`` build the SDK clients
on first use. Credentials come from ``DefaultAzureCredential`` only. See
``README.md`` beside this file for the roles each action needs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.domain import Catalog, Commitment, UsageKey
from core.errors import ProviderError
from providers.azure.settings import AzureSettings
from providers.base import CheckResult
from providers.prices import PriceSource, live, use_api

log = logging.getLogger("ladder.providers.azure")
_CREDENTIAL_ENVIRONMENT = ("AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT",
                           "MSI_ENDPOINT")
"""Variables of DefaultAzureCredential's chain (service principal, workload and managed
identity); the Azure CLI's login is found by its profile file."""

if TYPE_CHECKING:
    from providers.azure.clients import AzureClients
    from providers.azure.journal import OrderJournal
    from providers.azure.market import AzureMarket

PERMISSIONS_READ: tuple[str, ...] = (
    "Microsoft.Capacity/reservationOrders/read",
    "Microsoft.Capacity/reservationOrders/reservations/read",
    "Microsoft.BillingBenefits/savingsPlanOrders/read",
)
PERMISSIONS_PURCHASE: tuple[str, ...] = (
    "Microsoft.Capacity/register/action",
    "Microsoft.Capacity/calculatePrice/action",
    "Microsoft.Capacity/reservationOrders/write",
    "Microsoft.Capacity/reservationOrders/calculateRefund/action",
    "Microsoft.Capacity/reservationOrders/return/action",
    "Microsoft.Capacity/calculateExchange/action",
    "Microsoft.Capacity/exchange/action",
    "Microsoft.BillingBenefits/savingsPlanOrderAliases/write",
)
AUTHORIZATION_API_VERSION = "2022-04-01"
ARM_SCOPE = "https://management.azure.com/.default"


def _matches(granted: str, wanted: str) -> bool:
    """Whether an RBAC action pattern (``*`` wildcards, case-insensitive) grants ``wanted``."""
    import fnmatch

    return fnmatch.fnmatchcase(wanted.lower(), granted.lower())


class AzureProvider:
    """Usage, catalog, inventory and market of Azure subscriptions."""

    name: str = "azure"

    def __init__(self, settings: AzureSettings | None = None, *,
                 clients: AzureClients | None = None, credential: Any = None,
                 journal: OrderJournal | None = None) -> None:
        self.settings = settings or AzureSettings()
        self._clients = clients
        self._credential = credential
        self._journal = journal
        self._catalog: Catalog | None = None
        self._prices: PriceSource | None = None

    def clients(self) -> AzureClients:
        """The SDK clients, built on first use."""
        if self._clients is None:
            from providers.azure.clients import make_clients

            self._clients = make_clients(self.settings, credential=self._credential)
        return self._clients

    def usage_paths(self) -> Sequence[Path]:
        """The configured FOCUS export (``LADDER_AZURE_USAGE_PATH``), if any."""
        return [self.settings.usage_path] if self.settings.usage_path else []

    def has_credentials(self) -> bool:
        """Whether Azure credentials are configured, found without a call: given ones, the
        environment of DefaultAzureCredential's chain, or an Azure CLI login."""
        if self._credential is not None or self._clients is not None:
            return True
        if any(os.environ.get(name) for name in _CREDENTIAL_ENVIRONMENT):
            return True
        return (Path.home() / ".azure" / "azureProfile.json").is_file()

    def subscriptions(self) -> tuple[str, ...]:
        """The subscriptions of the usage keys: the settings', else those of the bill."""
        if self.settings.subscription_ids or not self.settings.usage_path:
            return tuple(self.settings.subscription_ids)
        from providers.azure.usage import read_azure_focus

        usage = read_azure_focus(self.settings.usage_path)
        return tuple(sorted({UsageKey.parse(str(k)).scope for k in usage.keys["usage_key"]}))

    def catalog(self) -> Catalog:
        """Keys, reservations and savings plans priced by the Azure Retail Prices API, or by
        the bundled snapshot (``LADDER_AZURE_PRICES``; :meth:`price_source` says which)."""
        if self._catalog is None:
            mode = self.settings.prices
            configured = self.has_credentials() and bool(self.settings.subscription_ids)
            if not use_api(mode, configured):
                reason = ("LADDER_AZURE_PRICES=snapshot" if mode == "snapshot"
                          else "no Azure credentials and subscriptions configured")
                self._catalog = self._snapshot_catalog(reason)
                return self._catalog
            from providers.azure.catalog import SOURCE, load_catalog

            try:
                self._catalog = load_catalog(self.clients().prices, self.settings.regions,
                                             self.settings.subscription_ids,
                                             self.settings.groups)
            except ProviderError as exc:
                if mode == "api" or not exc.retryable:
                    raise
                log.warning("azure: the Retail Prices API could not be used (%s); planning "
                            "with the bundled snapshot", exc)
                self._catalog = self._snapshot_catalog(
                    f"the Azure Retail Prices API could not be used: {exc.code or exc}")
                return self._catalog
            self._prices = live(SOURCE, "LADDER_AZURE_PRICES=api" if mode == "api"
                                else "Azure credentials and subscriptions configured")
        return self._catalog

    def _snapshot_catalog(self, reason: str) -> Catalog:
        from providers.azure.catalog import GroupPrices, build_catalog
        from providers.azure.sizes import load_sizes
        from providers.azure.snapshot import SOURCE, load_snapshot, snapshot_date

        sizes = load_sizes()
        rows = [p for p in load_snapshot()
                if not self.settings.groups or sizes[p.arm_sku].group in self.settings.groups]
        # One size per group and region prices the group's key: the one with most offerings.
        rows.sort(key=lambda p: (-(len(p.reservation) + len(p.savings_plan)), p.arm_sku))
        chosen: dict[tuple[str, str], GroupPrices] = {}
        for p in rows:
            assert p.on_demand_hourly is not None
            chosen.setdefault((p.region, sizes[p.arm_sku].group), GroupPrices(
                sizes[p.arm_sku], p.region, p.on_demand_hourly, dict(p.reservation),
                dict(p.savings_plan)))
        subscriptions = self.subscriptions()
        if not subscriptions:
            raise ValueError("no Azure subscription: set LADDER_AZURE_SUBSCRIPTION_IDS or "
                             "LADDER_AZURE_USAGE_PATH (a bill names its subscriptions)")
        built = build_catalog(sorted(chosen.values(), key=lambda g: (g.region, g.size.arm_sku)),
                              subscriptions)
        self._prices = PriceSource("snapshot", SOURCE, snapshot_date(), reason)
        return Catalog(keys=built.keys, offerings=built.offerings, currency=built.currency,
                       source=SOURCE)

    def price_source(self) -> PriceSource:
        """Which prices the catalog was built from (building it if need be), and why."""
        self.catalog()
        assert self._prices is not None
        return self._prices

    def inventory(self, at: datetime) -> Sequence[Commitment]:
        """VM reservations and savings plans active at ``at`` or starting later."""
        from azure.core.exceptions import AzureError

        from providers.azure.errors import to_provider_error
        from providers.azure.inventory import (
            reservation_commitments,
            savings_plan_commitments,
            unit_prices,
        )
        from providers.calllog import logged_call

        moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        if not self.has_credentials():
            log.warning("azure: no credentials, so no reservation or savings plan inventory is "
                        "read")
            return []
        clients = self.clients()
        catalog = self.catalog()
        try:
            with logged_call("azure", "reservationOrder.list") as call:
                orders = list(clients.reservations.reservation_order.list())
                call.note(orders=len(orders))
            with logged_call("azure", "reservation.listAll") as call:
                reservations = list(clients.reservations.reservation.list_all())
                call.note(reservations=len(reservations))
            with logged_call("azure", "savingsPlan.listAll") as call:
                plans = list(clients.benefits.savings_plan.list_all())
                call.note(savings_plans=len(plans))
        except AzureError as exc:
            raise to_provider_error(exc, "inventory") from exc
        owned = [
            *reservation_commitments(reservations, unit_prices(orders),
                                     self.settings.subscription_ids, catalog, moment),
            *savings_plan_commitments(plans, catalog, moment),
        ]
        return sorted(owned, key=lambda c: (c.start, c.commitment_id))

    def market(self) -> AzureMarket:
        """The market acting on reservations and savings plans."""
        from providers.azure.journal import FileJournal
        from providers.azure.market import AzureMarket

        journal = self._journal or FileJournal(self.settings.orders_file)
        return AzureMarket(self.settings, self.clients(), journal)

    def check(self) -> list[CheckResult]:
        """Credentials, the read calls, and the RBAC actions purchasing needs (never buys)."""
        try:
            clients = self.clients()
            credential = clients.reservations._config.credential
            credential.get_token(ARM_SCOPE)
        except Exception as exc:  # a check reports, it does not raise
            return [CheckResult("credentials", False,
                                f"DefaultAzureCredential found no usable credential: "
                                f"{type(exc).__name__}")]
        results = [CheckResult("credentials", True, "token for Azure Resource Manager")]
        results.append(self._probe("reservationOrder.list",
                                   lambda: next(iter(clients.reservations.reservation_order
                                                     .list().by_page()), None)))
        results.append(self._probe("savingsPlan.listAll",
                                   lambda: next(iter(clients.benefits.savings_plan
                                                     .list_all().by_page()), None)))
        results.extend(self._permissions(clients))
        return results

    @staticmethod
    def _probe(name: str, call: Any) -> CheckResult:
        from providers.calllog import logged_call

        try:
            with logged_call("azure", name, probe=True):
                call()
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            return CheckResult(name, False, f"{type(exc).__name__}"
                               + (f" (HTTP {status})" if status else ""))
        return CheckResult(name, True, "readable")

    def _permissions(self, clients: AzureClients) -> list[CheckResult]:
        """RBAC actions granted on the billing subscription (Microsoft.Authorization)."""
        from azure.core.rest import HttpRequest

        from providers.calllog import logged_call

        wanted = [*PERMISSIONS_READ, *PERMISSIONS_PURCHASE]
        try:
            scope = self.settings.billing_scope
            request = HttpRequest(
                "GET", f"https://management.azure.com{scope}/providers/"
                       "Microsoft.Authorization/permissions",
                params={"api-version": AUTHORIZATION_API_VERSION})
            with logged_call("azure", "authorization.permissions", scope=scope):
                response = clients.reservations.send_request(request)
                response.raise_for_status()
                grants = response.json().get("value", [])
        except Exception as exc:
            return [CheckResult(p, False, f"could not list permissions: {type(exc).__name__}")
                    for p in wanted]
        results = []
        for permission in wanted:
            allowed = any(
                any(_matches(a, permission) for a in g.get("actions", []))
                and not any(_matches(n, permission) for n in g.get("notActions", []))
                for g in grants
            )
            role = "purchasing" if permission in PERMISSIONS_PURCHASE else "read-only"
            results.append(CheckResult(permission, allowed,
                                       f"{'granted' if allowed else 'missing'} ({role})"))
        return results


__all__ = ["AzureProvider", "AzureSettings"]
