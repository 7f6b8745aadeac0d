"""The FOCUS columns Ladder reads, and how a file that is not FOCUS is recognised.

A file must carry every required column (matched case-insensitively, since
converters disagree on case); optional columns sharpen the classification of
compute usage when present. Before complaining about missing columns, the
header is compared with the native exports people most often hand over by
mistake (AWS CUR, Azure cost details, OCI and GCP billing exports), so that
the error says what the file is and what to export instead.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    # FOCUS 1.2 deprecates ProviderName in favour of ServiceProviderName.
    "ProviderName": ("ServiceProviderName",),
}

NUMERIC: tuple[str, ...] = ("ConsumedQuantity", "ListUnitPrice", "ListCost", "BilledCost")
TIMESTAMPS: tuple[str, ...] = ("ChargePeriodStart", "ChargePeriodEnd")

# (marker columns, any one of which identifies the export; what it is and what to do)
_NATIVE_EXPORTS: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"lineitem/usagestartdate", "identity/lineitemid", "lineitem/usageamount"}),
        "it looks like a legacy AWS Cost and Usage Report (CUR), not FOCUS: export "
        "'FOCUS 1.0 with AWS columns' from AWS Data Exports and read that instead",
    ),
    (
        frozenset({"line_item_usage_start_date", "identity_line_item_id"}),
        "it looks like an AWS CUR 2.0 export, not FOCUS: export 'FOCUS 1.0 with AWS "
        "columns' from AWS Data Exports and read that instead",
    ),
    (
        frozenset({"lineitem/intervalusagestart", "cost/mycost"}),
        "it looks like an Oracle Cloud (OCI) cost report, not FOCUS: use the OCI FOCUS "
        "reports instead",
    ),
    (
        frozenset({"metercategory", "costinbillingcurrency", "pretaxcost"}),
        "it looks like an Azure cost details export (EA/MCA actual or amortized), not "
        "FOCUS: export the FOCUS cost and usage dataset from Cost Management instead",
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
    by_lower = {name.lstrip("\ufeff").strip().lower(): name for name in names}
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
    raise InvalidInput(
        f"missing required FOCUS column{'s' if len(missing) > 1 else ''} "
        f"{', '.join(missing)}",
        source=source,
        column=missing[0],
    )
