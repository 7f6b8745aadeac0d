"""Export folders as the clouds write them: manifests pick the newest delivery of each period."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from focus_factories import AZURE_KEY, aws_row, azure_row, write

from core.errors import InvalidInput
from providers.bills import read_cloud_usage

D2 = "Virtual Machines Dv3/DSv3 Series - D2 v3/D2s v3 - US East"


def azure_run(root: Path, period: str, run: str, submitted: str,
              rows: list[dict[str, object]], *, start: str, end: str) -> Path:
    """One run of an Azure FOCUS export: a gzipped part and the run's manifest."""
    folder = root / "focus-export" / period / run
    folder.mkdir(parents=True)
    plain = write(folder / "part_0_0001.csv", rows)
    with plain.open("rb") as source, gzip.open(folder / "part_0_0001.csv.gz", "wb") as target:
        shutil.copyfileobj(source, target)
    plain.unlink()
    manifest = {
        "manifestVersion": "2024-04-01", "byteCount": 1, "blobCount": 1,
        "exportConfig": {"exportName": "focus-export", "type": "FocusCost",
                         "dataVersion": "1.0r2"},
        "runInfo": {"runId": run, "submittedTime": submitted, "startDate": start,
                    "endDate": end},
        "blobs": [{"blobName": f"exports/focus-export/{period}/{run}/part_0_0001.csv.gz",
                   "byteCount": 1}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def _units(root: Path, cloud: str) -> float:
    return float(read_cloud_usage(root, cloud).hourly["units"].sum())


def test_a_restated_azure_month_is_read_once_from_its_newest_run(tmp_path: Path) -> None:
    first = [azure_row(D2, hour=h) for h in range(3)]
    restated = [azure_row(D2, hour=h, quantity=2.0) for h in range(3)]
    february = [azure_row(D2, hour=h, ChargePeriodStart=f"2025-02-01T{h:02d}:00:00Z",
                          ChargePeriodEnd=f"2025-02-01T{h + 1:02d}:00:00Z") for h in range(2)]
    january = ("2025-01-01T00:00:00", "2025-01-31T23:59:59")
    azure_run(tmp_path, "20250101-20250131", "run-a", "2025-02-02T03:00:00Z", first,
              start=january[0], end=january[1])
    azure_run(tmp_path, "20250101-20250131", "run-b", "2025-02-05T03:00:00Z", restated,
              start=january[0], end=january[1])
    azure_run(tmp_path, "20250201-20250228", "run-c", "2025-02-02T03:00:00Z", february,
              start="2025-02-01T00:00:00", end="2025-02-28T23:59:59")
    usage = read_cloud_usage(tmp_path, "azure")
    assert len(usage.files) == 2 and all("run-a" not in f for f in usage.files)
    expected = sum(r["ConsumedQuantity"] for r in restated + february)  # type: ignore[misc]
    assert usage.hourly["units"].sum() == pytest.approx(expected)
    assert set(usage.hourly["usage_key"]) == {AZURE_KEY.format("dsv3-series")}


def test_an_aws_export_reads_the_files_its_manifest_lists(tmp_path: Path) -> None:
    export = tmp_path / "cur" / "focus"
    data = export / "data" / "BILLING_PERIOD=2025-01"
    listed = write(data / "focus-00001.csv", [aws_row(hour=h) for h in range(4)])
    write(data / "focus-00002-left-over.csv", [aws_row(hour=h, quantity=9.0) for h in range(4)])
    metadata = export / "metadata" / "BILLING_PERIOD=2025-01"
    metadata.mkdir(parents=True)
    (metadata / "focus-Manifest.json").write_text(json.dumps({
        "executionId": "0a1b", "exportArn": "arn:aws:bcm-data-exports:us-east-1:1:export/x",
        "columns": [{"name": "BilledCost", "type": "decimal"}],
        "dataFiles": ["s3://bucket/cur/focus/data/BILLING_PERIOD=2025-01/focus-00001.csv"],
    }))
    usage = read_cloud_usage(tmp_path, "aws")
    assert usage.files == (str(listed),)
    assert usage.hourly["units"].sum() == pytest.approx(
        pd.read_csv(listed)["ConsumedQuantity"].sum() * 4)  # m5.large: 4 units an hour


def test_of_two_aws_manifests_of_one_period_the_later_one_counts(tmp_path: Path) -> None:
    for execution, quantity, age in (("old", 1.0, 3600), ("new", 3.0, 0)):
        data = tmp_path / execution / "data" / "BILLING_PERIOD=2025-01"
        write(data / f"focus-{execution}.csv", [aws_row(hour=0, quantity=quantity)])
        manifest = tmp_path / execution / "metadata" / "BILLING_PERIOD=2025-01" / \
            "focus-Manifest.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps({"executionId": execution, "dataFiles": [
            f"s3://b/{execution}/data/BILLING_PERIOD=2025-01/focus-{execution}.csv"]}))
        stamp = manifest.stat().st_mtime - age
        os.utime(manifest, (stamp, stamp))
    assert _units(tmp_path, "aws") == pytest.approx(3.0 * 4)


def test_a_manifest_listing_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    folder = azure_run(tmp_path, "20250101-20250131", "run-a", "2025-02-02T03:00:00Z",
                       [azure_row(D2)], start="2025-01-01", end="2025-01-31")
    (folder / "part_0_0001.csv.gz").unlink()
    with pytest.raises(InvalidInput, match=r"lists 'exports/focus-export/.*part_0_0001\.csv\.gz"
                                           r"', which is not in the folder") as refused:
        read_cloud_usage(tmp_path, "azure")
    assert refused.value.source == str(folder / "manifest.json")
