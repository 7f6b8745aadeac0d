"""GCP Compute Engine usage in FOCUS (the billing export's FOCUS view), per series and resource.

GCP bills a VM as two SKUs, its vCPUs and its memory, and its resource-based
committed use discounts commit to vCPUs and GiB of memory of one machine series
in one region. Ladder follows: each series has two usage keys,
``gcp/<project>/compute/<region>/<series>.vcpu/linux/shared`` counted in
vCPU-hours and ``…/<series>.memory/…`` counted in GiB-hours.

A row is VM usage when it is a ``Usage`` charge of Google's ``Compute Engine``
whose charge description (the SKU description) names an instance core or RAM:
``N2 Instance Core running in Americas``, ``N2D AMD Instance Ram running in …``,
``N1 Predefined Instance Core …`` (``Custom``/``Predefined`` without a series is
N1, ``Compute optimized`` is C2, ``Memory-optimized`` is M1). Quantities in
``seconds`` or ``byte-seconds`` (the usage units) are converted to hours and
GiB-hours; ``hour`` and ``gibibyte hour`` (the pricing units) are taken as they are.

Left out: spot and preemptible SKUs, sole-tenancy premiums, extended memory
(no commitment covers it), commitment fees, unused commitment and corrections.
"""

from __future__ import annotations

from pathlib import Path

from providers.focus.compute import COVERABLE_SQL
from providers.focus.reader import FocusUsage, VmRules, read_focus

SERVICE = "compute"
_SKU = (r"^(?:([A-Z][0-9][A-Z]?) )?(?:AMD |Intel |Arm |Ampere )?"
        r"(Predefined |Custom |Compute optimized |Memory-optimized )?"
        r"(?:Instance )?(Core|Ram) running in .+$")
_EXCLUDED = r"(?i)\b(spot|preemptible|sole tenancy|extended|commitment|licen[cs]e)\b"
_CORE_HOURS = ("hour", "hours", "h")
_RAM_HOURS = ("gibibyte hour", "gibibyte hours", "gibibyte-hour", "gib hour", "gib hours",
              "gibiby.h")
_GIB = 1024.0**3


def _in(expression: str, values: tuple[str, ...]) -> str:
    return f"{expression} IN ({', '.join(repr(v) for v in values)})"


def gcp_rules() -> VmRules:
    """The rules recognising GCP VM vCPU and memory usage."""
    prefix = f"regexp_extract(ChargeDescription, '{_SKU}', 1)"
    kind = f"trim(regexp_extract(ChargeDescription, '{_SKU}', 2))"
    resource = f"lower(regexp_extract(ChargeDescription, '{_SKU}', 3))"
    series = f"""CASE
            WHEN {prefix} <> '' THEN lower({prefix})
            WHEN {kind} = 'Compute optimized' THEN 'c2'
            WHEN {kind} = 'Memory-optimized' THEN 'm1'
            WHEN {kind} IN ('Predefined', 'Custom') THEN 'n1'
        END"""
    instance_type = f"""CASE WHEN ladder_re_full(ChargeDescription, '{_SKU}')
            AND NOT ladder_re(ChargeDescription, '{_EXCLUDED}')
        THEN {series} || ' ' || {resource} END"""
    unit = "lower(trim(ConsumedUnit))"
    factor = f"""CASE
            WHEN instance_type LIKE '% core' AND {_in(unit, _CORE_HOURS)} THEN 1.0
            WHEN instance_type LIKE '% core' AND {unit} IN ('seconds', 's')
                THEN 1.0E0 / 3600
            WHEN instance_type LIKE '% ram' AND {_in(unit, _RAM_HOURS)} THEN 1.0
            WHEN instance_type LIKE '% ram' AND {unit} IN ('byte-seconds', 'by.s')
                THEN 1.0E0 / (3600 * {_GIB:.1f}E0)
        END"""
    family = """split_part(instance_type, ' ', 1) || CASE split_part(instance_type, ' ', 2)
            WHEN 'core' THEN '.vcpu' WHEN 'ram' THEN '.memory' END"""
    is_compute = f"""(lower(ChargeCategory) = 'usage'
        AND (lower(ProviderName) LIKE 'google%' OR lower(ProviderName) = 'gcp')
        AND lower(ServiceName) = 'compute engine'
        AND {COVERABLE_SQL})"""
    return VmRules(
        provider="'gcp'",
        service=SERVICE,
        instance_type=instance_type,
        is_compute=is_compute,
        family=family,
        factor=factor,
        scope="coalesce(SubAccountId, BillingAccountId)",
        none_found=(
            "no GCP VM usage found (ChargeCategory 'Usage' of Compute Engine, a charge "
            "description naming an instance Core or Ram): nothing to optimise"
        ),
    )


def read_gcp_focus(path: str | Path) -> FocusUsage:
    """Read a GCP FOCUS export (file or folder) into hourly vCPU and GiB usage per key."""
    return read_focus(path, gcp_rules())
