"""`ladder ingest s3://bucket/prefix/` against a local S3-compatible server (issue 22, point 2).

moto's server mode listens on loopback; boto3 reaches it through ``AWS_ENDPOINT_URL``, the
SDK's own setting for an S3-compatible endpoint, with the standard credential chain.
"""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from core.db import repository
from core.db.session import create_engine_for, session_scope
from core.settings import Settings, get_settings
from ladder.cli import app
from providers.focus.reader import read_focus

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "providers/sample/data/usage.parquet"
BUCKET = "billing-exports"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """A moto S3 server on a free loopback port, for the module."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server: str, ladder_settings: Settings, monkeypatch: pytest.MonkeyPatch
       ) -> Iterator[boto3.client]:
    """An empty bucket on the server, credentials in the environment, a fresh database."""
    for name, value in (("AWS_ENDPOINT_URL", s3_server), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    get_settings.cache_clear()
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)
    get_settings.cache_clear()


def _datasets(settings: Settings) -> list[tuple[int, list[str], int, int]]:
    engine = create_engine_for(settings.database_url)
    with session_scope(engine) as session:
        found = [(d.id, list(d.sources), d.hours, d.rows_used)
                 for d in repository.list_datasets(session)]
    engine.dispose()
    return found


def test_a_prefix_in_s3_ingests_as_the_same_files_on_disk_would(
        s3: boto3.client, ladder_settings: Settings, tmp_path: Path) -> None:
    frame = pd.read_parquet(SAMPLE)
    july = frame["ChargePeriodStart"] < pd.Timestamp("2024-08-01", tz="UTC")
    local = tmp_path / "export"
    local.mkdir()
    frame[july].to_parquet(local / "part-0.parquet", index=False)
    frame[~july].to_parquet(local / "part-1.parquet", index=False)
    for part in ("part-0.parquet", "part-1.parquet"):
        s3.upload_file(str(local / part), BUCKET, f"focus/data/BILLING_PERIOD=2024/{part}")
    s3.put_object(Bucket=BUCKET, Key="focus/data/README.txt", Body=b"not a FOCUS file")

    result = runner.invoke(app, ["ingest", f"s3://{BUCKET}/focus/data/"])
    assert result.exit_code == 0, result.output
    [(dataset_id, sources, hours, rows_used)] = _datasets(ladder_settings)
    assert sources == [f"s3://{BUCKET}/focus/data/BILLING_PERIOD=2024/part-0.parquet",
                       f"s3://{BUCKET}/focus/data/BILLING_PERIOD=2024/part-1.parquet"]
    engine = create_engine_for(ladder_settings.database_url)
    with session_scope(engine) as session:
        remote = repository.load_usage(session, dataset_id)
    engine.dispose()

    # The same two files from disk: the same content, so the same dataset, nothing new.
    again = runner.invoke(app, ["ingest", str(local)])
    assert again.exit_code == 0, again.output
    assert "Already stored" in again.output
    assert len(_datasets(ladder_settings)) == 1
    assert rows_used == len(frame)
    # What was stored from the bucket is what the reader makes of the files on disk.
    expected = read_focus(local).hourly
    assert hours == expected["hour"].nunique() == 2208
    columns = sorted(set(remote.columns) & set(expected.columns))
    assert {"hour", "units"} <= set(columns)
    order = [c for c in columns if c not in ("units", "on_demand_cost")]
    pd.testing.assert_frame_equal(
        remote[columns].sort_values(order).reset_index(drop=True),
        expected[columns].sort_values(order).reset_index(drop=True), check_dtype=False)


def test_a_bad_row_in_s3_is_named_by_its_url_and_stores_nothing(
        s3: boto3.client, ladder_settings: Settings) -> None:
    frame = pd.read_parquet(SAMPLE).head(50).astype({"BilledCost": object})
    frame.loc[7, "BilledCost"] = "twelve"
    body = gzip.compress(frame.to_csv(index=False).encode())
    s3.put_object(Bucket=BUCKET, Key="focus/2024-08/export.csv.gz", Body=body)

    result = runner.invoke(app, ["ingest", f"s3://{BUCKET}/focus/"])
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    # Row numbers count data rows: the 8th.
    assert f"s3://{BUCKET}/focus/2024-08/export.csv.gz" in text and "row 8" in text
    assert "BilledCost" in text and "ladder-stage-" not in text
    assert _datasets(ladder_settings) == []


def test_an_empty_prefix_and_a_missing_bucket_are_refused_clearly(
        s3: boto3.client, ladder_settings: Settings) -> None:
    empty = runner.invoke(app, ["ingest", f"s3://{BUCKET}/nothing-here/"])
    assert empty.exit_code != 0
    assert "no FOCUS objects" in empty.output and f"s3://{BUCKET}/nothing-here/" in empty.output
    missing = runner.invoke(app, ["ingest", "s3://no-such-bucket/focus/"])
    assert missing.exit_code != 0
    assert "NoSuchBucket" in " ".join(missing.output.split())
    assert _datasets(ladder_settings) == []


def test_without_credentials_s3_says_how_to_give_them(
        s3_server: str, no_cloud_credentials: None, ladder_settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    get_settings.cache_clear()
    result = runner.invoke(app, ["ingest", f"s3://{BUCKET}/focus/"])
    assert result.exit_code != 0
    assert "no AWS credentials" in " ".join(result.output.split())


def test_gcs_without_its_package_names_the_extra_to_install(
        ladder_settings: Settings) -> None:
    pytest.importorskip("fsspec")
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed here")
    result = runner.invoke(app, ["ingest", "gs://exports/focus/"])
    assert result.exit_code != 0
    assert "pip install 'ladder[gcs]'" in " ".join(result.output.split())
