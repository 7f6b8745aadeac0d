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

The same documents say which FOCUS version the files are (:func:`declared_versions`): an Azure
manifest's ``exportConfig.dataVersion`` (``1.0``, ``1.0r2``, ``1.2-preview``), an AWS
manifest naming its table (``FOCUS_1_0_AWS``, ``FOCUS_1_2_AWS``), or a FOCUS metadata document
(a JSON object with ``FocusVersion``, as the specification's metadata schema defines it) in the
folder. Files no document speaks for are versioned by their columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    focus_version: str | None = None


@dataclass(frozen=True, slots=True)
class ExportFolder:
    """A folder listed once: every file under it in path order, and the deliveries its
    manifests describe (each manifest read once)."""

    root: Path
    files: tuple[Path, ...]
    deliveries: tuple[Delivery, ...]

    def visible(self) -> list[Path]:
        """The files outside hidden files and folders (``.part.csv``, ``._x.csv``)."""
        return [f for f in self.files
                if not any(part.startswith(".") for part in f.relative_to(self.root).parts)]


def scan(root: Path) -> ExportFolder:
    """List the folder ``root`` and read its manifests."""
    files = tuple(sorted(p for p in root.rglob("*") if p.is_file()))
    folder = ExportFolder(root, files, ())
    found = [f for f in folder.visible() if f.name.lower().endswith(AWS_MANIFEST_SUFFIX)]
    if not found:
        return folder
    by_parts = {p.relative_to(root).parts: p for p in files}
    out: list[Delivery] = []
    for manifest in found:
        try:
            document = json.loads(manifest.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read the export manifest: {exc}",
                               source=str(manifest)) from exc
        if not isinstance(document, dict):
            continue  # unknown JSON files are ignored
        if isinstance(document.get("blobs"), list):
            out.append(_azure_delivery(by_parts, manifest, document))
        elif isinstance(document.get("dataFiles"), list):
            out.append(_aws_delivery(by_parts, manifest, document))
    return ExportFolder(root, files, tuple(out))


Files = dict[tuple[str, ...], Path]
"""The folder's files by their path parts relative to the folder."""


def _azure_delivery(files: Files, manifest: Path, document: dict[str, object]) -> Delivery:
    run = document.get("runInfo")
    run = run if isinstance(run, dict) else {}
    period = f"{run.get('startDate', '')}–{run.get('endDate', '')}"
    names = [str(b.get("blobName", "")) for b in document["blobs"]  # type: ignore[attr-defined]
             if isinstance(b, dict)]
    config = document.get("exportConfig")
    version = config.get("dataVersion") if isinstance(config, dict) else None
    return Delivery("azure", period, str(run.get("submittedTime", "")), manifest,
                    _local(files, manifest, names), str(version) if version else None)


def _aws_delivery(files: Files, manifest: Path, document: dict[str, object]) -> Delivery:
    names = [str(u) for u in document["dataFiles"]]  # type: ignore[attr-defined]
    period = next((part for name in (str(manifest), *names)
                   for part in PurePosixPath(name.replace("\\", "/")).parts
                   if part.upper().startswith("BILLING_PERIOD=")), "")
    written = f"{manifest.stat().st_mtime:020.6f}"
    table = next((m for text in _strings(document) if (m := _AWS_TABLE.search(text))), None)
    return Delivery("aws", period, written, manifest, _local(files, manifest, names),
                    f"{table[1]}.{table[2]}" if table else None)


_AWS_TABLE = re.compile(r"\bFOCUS_(\d)_(\d)(?:_AWS)?\b", re.IGNORECASE)
"""An AWS Data Exports FOCUS table name (``FOCUS_1_2_AWS``) in a manifest's text."""


def _strings(value: object) -> Iterator[str]:
    """Every string inside a JSON value, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


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


def manifest_files(folder: ExportFolder) -> list[Path] | None:
    """The data files to read from the export folder: those of the newest delivery of each
    period when it holds manifests, ``None`` when it holds none."""
    if not folder.deliveries:
        return None
    return sorted({f for d in newest(folder.deliveries) for f in d.files})


@dataclass(frozen=True, slots=True)
class DeclaredVersions:
    """The FOCUS version labels an export folder declares: per file from the manifests, and
    for the whole folder from a FOCUS metadata document. Each label comes with the document
    that declared it, so that an unknown label can be reported against it."""

    by_file: Mapping[Path, tuple[str, Path]] = field(default_factory=dict)
    folder: tuple[str, Path] | None = None

    def of(self, file: Path) -> tuple[str, Path] | None:
        """The label declared for ``file`` and where (its manifest first, then the folder's
        metadata), or None."""
        return self.by_file.get(file, self.folder)


_METADATA_MAX_BYTES = 1 << 20


def _metadata_versions(folder: ExportFolder) -> list[tuple[str, Path]]:
    """``FocusVersion`` of each FOCUS metadata document in the folder (hidden folders and
    manifests skipped; a document is a JSON object holding the key, at its top or in the
    schema objects it lists)."""
    found = []
    for path in folder.visible():
        if (not path.name.endswith(".json")
                or path.name.lower().endswith(AWS_MANIFEST_SUFFIX)
                or path.stat().st_size > _METADATA_MAX_BYTES):
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            continue  # not a metadata document: some other file of the export
        labels = {str(v) for v in _focus_versions(document)}
        found += [(label, path) for label in sorted(labels)]
    return found


def _focus_versions(value: object, depth: int = 0) -> Iterator[object]:
    """The values of ``FocusVersion`` keys in a JSON value, two levels deep at most."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() == "focusversion" and isinstance(item, str | int | float):
                yield item
            elif depth < 2:
                yield from _focus_versions(item, depth + 1)
    elif isinstance(value, list) and depth < 2:
        for item in value:
            yield from _focus_versions(item, depth + 1)


def declared_versions(folder: ExportFolder) -> DeclaredVersions:
    """The FOCUS versions the manifests and metadata of the export folder declare.

    Raises InvalidInput when the folder's metadata documents declare two versions: one
    folder is one export, read with one set of columns.
    """
    by_file = {file: (d.focus_version, d.manifest) for d in folder.deliveries
               if d.focus_version for file in d.files}
    labels = _metadata_versions(folder)
    if len({label for label, _ in labels}) > 1:
        (first, first_path), (second, second_path) = labels[0], next(
            item for item in labels if item[0] != labels[0][0])
        raise InvalidInput(f"the folder's FOCUS metadata declares version {first} "
                           f"({first_path}) and {second} ({second_path}): keep one export "
                           "per folder", source=str(folder.root))
    return DeclaredVersions(by_file, labels[0] if labels else None)


__all__ = ["DeclaredVersions", "Delivery", "ExportFolder", "declared_versions", "manifest_files",
           "newest", "scan"]
