"""The AWS provider as a whole: the protocols, FOCUS usage from S3 (moto), the permission check."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from aws_replay import ClientsFor, replay_session
from moto import mock_aws

from core.errors import InvalidInput
from providers.aws import AwsClients, AwsProvider, AwsSettings
from providers.base import Checkable, Provider, get_provider
from providers.focus import read_focus
from providers.sample import usage_path

BUCKET = "ladder-billing-exports"
PREFIX = "focus/ladder-focus/data/"


def test_aws_provider_is_registered_and_satisfies_the_protocols() -> None:
    """``get_provider("aws")`` builds it without calling AWS; it is a Provider and Checkable."""
    provider = get_provider("aws")
    assert isinstance(provider, AwsProvider) and provider.name == "aws"
    assert isinstance(provider, Provider) and isinstance(provider, Checkable)


@mock_aws
def test_usage_is_downloaded_from_s3_and_read_like_a_local_export(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture
                                                                   ) -> None:
    """Objects under the prefix are copied (FOCUS files only) and read with read_focus."""
    sample = pq.read_table(usage_path())
    two_days = sample.filter(pc.less(sample["ChargePeriodStart"],
                                     pa.scalar(datetime(2024, 6, 3, tzinfo=UTC),
                                               sample.schema.field("ChargePeriodStart").type)))
    local_file = tmp_path / "local" / "part-0.parquet"
    local_file.parent.mkdir()
    pq.write_table(two_days, local_file)
    body = local_file.read_bytes()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}BILLING_PERIOD=2024-06/part-0.snappy.parquet",
                  Body=body)
    s3.put_object(Bucket=BUCKET, Key="focus/ladder-focus/metadata/Manifest.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/other.parquet", Body=b"not read")
    settings = AwsSettings(usage=f"s3://{BUCKET}/{PREFIX}", usage_cache_dir=tmp_path / "cache")
    provider = AwsProvider(clients=AwsClients(settings, session=replay_session()))
    (folder,) = provider.usage_paths()
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet"))
    assert files == ["BILLING_PERIOD=2024-06/part-0.snappy.parquet"]
    from_s3, local = read_focus(folder), read_focus(local_file)
    pd.testing.assert_frame_equal(from_s3.keys, local.keys)
    assert from_s3.hourly["units"].sum() == pytest.approx(local.hourly["units"].sum())
    assert set(provider.usage_keys()) == set(local.keys["usage_key"])
    assert from_s3.end - from_s3.start == timedelta(hours=48)
    # A second download finds the object unchanged (size and ETag) and does not fetch it.
    caplog.set_level(logging.INFO, logger="ladder.providers.aws")
    fresh = AwsProvider(clients=AwsClients(settings, session=replay_session()))
    assert fresh.usage_paths() == [folder]
    calls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("aws ok")]
    assert any("s3.ListObjectsV2" in c for c in calls)
    assert not any("s3.GetObject" in c for c in calls)


def test_usage_from_a_local_path_or_nothing(tmp_path: Path) -> None:
    """A local path is used as it is; no configured export is a clear error."""
    provider = AwsProvider(AwsSettings(usage=str(usage_path())))
    assert provider.usage_paths() == [usage_path()]
    with pytest.raises(InvalidInput, match="LADDER_AWS_USAGE"):
        AwsProvider(AwsSettings()).usage_paths()
    with pytest.raises(InvalidInput, match="no such file"):
        AwsProvider(AwsSettings(usage=str(tmp_path / "missing"))).usage_paths()


def test_check_reports_each_permission(aws_clients: ClientsFor) -> None:
    """Allowed, allowed by dry run, and denied probes; the purchase probe is a dry run."""
    provider = AwsProvider(clients=aws_clients())
    results = {r.name: r for r in provider.check()}
    assert results["credentials"].ok and "env" in results["credentials"].detail
    assert results["sts:GetCallerIdentity"].detail.startswith("account 111122223333")
    assert results["ec2:DescribeReservedInstances"].detail == "allowed (dry run)"
    assert results["ec2:DescribeReservedInstancesOfferings"].ok
    denied = sorted(name for name, r in results.items() if not r.ok)
    assert denied == ["ce:GetReservationPurchaseRecommendation",
                      "ec2:PurchaseReservedInstancesOffering",
                      "savingsplans:DescribeSavingsPlans"]
    assert results["savingsplans:DescribeSavingsPlans"].detail == "denied (AccessDeniedException)"
    assert results["pricing:GetProducts"].ok


def test_check_without_credentials_says_so_and_calls_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No credentials anywhere in the chain: one failed line, no AWS call."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    def no_client(*_: object) -> object:
        raise AssertionError("no client may be made without credentials")

    provider = AwsProvider(clients=AwsClients(AwsSettings(), client_factory=no_client))
    (result,) = provider.check()
    assert result.name == "credentials" and not result.ok
    assert "standard chain" in result.detail


def test_market_is_one_per_provider_and_learns_the_catalog() -> None:
    """provider.market() is the same market each time; it learns refs and their regions."""
    from aws_factories import ri_ref

    provider = AwsProvider(AwsSettings(home_region="eu-west-1"))
    market = provider.market()
    assert provider.market() is market
    assert market.regions == ("eu-west-1",)
    ref = ri_ref()
    market.know({ref.offering_id: ref})
    assert market.resolve(ref.offering_id) is ref
    assert market.regions == ("us-east-1",)
