"""The folders the clouds' FOCUS exports write, read through their manifests.

An export folder copied from object storage holds more than one delivery: Azure Cost
Management writes every run of an export to its own folder
(``<export>/<YYYYMMDD-YYYYMMDD>/<run id>/part_*.csv.gz``) beside a ``manifest.json`` that
lists the run's blobs, and reruns a month as its bill is restated; AWS Data Exports writes
``<export>/data/BILLING_PERIOD=YYYY-MM/*.parquet`` with a
``metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`` listing the delivery's
``dataFiles`` (and, with "create new file" delivery, one folder per execution). Reading
every data file of such a folder counts each restated month once per run.

So when a folder holds manifests, the files read are those the manifests list, and of each
period only the newest delivery: for Azure the run with the latest
``runInfo.submittedTime`` per ``startDate``–``endDate``; for AWS the manifest of each
``BILLING_PERIOD`` written last (its file time: the manifest itself has no timestamp). A
listed file missing from the folder is an error naming it: reading part of a delivery
would undercount. A folder without manifests is read whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import InvalidInput

AZURE_MANIFEST = "manifest.json"
AWS_MANIFEST_SUFFIX = "manifest.json"  # "<export>-Manifest.json", matched case-insensitively


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery of an export: the period it covers, when it was made, and its files."""

    cloud: str
    period: str
    written: str
    manifest: Path
    files: tuple[Path, ...]


def manifests(root: Path) -> list[Path]:
    """The export manifests under ``root`` (hidden folders skipped), in path order."""
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(root).parts):
            continue
        if path.name.lower().endswith(AWS_MANIFEST_SUFFIX):
            found.append(path)
    return found


def deliveries(root: Path) -> list[Delivery]:
    """Every delivery the manifests under ``root`` describe (unknown JSON files ignored)."""
    out: list[Delivery] = []
    found = manifests(root)
    if not found:
        return out
    files = {p.relative_to(root).parts: p for p in root.rglob("*") if p.is_file()}
    for manifest in found:
        try:
            document = json.loads(manifest.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read the export manifest: {exc}",
                               source=str(manifest)) from exc
        if not isinstance(document, dict):
            continue
        if isinstance(document.get("blobs"), list):
            out.append(_azure_delivery(files, manifest, document))
        elif isinstance(document.get("dataFiles"), list):
            out.append(_aws_delivery(files, manifest, document))
    return out


Files = dict[tuple[str, ...], Path]
"""The folder's files by their path parts relative to the folder."""


def _azure_delivery(files: Files, manifest: Path, document: dict[str, object]) -> Delivery:
    run = document.get("runInfo")
    run = run if isinstance(run, dict) else {}
    period = f"{run.get('startDate', '')}–{run.get('endDate', '')}"
    names = [str(b.get("blobName", "")) for b in document["blobs"]  # type: ignore[attr-defined]
             if isinstance(b, dict)]
    return Delivery("azure", period, str(run.get("submittedTime", "")), manifest,
                    _local(files, manifest, names))


def _aws_delivery(files: Files, manifest: Path, document: dict[str, object]) -> Delivery:
    names = [str(u) for u in document["dataFiles"]]  # type: ignore[attr-defined]
    period = next((part for name in (str(manifest), *names)
                   for part in PurePosixPath(name.replace("\\", "/")).parts
                   if part.upper().startswith("BILLING_PERIOD=")), "")
    written = f"{manifest.stat().st_mtime:020.6f}"
    return Delivery("aws", period, written, manifest, _local(files, manifest, names))


def _local(by_parts: Files, manifest: Path, names: Iterable[str]) -> tuple[Path, ...]:
    """The local copies of the files a manifest lists: each name (an S3 URI, a blob name)
    matched by its longest trailing run of path parts to a file of the folder."""
    files = []
    for name in names:
        parts = PurePosixPath(name.split("://", 1)[-1].replace("\\", "/")).parts
        match = next((by_parts[tail] for n in range(len(parts), 0, -1)
                      if (tail := parts[-n:]) in by_parts), None)
        if match is None:
            raise InvalidInput(f"the export manifest lists {name!r}, which is not in the "
                               "folder: copy the whole delivery", source=str(manifest))
        files.append(match)
    return tuple(files)


def newest(found: Sequence[Delivery]) -> list[Delivery]:
    """Of each cloud's period, the delivery written last."""
    best: dict[tuple[str, str], Delivery] = {}
    for delivery in found:
        key = (delivery.cloud, delivery.period)
        if key not in best or delivery.written > best[key].written:
            best[key] = delivery
    return sorted(best.values(), key=lambda d: (d.cloud, d.period))


def manifest_files(root: Path) -> list[Path] | None:
    """The data files to read from the export folder ``root``: those of the newest delivery
    of each period when it holds manifests, ``None`` when it holds none."""
    found = deliveries(root)
    if not found:
        return None
    return sorted({f for d in newest(found) for f in d.files})


__all__ = ["Delivery", "deliveries", "manifest_files", "manifests", "newest"]
