"""Which cloud a FOCUS bill belongs to, and that cloud's rules for its compute usage.

A FOCUS export names its cloud in every row (``ProviderName``; FOCUS 1.2 and later
``ServiceProviderName``), and one file may hold several: the FinOps Foundation's sample
mixes AWS, Microsoft and Oracle rows. Ingest reads each cloud's compute usage with that
cloud's rules (EC2 instance types, Azure VM meters with their ISF ratios, GCP core and
RAM SKUs, OCI OCPU and memory hours: :data:`USAGE_READERS`) and stores one dataset per cloud.
OCI's dataset holds its bill lines and compute usage for the reports only: Ladder has no OCI
commitment catalog yet (:data:`NO_CATALOG`), so nothing is planned for it.

A provider of Ladder (``sample``, ``aws``, ``azure``, ``gcp``) reads the bills of one
cloud (:data:`PROVIDER_CLOUDS`); asked to ingest a file for a provider, ingest keeps
that cloud's rows and refuses a file that holds none of them, naming what it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import duckdb

from core.errors import InvalidInput
from providers.base import NO_CATALOG
from providers.focus.reader import (
    EC2_RULES,
    FocusUsage,
    NoUsageFound,
    VmRules,
    find_files,
    read_focus,
    table_function,
)
from providers.focus.schema import ALIASES, resolve_columns

CLOUD_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "aws": ("aws", "amazon", "amazon web services"),
    "azure": ("microsoft", "azure", "microsoft azure"),
    "gcp": ("google cloud", "google", "gcp", "google cloud platform"),
    "oci": ("oracle", "oracle cloud infrastructure", "oci"),
})
"""The ``ProviderName`` values (lowercased) of each cloud, as the clouds' exports write them
(OCI's FOCUS reports write ``Provider``, FOCUS 1.3 files ``ServiceProviderName``)."""

PROVIDER_CLOUDS: Mapping[str, str] = MappingProxyType({
    "sample": "aws", "aws": "aws", "azure": "azure", "gcp": "gcp", "oci": "oci",
})
"""The cloud whose bills each of Ladder's providers reads (the sample is shaped as AWS; ``oci``
names OCI's datasets, which no optimiser reads yet)."""


U = TypeVar("U")
"""What a cloud's read gives (DuckDB's ``FocusUsage``, Spark's ``SparkUsage``)."""


def _azure_rules() -> VmRules:
    from providers.azure.usage import azure_rules  # the ISF table is read on first use

    return azure_rules()


def _gcp_rules() -> VmRules:
    from providers.gcp.usage import gcp_rules

    return gcp_rules()


def _oci_rules() -> VmRules:
    from providers.oci.usage import oci_rules

    return oci_rules()


USAGE_READERS: Mapping[str, Callable[[], VmRules]] = MappingProxyType({
    "aws": lambda: EC2_RULES,
    "azure": _azure_rules,
    "gcp": _gcp_rules,
    "oci": _oci_rules,
})
"""Each cloud whose compute usage Ladder reads, and its rules (all but those of
:data:`NO_CATALOG` are optimised)."""


def cloud_of_name(provider_name: str) -> str:
    """The cloud of one ``ProviderName`` value: a key of :data:`CLOUD_NAMES`, else the name
    itself, lowercased (a cloud Ladder has no rules for is still told apart)."""
    text = provider_name.strip().lower()
    for cloud, names in CLOUD_NAMES.items():
        if text in names or any(text.startswith(f"{name} ") for name in names):
            return cloud
    return text


def clouds_in(path: str | Path) -> dict[str, int]:
    """Rows per cloud in the FOCUS file or folder ``path``, most rows first.

    Reads only the provider column (``ProviderName``, else FOCUS 1.3's
    ``ServiceProviderName`` or the 1.0-preview ``Provider`` of OCI's reports). A file without
    any is held to the FOCUS columns at once, so that a native export (AWS CUR, Azure cost
    details, an OCI cost report) is refused naming the FOCUS export to turn on.
    """
    counts: dict[str, int] = {}
    con = duckdb.connect(":memory:")
    try:
        for file in find_files(Path(path)):
            column = _provider_column(con, file)
            if column is None:
                continue  # resolve_columns refused it, or left it to the reader
            table = table_function(file)[0]
            rows = con.execute(f'SELECT "{column}", count(*) FROM {table} GROUP BY ALL',
                               [str(file)]).fetchall()
            for name, count in rows:
                if name is None or not str(name).strip():
                    continue
                cloud = cloud_of_name(str(name))
                counts[cloud] = counts.get(cloud, 0) + int(count)
    except duckdb.Error:
        return counts  # unreadable: the reader reports it, with the file and row
    finally:
        con.close()
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _provider_column(con: duckdb.DuckDBPyConnection, file: Path) -> str | None:
    """The file's provider column (quoted for SQL); a file without one is checked against the
    FOCUS columns, which raises InvalidInput saying what it is."""
    described = con.execute(f"DESCRIBE SELECT * FROM {table_function(file)[0]}",
                            [str(file)]).fetchall()
    names = {str(row[0]).lstrip("\ufeff").strip().lower(): str(row[0]) for row in described}
    for wanted in (c.lower() for c in ("ProviderName", *ALIASES["ProviderName"])):
        if wanted in names:
            return names[wanted].replace('"', '""')
    resolve_columns(list(names.values()), source=str(file))
    return None


def choose_clouds(found: Mapping[str, int], provider: str | None, *,
                  source: str) -> list[str]:
    """The clouds whose compute usage to read from a bill holding ``found`` rows per cloud
    (:func:`clouds_in`): the provider's cloud when one is named (refused when the bill holds
    none of its rows), else every cloud of the bill that Ladder has rules for (refused when
    there is none)."""
    described = ", ".join(f"{cloud} ({rows} rows)" for cloud, rows in found.items())
    usable = [c for c in found if c in USAGE_READERS]
    if provider is None:
        if not usable:
            raise InvalidInput(
                f"no cloud whose compute usage Ladder reads ({', '.join(USAGE_READERS)}) in "
                f"the bill: it holds {described or 'no ProviderName values'}", source=source,
                column="ProviderName")
        return usable
    cloud = PROVIDER_CLOUDS.get(provider)
    if cloud is None:  # a provider registered by a plugin: the bill says which cloud
        if len(usable) != 1:
            raise InvalidInput(
                f"provider {provider!r} is not tied to one cloud and the bill holds "
                f"{described or 'no ProviderName values'}: name the cloud's provider "
                f"({', '.join(sorted(PROVIDER_CLOUDS))})", source=source)
        return usable
    if found and cloud not in found:
        raise InvalidInput(f"provider {provider!r} reads {cloud} bills, but the bill holds "
                           f"only {described}", source=source, column="ProviderName")
    return [cloud]


def read_each_cloud(clouds: Sequence[str], provider: str | None,
                    read: Callable[[str], U]) -> list[tuple[str, U]]:
    """``read(cloud)`` of each of ``clouds`` (:func:`choose_clouds`'s), skipping a cloud with
    no VM usage unless a provider was named, or it is the only cloud, or none has any (then
    the first cloud's :class:`NoUsageFound` is raised): a bill of several clouds may hold
    compute on some of them only."""
    found: list[tuple[str, U]] = []
    first_missing: NoUsageFound | None = None
    for cloud in clouds:
        try:
            found.append((cloud, read(cloud)))
        except NoUsageFound as exc:
            if provider is not None or len(clouds) == 1:
                raise
            first_missing = first_missing or exc
    if not found:
        assert first_missing is not None
        raise first_missing
    return found


def read_cloud_usage(path: str | Path, cloud: str) -> FocusUsage:
    """The compute usage of ``cloud`` in the FOCUS file or folder ``path``."""
    try:
        rules = USAGE_READERS[cloud]
    except KeyError:
        raise InvalidInput(f"Ladder has no rules for {cloud} compute usage (it reads "
                           f"{', '.join(USAGE_READERS)})", source=str(path)) from None
    return read_focus(path, rules())


def rule_columns() -> tuple[str, ...]:
    """The columns beyond FOCUS's own that some cloud's rules read (Azure's meters, OCI's
    region name): loaded once for every cloud of a bill (``FocusReduction``)."""
    return tuple(dict.fromkeys(c for rules in USAGE_READERS.values()
                               for c in rules().extra_columns))


def cloud_rules(cloud: str) -> VmRules:
    """The rules of ``cloud``'s compute usage (``aws`` for a cloud Ladder has none for)."""
    return USAGE_READERS.get(cloud, USAGE_READERS["aws"])()


__all__ = ["CLOUD_NAMES", "NO_CATALOG", "PROVIDER_CLOUDS", "USAGE_READERS", "choose_clouds",
           "cloud_of_name", "cloud_rules", "clouds_in", "read_cloud_usage", "read_each_cloud",
           "rule_columns"]
