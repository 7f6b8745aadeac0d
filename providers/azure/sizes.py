"""Azure VM sizes and their instance size flexibility (ISF) groups and ratios.

An Azure reservation bought for one VM size applies to every size of its ISF
group, each size counting for its ratio: a reservation of ``Standard_D2s_v5``
(ratio 1) covers half of a ``Standard_D4s_v5`` (ratio 2). Ladder measures Azure
VM usage in these normalised units, one usage key per ISF group.

The table (``data/instance_size_flexibility.csv``) is a subset of Microsoft's
published ratios; ``data/NOTICE`` names its sources. Sizes not in it are not
guessed: their usage is skipped and counted.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
ISF_FILE = DATA_DIR / "instance_size_flexibility.csv"


@dataclass(frozen=True, slots=True)
class VmSize:
    """One VM size: its ARM name, its ISF group and its ratio within the group."""

    arm_sku: str
    group: str
    ratio: float

    @property
    def family(self) -> str:
        """The usage key's family part for this size's group."""
        return group_slug(self.group)


def group_slug(group: str) -> str:
    """The ISF group as a usage key part: ``"DSv3 Series"`` → ``"dsv3-series"``."""
    return re.sub(r"[^a-z0-9]+", "-", group.lower()).strip("-")


@lru_cache(maxsize=1)
def load_sizes(path: Path = ISF_FILE) -> dict[str, VmSize]:
    """The bundled sizes by ARM SKU name (``Standard_D2s_v5``)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            row["arm_sku"]: VmSize(row["arm_sku"], row["group"], float(row["ratio"]))
            for row in csv.DictReader(handle)
        }


def groups(sizes: dict[str, VmSize] | None = None) -> dict[str, list[VmSize]]:
    """Sizes per ISF group, smallest ratio first."""
    table = load_sizes() if sizes is None else sizes
    by_group: dict[str, list[VmSize]] = {}
    for size in table.values():
        by_group.setdefault(size.group, []).append(size)
    return {g: sorted(s, key=lambda v: (v.ratio, v.arm_sku)) for g, s in by_group.items()}


def base_size(group: str) -> VmSize:
    """The size a reservation of ``group`` is bought in: the smallest ratio of the group."""
    try:
        return groups()[group][0]
    except KeyError as exc:
        raise KeyError(f"unknown instance size flexibility group {group!r}") from exc


def group_by_slug(slug: str) -> str:
    """The ISF group whose slug is ``slug``."""
    for group in groups():
        if group_slug(group) == slug:
            return group
    raise KeyError(f"unknown instance size flexibility group {slug!r}")


def sku_from_meter(meter_name: str) -> str:
    """The ARM SKU a VM meter name stands for: ``"D2 v3/D2s v3"`` → ``"Standard_D2s_v3"``.

    A meter shared by a size and its premium-storage twin lists both; the last
    (the ``s`` size, in whose group reservations are usually bought) is taken.
    """
    last = meter_name.split("/")[-1].strip()
    return "Standard_" + re.sub(r"\s+", "_", last)
