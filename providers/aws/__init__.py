"""The AWS provider: FOCUS usage, prices, inventory and orders through boto3.

Loaded lazily by the registry (``providers.base``: ``"aws"``), so boto3 is imported
only when the AWS provider is asked for. Every module returns Ladder's own types
(``Catalog``, ``Commitment``, ``OrderResult``, frames with fixed columns), never
boto3 objects, and every failure is a :class:`core.errors.ProviderError`.

========================  ===========================================================
module                    job
========================  ===========================================================
``config``                ``AwsSettings`` (``LADDER_AWS_*``): profile name, regions,
                          retry mode, usage location
``session``               clients with botocore retry modes, the logged call wrapper
``errors``                AWS errors → ``ProviderError(retryable, retry_after_s, code)``
``usage``                 the FOCUS export, from a path or an ``s3://`` prefix
``pricing``               ``pricing.get_products``: on-demand and size factors
``offerings``             RI offerings and Savings Plans offering rates
``catalog``               pure: records → ``core.domain.Catalog`` (+ AWS references)
``snapshot``              the bundled price snapshot (offline), as the same records
``inventory``             owned RIs and Savings Plans → ``Commitment``
``market``                quote, purchase, exchange, return, ``find_order``
``recommendations``       Cost Explorer's recommendations as frames
``check``                 credentials and permission probes
========================  ===========================================================

README.md beside this file lists the IAM permissions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from core.domain import Catalog, Commitment
from providers.aws import check as _check
from providers.aws.catalog import AwsCatalog, OfferingRef, build_catalog
from providers.aws.config import AwsSettings
from providers.aws.errors import AwsProviderError
from providers.aws.inventory import commitments, fetch_reserved_instances, fetch_savings_plans
from providers.aws.market import AwsMarket
from providers.aws.naming import RI_PRODUCT_DESCRIPTION, ec2_key, parse_time
from providers.aws.offerings import RiOffering, fetch_ri_offerings, fetch_sp_rates
from providers.aws.pricing import PriceGroup, fetch_products, reference_products
from providers.aws.session import AwsClients
from providers.aws.usage import usage_location
from providers.base import CheckResult
from providers.focus import read_focus
from providers.prices import PriceSource, live, use_api

log = logging.getLogger("ladder.providers.aws")

_UNREACHABLE_CODES = frozenset({"NoCredentials", "EndpointConnectionError",
                                "ConnectTimeoutError", "ReadTimeoutError",
                                "ConnectionClosedError"})
"""Failures of a price call after which the snapshot serves (``auto`` mode only)."""


class AwsProvider:
    """Ladder's :class:`~providers.base.Provider` for AWS (and the way to its market).

    ``usage_keys`` replaces reading them from the FOCUS export (the catalog is
    built for the keys that have usage).
    """

    name: str = "aws"

    def __init__(
        self,
        settings: AwsSettings | None = None,
        *,
        clients: AwsClients | None = None,
        usage_keys: Sequence[str] | None = None,
    ) -> None:
        self.clients = clients or AwsClients(settings)
        self.settings = self.clients.settings
        self._usage_keys = tuple(usage_keys) if usage_keys is not None else None
        self._usage_path: Path | None = None
        self._built: AwsCatalog | None = None
        self._prices: PriceSource | None = None
        self._account: str | None = None
        self._market: AwsMarket | None = None

    # -- usage -----------------------------------------------------------------------

    def usage_paths(self) -> Sequence[Path]:
        """The FOCUS export: a local path, or the folder an ``s3://`` prefix was copied to."""
        if self._usage_path is None:
            self._usage_path = usage_location(self.clients, self.settings.usage,
                                              self.settings.usage_cache_dir)
        return [self._usage_path]

    def usage_keys(self) -> tuple[str, ...]:
        """The AWS EC2 usage keys of the FOCUS export (or those given to the constructor)."""
        if self._usage_keys is None:
            usage = read_focus(self.usage_paths()[0])
            self._usage_keys = tuple(
                str(k) for k in usage.keys["usage_key"] if ec2_key(str(k)) is not None
            )
        return self._usage_keys

    def regions(self) -> tuple[str, ...]:
        """Regions read for RIs: the settings', else those of the usage keys."""
        if self.settings.regions:
            return tuple(self.settings.regions)
        found = sorted({key.region for text in self.usage_keys()
                        if (key := ec2_key(text)) is not None})
        return tuple(found) or (self.settings.home_region,)

    # -- catalog ---------------------------------------------------------------------

    def aws_catalog(self) -> AwsCatalog:
        """The catalog with the AWS offering behind each offering (built once).

        From the price APIs or from the bundled snapshot, as ``LADDER_AWS_PRICES`` and the
        credentials decide (:meth:`price_source` says which and why).
        """
        if self._built is None:
            mode = self.settings.prices
            credentials = self.clients.has_credentials()
            if not use_api(mode, credentials):
                reason = ("LADDER_AWS_PRICES=snapshot" if mode == "snapshot"
                          else "no AWS credentials configured")
                self._built = self._snapshot_catalog(reason)
                return self._built
            try:
                self._built = self._live_catalog()
            except AwsProviderError as exc:
                if mode == "api" or not (exc.code in _UNREACHABLE_CODES or exc.retryable
                                         or exc.access_denied):
                    raise
                log.warning("aws: the price APIs could not be used (%s); planning with the "
                            "bundled snapshot", exc)
                self._built = self._snapshot_catalog(
                    f"the AWS price APIs could not be used: {exc.code or exc}")
        return self._built

    def _live_catalog(self) -> AwsCatalog:
        keys = [k for text in self.usage_keys() if (k := ec2_key(text)) is not None]
        groups = {PriceGroup(k.region, k.family, k.platform, k.tenancy) for k in keys}
        products = fetch_products(self.clients, groups)
        references = reference_products(products)
        ri_offerings: list[RiOffering] = []
        for group, reference in sorted(references.items(), key=lambda i: str(i[0])):
            description = RI_PRODUCT_DESCRIPTION.get(group.platform)
            if description is not None and group.tenancy == "shared":
                ri_offerings += fetch_ri_offerings(self.clients, group.region,
                                                   reference.instance_type, description)
        sp_rates = fetch_sp_rates(
            self.clients, {g.region for g in references},
            {r.instance_type for r in references.values()},
            {g.platform for g in references},
        ) if references else []
        built = build_catalog(self.usage_keys(), products, ri_offerings, sp_rates)
        reason = ("LADDER_AWS_PRICES=api" if self.settings.prices == "api"
                  else "AWS credentials configured")
        self._prices = live(built.catalog.source, reason)
        return built

    def _snapshot_catalog(self, reason: str) -> AwsCatalog:
        from providers.aws.snapshot import SNAPSHOT_DATE, SOURCE, load_snapshot

        snapshot = load_snapshot()
        regions = {k.region for text in self.usage_keys() if (k := ec2_key(text)) is not None}
        built = build_catalog(
            self.usage_keys(), [p for p in snapshot.products if p.region in regions],
            [o for o in snapshot.ri_offerings if o.region in regions],
            [r for r in snapshot.sp_rates if r.region in regions], source=SOURCE)
        self._prices = PriceSource("snapshot", SOURCE, SNAPSHOT_DATE, reason)
        # Snapshot records name nothing AWS sells: the market resolves live offerings.
        return AwsCatalog(catalog=built.catalog, refs={}, factors=built.factors,
                          skipped_keys=built.skipped_keys)

    def price_source(self) -> PriceSource:
        """Which prices the catalog was built from (building it if need be), and why."""
        self.aws_catalog()
        assert self._prices is not None
        return self._prices

    def catalog(self) -> Catalog:
        """The usage keys with on-demand rates and the RI and Savings Plans offerings."""
        return self.aws_catalog().catalog

    def offering_refs(self) -> dict[str, OfferingRef]:
        """Catalog offering id → what AWS sells for it."""
        return dict(self.aws_catalog().refs)

    # -- inventory -------------------------------------------------------------------

    def account(self) -> str:
        """The account id the credentials resolve to (``sts.get_caller_identity``)."""
        if self._account is None:
            self._account = str(self.clients.call("sts", "get_caller_identity")["Account"])
        return self._account

    def inventory(self, at: datetime) -> Sequence[Commitment]:
        """RIs and Savings Plans of the account active at ``at`` or starting later.

        With no AWS credentials there is no account to read: none (a plan from the bill alone).
        """
        moment = parse_time(at)
        assert moment is not None
        built = self.aws_catalog()
        if not self.clients.has_credentials():
            log.warning("aws: no credentials, so no commitment inventory is read")
            return []
        reserved = [(region, raw) for region in self.regions()
                    for raw in fetch_reserved_instances(self.clients, region)]
        plans = fetch_savings_plans(self.clients)
        return commitments(reserved, plans, moment, catalog=built.catalog,
                           factors=built.factors, account=self.account())

    # -- market and check ----------------------------------------------------------

    def market(self) -> AwsMarket:
        """The provider's one market, knowing the AWS offering behind each catalog offering.

        One instance per provider, so that what it remembers of the RI purchases it
        sent (see ``AwsMarket.find_order``) serves every later look-up of this process.
        """
        if self._market is None:
            self._market = AwsMarket(self.clients, regions=self.settings.regions)
        if self._built is not None:
            self._market.know(self._built.refs)
        return self._market

    def check(self) -> Sequence[CheckResult]:
        """Credentials and permission probes; never raises for a failed probe."""
        return _check.check(self.clients, usage=self.settings.usage)


__all__ = ["AwsCatalog", "AwsClients", "AwsMarket", "AwsProvider", "AwsSettings"]
