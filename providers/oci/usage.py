"""OCI Compute usage in FOCUS (OCI's FOCUS reports), per shape series and resource.

OCI bills a flexible VM as two SKUs, its OCPUs and its memory: ``Standard - E4 - OCPU`` in
``OCPU Hours`` and ``Standard - E4 - Memory`` in ``GB Hours`` (the FinOps Foundation's FOCUS
sample writes them ``Standard - E5`` / ``OCPU Hours`` and ``Standard - A1 - Memory`` /
``Gigabyte Per Hour``). Ladder follows, as for GCP's cores and RAM: each series has two usage
keys, ``oci/<tenancy or compartment>/compute/<region>/standard-e4.ocpu/linux/shared`` counted
in OCPU-hours and ``…/standard-e4.memory/…`` in GB-hours.

A row is Compute usage when it is a ``Usage`` charge of Oracle's ``COMPUTE`` service (or the
``Compute`` category) whose charge description names a shape series and whose unit is an hour
of OCPU or memory. OCI leaves ``RegionId`` empty and writes the region in ``RegionName``
(``us-sanjose-1``): the key takes whichever is set.

Left out: preemptible capacity, unused commitment, corrections, adjustments and rows with a
negative quantity. OCI has no commitment catalog in Ladder yet: these keys are stored so that
the bill's cost lines and compute usage reach the reports, and nothing is planned for them.
"""

from __future__ import annotations

from pathlib import Path

from providers.focus.compute import COVERABLE_SQL
from providers.focus.reader import FocusUsage, VmRules, read_focus

SERVICE = "compute"
NAMES: tuple[str, ...] = ("oracle", "oci", "oracle cloud infrastructure")
_SHAPE = (r"^(?:Compute - )?(?:Virtual Machine )?(Standard|Optimized|Dense I/O|GPU|HPC)"
          r" - ([A-Z][0-9]+[A-Z]?)(?: - (OCPU|Memory))?$")
_OCPU_HOURS = ("ocpu hours", "ocpu hour", "ocpu per hour", "ocpu-hour", "ocpu-hours")
_MEMORY_HOURS = ("gb hours", "gb hour", "gigabyte per hour", "gigabyte hours", "gb-hour",
                 "gb-hours")


def _in(expression: str, values: tuple[str, ...]) -> str:
    return f"{expression} IN ({', '.join(repr(v) for v in values)})"


def oci_rules() -> VmRules:
    """The rules recognising OCI Compute OCPU and memory usage."""
    unit = "lower(trim(ConsumedUnit))"
    shape_class = f"regexp_extract(ChargeDescription, '{_SHAPE}', 1)"
    series = f"regexp_extract(ChargeDescription, '{_SHAPE}', 2)"
    named = f"regexp_extract(ChargeDescription, '{_SHAPE}', 3)"
    resource = f"""CASE
            WHEN {named} = 'OCPU' OR ({named} = '' AND {_in(unit, _OCPU_HOURS)}) THEN 'ocpu'
            WHEN {named} = 'Memory' OR ({named} = '' AND {_in(unit, _MEMORY_HOURS)})
                THEN 'memory'
        END"""
    instance_type = f"""CASE WHEN ladder_re_full(ChargeDescription, '{_SHAPE}')
        THEN lower(replace(replace({shape_class}, ' ', '-'), '/', '')) || '-'
            || lower({series}) || '.' || {resource} END"""
    is_compute = f"""(lower(ChargeCategory) = 'usage'
        AND {_in("lower(trim(ProviderName))", NAMES)}
        AND (upper(ServiceName) = 'COMPUTE' OR lower(ServiceCategory) = 'compute')
        AND ((instance_type LIKE '%.ocpu' AND {_in(unit, _OCPU_HOURS)})
             OR (instance_type LIKE '%.memory' AND {_in(unit, _MEMORY_HOURS)}))
        AND NOT ladder_re(ChargeDescription, '(?i)preemptible')
        AND {COVERABLE_SQL}
        AND coalesce(ConsumedQuantity_num, 0) >= 0)"""
    return VmRules(
        provider="'oci'",
        service=SERVICE,
        instance_type=instance_type,
        is_compute=is_compute,
        family="instance_type",
        factor="1.0",
        scope="NULLIF(coalesce(SubAccountId, BillingAccountId), '')",
        region="NULLIF(lower(trim(coalesce(RegionId, RegionName))), '')",
        extra_columns=("RegionName",),
        none_found=(
            "no OCI Compute usage found (ChargeCategory 'Usage' of the COMPUTE service in OCPU "
            "or memory hours of a shape such as 'Standard - E4 - OCPU')"
        ),
    )


def read_oci_usage(path: str | Path) -> FocusUsage:
    """Read OCI's FOCUS reports (a file or a folder) as hourly OCPU and memory usage."""
    return read_focus(path, oci_rules())


__all__ = ["NAMES", "SERVICE", "oci_rules", "read_oci_usage"]
