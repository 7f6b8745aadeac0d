"""Which FOCUS rows are compute instance usage, and what usage key and units they carry.

Everything here renders to SQL over the loaded rows (text columns named as in FOCUS) that
DuckDB and Spark SQL both run (``portable.py``: the ``ladder_*`` helpers), so that
classification runs vectorised inside either engine.

A row is EC2 instance usage when it is a ``Usage`` charge of the EC2 service in
the ``Compute`` category, counted in hours, and an instance type can be read
from it. The instance type comes from the most specific source present:
``x_UsageType`` when the column has a value (``BoxUsage:m5.large``,
``USW2-DedicatedUsage:c5.xlarge``; anything else there — NAT gateways,
EBS-optimised surcharges, spot, host usage — is not instance usage), otherwise
``SkuPriceDetails.InstanceType``, otherwise the AWS charge description
(``$0.34 per On Demand Linux c5.2xlarge Instance Hour`` or
``... m5.large reserved instance applied``).

Left out on purpose, because no commitment covers them or they would count twice:
spot (``PricingCategory = 'Dynamic'``), the unused part of a commitment
(``CommitmentDiscountStatus = 'Unused'``, no usage behind it) and corrections of
earlier periods (``ChargeClass = 'Correction'``). Usage covered by a commitment
(``PricingCategory = 'Committed'``) is kept: it is usage all the same.
"""

from __future__ import annotations

NORMALISATION_FACTORS: dict[str, float] = {
    "nano": 0.25,
    "micro": 0.5,
    "small": 1.0,
    "medium": 2.0,
    "large": 4.0,
    "xlarge": 8.0,
}
"""AWS normalisation factor per size; ``<n>xlarge`` is 8·n (2xlarge 16 … 48xlarge 384).

``metal`` sizes have no factor of their own (AWS gives them the factor of the
largest size of their family, which FOCUS does not carry): such rows are skipped
and counted in ``FocusUsage.skipped``.
"""

HOURLY_UNITS: tuple[str, ...] = ("hours", "hrs", "hour")
EC2_SERVICE_NAMES: tuple[str, ...] = (
    "amazon elastic compute cloud",
    "amazon elastic compute cloud - compute",
    "amazon ec2",
    "ec2",
    "amazonec2",
)

# AWS operation codes of RunInstances, per platform (the RI "product description").
PLATFORM_BY_OPERATION: dict[str, str] = {
    "RunInstances": "linux",
    "RunInstances:0002": "windows",
    "RunInstances:0010": "rhel",
    "RunInstances:000g": "suse",
    "RunInstances:0006": "windows_sql_std",
    "RunInstances:0102": "windows_sql_ent",
    "RunInstances:0202": "windows_sql_web",
    "RunInstances:0004": "linux_sql_std",
    "RunInstances:0100": "linux_sql_ent",
    "RunInstances:0200": "linux_sql_web",
}

_INSTANCE_TYPE = r"[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[a-z0-9-]+"
_USAGE_TYPE = rf"(?:^|-)(?:Box|Dedicated)Usage:({_INSTANCE_TYPE})$"
_DESCRIPTION = rf"\b({_INSTANCE_TYPE}) (?:Dedicated )?(?:Instance Hour|reserved instance applied)"


COVERABLE_SQL = """coalesce(lower(PricingCategory), '') <> 'dynamic'
        AND coalesce(lower(CommitmentDiscountStatus), '') <> 'unused'
        AND coalesce(lower(ChargeClass), '') <> 'correction'"""
"""SQL predicate of a row a commitment could cover, in every cloud's rules: not spot (dynamic
pricing), not a commitment's unused part, not a correction (see above)."""


def _quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _in(expression: str, values: tuple[str, ...]) -> str:
    """SQL: ``expression IN (values…)``."""
    return f"{expression} IN ({', '.join(_quote(v) for v in values)})"


def _sku_details(key: str) -> str:
    """SQL for one key of the SkuPriceDetails JSON (NULL when the JSON is absent or invalid)."""
    return f"ladder_json(SkuPriceDetails, '$.{key}')"


def instance_type_sql() -> str:
    """SQL for the EC2 instance type of a row (NULL when it has none)."""
    sku_type = _sku_details("InstanceType")
    return f"""CASE
        WHEN x_UsageType IS NOT NULL
            THEN NULLIF(regexp_extract(x_UsageType, {_quote(_USAGE_TYPE)}, 1), '')
        WHEN ladder_re_full(lower({sku_type}), {_quote(_INSTANCE_TYPE)})
            THEN lower({sku_type})
        ELSE NULLIF(regexp_extract(ChargeDescription, {_quote(_DESCRIPTION)}, 1), '')
    END"""


def normalisation_factor_sql(size: str) -> str:
    """SQL for the normalisation factor of a size expression (NULL when unknown)."""
    named = " ".join(
        f"WHEN {_quote(name)} THEN {factor}" for name, factor in NORMALISATION_FACTORS.items()
    )
    return f"""CASE {size} {named}
        ELSE CASE WHEN ladder_re_full({size}, '[1-9][0-9]*xlarge')
            THEN 8.0 * TRY_CAST(regexp_extract({size}, '^([0-9]+)', 1) AS DOUBLE) END
    END"""


def platform_sql() -> str:
    """SQL for the platform: from x_Operation when it names one, else from the text."""
    by_operation = " ".join(
        f"WHEN {_quote(code)} THEN {_quote(name)}" for code, name in PLATFORM_BY_OPERATION.items()
    )
    text = f"concat_ws(' ', {_sku_details('OperatingSystem')}, ChargeDescription)"
    base = f"""CASE
            WHEN {text} ILIKE '%windows%' THEN 'windows'
            WHEN ladder_re({text}, '(?i)RHEL|Red Hat') THEN 'rhel'
            WHEN {text} ILIKE '%suse%' THEN 'suse'
            ELSE 'linux' END"""
    sql_edition = f"""CASE
            WHEN NOT ladder_re({text}, '(?i)\\bSQL\\b') THEN ''
            WHEN ladder_re({text}, '(?i)SQL (Server )?(Std|Standard)') THEN '_sql_std'
            WHEN ladder_re({text}, '(?i)SQL (Server )?(Ent|Enterprise)') THEN '_sql_ent'
            WHEN ladder_re({text}, '(?i)SQL (Server )?Web') THEN '_sql_web'
            ELSE '' END"""
    return f"""CASE x_Operation {by_operation}
        ELSE ({base}) || ({sql_edition}) END"""


def tenancy_sql() -> str:
    """SQL for the tenancy: dedicated when the usage type or the description says so."""
    return """CASE WHEN ladder_re(x_UsageType, '(?:^|-)DedicatedUsage:')
            OR ChargeDescription ILIKE '%dedicated%' THEN 'dedicated' ELSE 'shared' END"""


def provider_sql() -> str:
    """SQL for the provider part of a usage key: 'aws' for Amazon, else the lowercased name."""
    return """CASE WHEN lower(ProviderName) IN ('aws', 'amazon', 'amazon web services')
            OR lower(ProviderName) LIKE 'amazon web services%' THEN 'aws'
        ELSE ladder_replace_all(lower(trim(ProviderName)), '[^a-z0-9]+', '-') END"""


def is_compute_sql() -> str:
    """SQL predicate: the row is EC2 instance usage (whether or not its size is known)."""
    return f"""(lower(ChargeCategory) = 'usage'
        AND {_in("lower(ConsumedUnit)", HOURLY_UNITS)}
        AND lower(ServiceCategory) = 'compute'
        AND ({_in("lower(ServiceName)", EC2_SERVICE_NAMES)}
             OR coalesce(x_ServiceCode, '') = 'AmazonEC2')
        AND {COVERABLE_SQL}
        AND instance_type IS NOT NULL)"""
