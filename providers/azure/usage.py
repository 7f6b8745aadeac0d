"""Azure VM usage in FOCUS (Cost Management's FOCUS export), normalised by ISF ratio.

A row is Azure VM usage when it is a ``Usage`` charge of Microsoft, of the
``Virtual Machines`` meter category (``x_SkuMeterCategory``, or the service name
and the charge description ``Virtual Machines <series> - <meter> - <region>``
when the export has no ``x_`` columns), counted in hours. The VM size comes from
the most specific source present: ``ServiceType`` in ``SkuPriceDetails`` or
``x_SkuDetails`` (``Standard_D2s_v3``), else the meter name (``SkuMeter``,
``x_SkuMeterName``, or the charge description), see
:func:`providers.azure.sizes.sku_from_meter`.

Usage is counted in normalised units (hours × ISF ratio) per ISF group:
``azure/<subscription>/vm/<region>/<isf-group>/<linux|windows>/shared``.
Windows meters are their own keys: a reservation covers only their compute part.

Left out: spot and low-priority meters, unused commitment, corrections, and rows
with a negative quantity (Azure writes refunds of usage that way, without a
``ChargeClass``). Sizes missing from the ISF table are skipped and counted.
"""

from __future__ import annotations

from pathlib import Path

from providers.azure.sizes import load_sizes
from providers.focus.compute import COVERABLE_SQL
from providers.focus.reader import FocusUsage, VmRules, lookup_frame, read_focus

SERVICE = "vm"
EXTRA_COLUMNS: tuple[str, ...] = (
    "SkuMeter", "x_SkuMeterName", "x_SkuMeterCategory", "x_SkuMeterSubcategory",
    "x_SkuDetails",
)
_METER_FROM_DESCRIPTION = r"^Virtual Machines [^-]*? - (.+) - [^-]+$"


def _json_text(column: str, key: str) -> str:
    return f"ladder_json({column}, '$.{key}')"


def _meter() -> str:
    return (f"coalesce(SkuMeter, x_SkuMeterName, NULLIF(regexp_extract(ChargeDescription, "
            f"'{_METER_FROM_DESCRIPTION}', 1), ''))")


def azure_rules() -> VmRules:
    """The rules recognising Azure VM usage, with the bundled ISF table as lookup."""
    sizes = load_sizes()
    lookup = lookup_frame({sku: (size.family, size.ratio) for sku, size in sizes.items()})
    meter = _meter()
    from_meter = (f"'Standard_' || ladder_replace_all(trim(regexp_extract({meter}, "
                  "'([^/]*)$', 1)), '\\s+', '_')")
    service_type = (f"coalesce({_json_text('SkuPriceDetails', 'ServiceType')}, "
                    f"{_json_text('x_SkuDetails', 'ServiceType')})")
    text = f"concat_ws(' ', x_SkuMeterSubcategory, {meter}, ChargeDescription)"
    is_compute = f"""(lower(ChargeCategory) = 'usage'
        AND lower(ProviderName) IN ('microsoft', 'azure', 'microsoft azure')
        AND lower(ConsumedUnit) IN ('hours', 'hour', '1 hour')
        AND (lower(x_SkuMeterCategory) = 'virtual machines'
             OR (x_SkuMeterCategory IS NULL
                 AND lower(ServiceName) IN ('virtual machines', 'virtual machine scale sets',
                                            'azure machine learning', 'azure kubernetes service')
                 AND ChargeDescription ILIKE 'Virtual Machines %'))
        AND NOT ladder_re({text}, '(?i)\\b(spot|low priority)\\b')
        AND {COVERABLE_SQL}
        AND coalesce(ConsumedQuantity_num, 0) >= 0)"""
    return VmRules(
        provider="'azure'",
        service=SERVICE,
        instance_type=f"CASE WHEN {meter} IS NOT NULL OR {service_type} IS NOT NULL "
                      f"THEN coalesce({service_type}, {from_meter}) END",
        is_compute=is_compute,
        family="lookup_family",
        factor="lookup_ratio",
        scope="NULLIF(regexp_extract(coalesce(SubAccountId, BillingAccountId), "
              "'([^/]+)/?$', 1), '')",
        platform=f"CASE WHEN {text} ILIKE '%windows%' THEN 'windows' ELSE 'linux' END",
        extra_columns=EXTRA_COLUMNS,
        lookup=lookup,
        none_found=(
            "no Azure VM usage found (ChargeCategory 'Usage' of Microsoft, meter category "
            "'Virtual Machines', ConsumedUnit in hours, a VM size in the ISF table): nothing "
            "to optimise"
        ),
    )


def read_azure_focus(path: str | Path) -> FocusUsage:
    """Read an Azure FOCUS export (file or folder) into hourly normalised VM usage per key."""
    return read_focus(path, azure_rules())
