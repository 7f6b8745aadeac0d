"""The FOCUS columns Ladder reads, the FOCUS versions it recognises, and how a file that is
not FOCUS is recognised.

A file must carry every required column (matched case-insensitively, since
converters disagree on case); optional columns sharpen the classification of
compute usage when present. Before complaining about missing columns, the
header is compared with the native exports people most often hand over by
mistake (AWS CUR, Azure cost details, OCI and GCP billing exports), so that
the error says what the file is and what to export instead.

Versions (FOCUS changelog, ``FOCUS_Spec/CHANGELOG.md`` and the column pages): 1.0 defines
the 43 columns of :data:`FOCUS_1_0`; 1.1 adds capacity reservations, commitment quantities,
``ServiceSubcategory``, ``SkuMeter`` and ``SkuPriceDetails``; 1.2 adds ``InvoiceId``, the
``PricingCurrency*`` columns and the account types; 1.3 adds the allocation columns,
``ContractApplied``, ``ServiceProviderName`` and ``HostProviderName``, which replace the
deprecated (still present) ``ProviderName`` and ``PublisherName``. A file's version is the one
its export declares (:func:`normalise_declared`), else the newest whose marker columns it has
(:func:`detect_version`). OCI's FOCUS reports still use the 1.0-preview names (``Provider``,
``Region``, ``UsageQuantity`` …), read as aliases of the 1.0 names and recorded as
``1.0-preview``; a file of none of these versions is refused, naming what it lacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import InvalidInput

REQUIRED: tuple[str, ...] = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ServiceCategory",
    "ServiceName",
    "ProviderName",
    "SubAccountId",
    "BillingAccountId",
    "RegionId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "ListCost",
    "BilledCost",
    "BillingCurrency",
    "PricingCategory",
    "ChargeDescription",
)
"""Columns every FOCUS 1.0/1.x file must have for Ladder to use it."""

OPTIONAL: tuple[str, ...] = (
    "ResourceType",
    "ResourceId",
    "SkuPriceDetails",
    "ChargeClass",
    "CommitmentDiscountStatus",
    "x_UsageType",
    "x_Operation",
    "x_ServiceCode",
)
"""Columns read when present: FOCUS 1.1+ and the AWS ``x_`` extensions."""

ALIASES: dict[str, tuple[str, ...]] = {
    # FOCUS 1.3 deprecates ProviderName in favour of ServiceProviderName; OCI's FOCUS reports
    # keep the 1.0-preview names of four columns.
    "ProviderName": ("ServiceProviderName", "Provider"),
    "RegionId": ("Region",),
    "ConsumedQuantity": ("UsageQuantity",),
    "ConsumedUnit": ("UsageUnit",),
}
"""Other names of a column, tried in order when the file lacks the column's own name."""

FOCUS_1_0: tuple[str, ...] = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId",
    "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory",
    "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
)
"""The columns of FOCUS 1.0 (June 2024)."""

ADDED: Mapping[str, tuple[str, ...]] = {
    "1.1": ("CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
            "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails"),
    "1.2": ("BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency",
            "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
            "PricingCurrencyListUnitPrice"),
    "1.3": ("AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId",
            "AllocatedResourceName", "AllocatedTags", "ContractApplied", "HostProviderName",
            "ServiceProviderName"),
}
"""The columns each version after 1.0 adds."""

DEPRECATED: Mapping[str, tuple[str, ...]] = {"1.3": ("ProviderName", "PublisherName")}
"""Columns a version deprecates (still present in its files, replaced by newer ones)."""

VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")
"""The FOCUS versions Ladder reads, oldest first."""

PREVIEW = "1.0-preview"
PREVIEW_NAMES: Mapping[str, str] = {
    "Provider": "ProviderName", "Publisher": "PublisherName", "Region": "RegionId",
    "InvoiceIssuer": "InvoiceIssuerName", "UsageQuantity": "ConsumedQuantity",
    "UsageUnit": "ConsumedUnit",
}
"""The 1.0-preview names that FOCUS 1.0 renamed (and OCI's FOCUS reports still write)."""

_MARKERS: Mapping[str, tuple[str, ...]] = {
    **ADDED,
    # Microsoft's FOCUS 1.0 export already carries BillingAccountType and SubAccountType: only
    # the invoice and pricing-currency columns tell a 1.2 file apart.
    "1.2": tuple(c for c in ADDED["1.2"] if c not in ("BillingAccountType", "SubAccountType")),
}

_OLD_NAMES: Mapping[str, str] = {"ChargeType": "ChargeCategory", "AmortizedCost": "EffectiveCost"}
"""FOCUS 0.5 names that 1.0-preview renamed: a file with them predates every version read."""


def version_columns(version: str) -> tuple[str, ...]:
    """Every column of a FOCUS version (1.0's and those each later version adds, in order)."""
    if version not in VERSIONS:
        raise ValueError(f"unknown FOCUS version {version!r}")
    later = VERSIONS[1:VERSIONS.index(version) + 1]
    return (*FOCUS_1_0, *(c for v in later for c in ADDED[v]))


@dataclass(frozen=True, slots=True)
class FocusVersion:
    """The FOCUS version of one file, and what it was told by.

    ``basis`` is ``"metadata"`` when the export declared it (an Azure manifest's
    ``dataVersion``, an AWS manifest's table, a FOCUS metadata document) or ``"columns"``
    when the header showed it; ``declared`` keeps the export's own label (``1.0r2``,
    ``1.2-preview``).
    """

    version: str
    basis: str
    declared: str | None = None

    def __str__(self) -> str:
        label = f"FOCUS {self.version}"
        if self.declared and self.declared != self.version:
            label += f" ({self.declared})"
        return f"{label}, from its {self.basis}"


_DECLARED = re.compile(
    r"^\s*(?:focus[ _-]?)?v?(1)[._](0|1|2|3)(?:[ ._-]?(r\d+|preview(?:\(v\d+\))?))?\s*$",
    re.IGNORECASE)


def normalise_declared(label: str, *, source: str) -> FocusVersion:
    """The version an export's own label declares (``1.0``, ``1.0r2``, ``1.2-preview``,
    ``FOCUS_1_2``, ``1.0-preview(v1)``); InvalidInput for a version Ladder does not read."""
    match = _DECLARED.match(label)
    if match:
        version = f"{match[1]}.{match[2]}"
        suffix = (match[3] or "").lower()
        if version == "1.0" and suffix.startswith("preview"):
            version = PREVIEW
        bare = re.sub(r"(?i)^\s*(?:focus[ _-]?)?v?", "", label).strip()
        return FocusVersion(version, "metadata", None if bare == version else label.strip())
    raise InvalidInput(
        f"the export declares FOCUS version {label!r}, which Ladder does not read: export "
        f"FOCUS {', '.join(VERSIONS[:-1])} or {VERSIONS[-1]}", source=source)


def detect_version(names: Sequence[str]) -> FocusVersion:
    """The newest FOCUS version whose marker columns the header has (1.0 when none)."""
    present = {_clean(n).lower() for n in names}
    for version in reversed(VERSIONS[1:]):
        if any(c.lower() in present for c in _MARKERS[version]):
            return FocusVersion(version, "columns")
    if "consumedquantity" not in present and "usagequantity" in present:
        return FocusVersion(PREVIEW, "columns")
    return FocusVersion("1.0", "columns")


def _clean(name: str) -> str:
    return name.lstrip("\ufeff").strip()

NUMERIC: tuple[str, ...] = ("ConsumedQuantity", "ListUnitPrice", "ListCost", "BilledCost")
TIMESTAMPS: tuple[str, ...] = ("ChargePeriodStart", "ChargePeriodEnd")

# (marker columns, any one of which identifies the export; what it is and what to do)
_NATIVE_EXPORTS: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"lineitem/usagestartdate", "identity/lineitemid", "lineitem/usageamount"}),
        "it looks like a legacy AWS Cost and Usage Report (CUR), not FOCUS: export "
        "'FOCUS 1.2 with AWS columns' (or 'FOCUS 1.0 with AWS columns') from AWS Data Exports "
        "and read that instead",
    ),
    (
        frozenset({"line_item_usage_start_date", "identity_line_item_id"}),
        "it looks like an AWS CUR 2.0 export, not FOCUS: export 'FOCUS 1.2 with AWS "
        "columns' (or 'FOCUS 1.0 with AWS columns') from AWS Data Exports and read that "
        "instead",
    ),
    (
        frozenset({"lineitem/intervalusagestart", "cost/mycost"}),
        "it looks like an Oracle Cloud (OCI) cost report, not FOCUS: use the OCI FOCUS "
        "reports (the 'FOCUS Reports' folder of the same bucket) instead",
    ),
    (
        frozenset({"metercategory", "costinbillingcurrency", "pretaxcost"}),
        "it looks like an Azure cost details export (EA/MCA actual or amortized), not "
        "FOCUS: export the 'Cost and usage details (FOCUS)' dataset from Cost Management "
        "exports instead",
    ),
    (
        frozenset({"usage_start_time", "billing_account_id"}),
        "it looks like a Google Cloud billing export, not FOCUS: use the FOCUS export "
        "(BigQuery view) instead",
    ),
)


def resolve_columns(names: Sequence[str], *, source: str) -> dict[str, str | None]:
    """Map each FOCUS column Ladder reads to the file's own column name (None if absent).

    Raises InvalidInput naming the file when it is a known non-FOCUS export, has
    no FOCUS column at all, or lacks a required column.
    """
    by_lower = {_clean(name).lower(): name for name in names}
    found: dict[str, str | None] = {}
    for column in (*REQUIRED, *OPTIONAL):
        candidates = (column, *ALIASES.get(column, ()))
        found[column] = next(
            (by_lower[c.lower()] for c in candidates if c.lower() in by_lower), None
        )
    missing = [column for column in REQUIRED if found[column] is None]
    if not missing:
        return found
    for markers, verdict in _NATIVE_EXPORTS:
        if markers & by_lower.keys():
            raise InvalidInput(f"not a FOCUS file: {verdict}", source=source)
    if len(missing) == len(REQUIRED):
        raise InvalidInput(
            "not a FOCUS file: none of its columns is a FOCUS column Ladder needs "
            f"(expected {', '.join(REQUIRED)})",
            source=source,
        )
    old = [f"{name} (now {new})" for name, new in _OLD_NAMES.items() if name.lower() in by_lower]
    hint = (f"; it has FOCUS 0.5 names ({', '.join(old)}): export FOCUS 1.0 or later" if old
            else "")
    raise InvalidInput(
        f"not a FOCUS {', '.join(VERSIONS[:-1])} or {VERSIONS[-1]} file: missing required "
        f"FOCUS column{'s' if len(missing) > 1 else ''} {', '.join(missing)}{hint}",
        source=source,
        column=missing[0],
    )
