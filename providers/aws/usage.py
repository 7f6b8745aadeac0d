"""Where the AWS FOCUS export is: a local file or folder, or objects under an S3 prefix.

AWS Data Exports writes FOCUS 1.x as Parquet or gzipped CSV under
``s3://bucket/prefix/<export>/data/BILLING_PERIOD=YYYY-MM/``. The objects under the
prefix are downloaded (listing with ``list_objects_v2``, each object with
``get_object``, both logged through :class:`~providers.aws.session.AwsClients`)
into a local folder that :func:`providers.focus.read_focus` reads with DuckDB.
An object already downloaded with the same size and ETag is not fetched again. The one S3
downloader: ``ladder ingest s3://…`` (:mod:`providers.remote`) stages through it too.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path, PurePosixPath

from core.errors import InvalidInput
from providers.aws.session import AwsClients

log = logging.getLogger("ladder.providers.aws")

FOCUS_SUFFIXES = (".parquet", ".csv", ".csv.gz")
_MANIFEST = ".ladder-s3-objects.json"
_CHUNK = 1 << 20


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix)."""
    if not uri.startswith("s3://"):
        raise InvalidInput(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise InvalidInput(f"{uri!r} names no bucket")
    return bucket, prefix


def download_objects(clients: AwsClients, uri: str, target: Path) -> dict[str, str]:
    """Download the FOCUS objects under an S3 prefix (and the export's JSON manifests beside
    them) into ``target``, keeping their paths below the prefix; return each local file's
    ``s3://`` URL. A prefix without a trailing slash that is no object itself names a
    folder (``exports/focus`` does not take ``exports/focus-old/…``)."""
    bucket, prefix = parse_s3_uri(uri)
    target.mkdir(parents=True, exist_ok=True)
    manifest_path = target / _MANIFEST
    manifest: dict[str, str] = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    )
    items = [item for page in clients.pages("s3", "list_objects_v2", Bucket=bucket,
                                             Prefix=prefix)
             for item in page.get("Contents", [])
             if str(item["Key"]).lower().endswith((*FOCUS_SUFFIXES, ".json"))]
    if prefix and not prefix.endswith("/") and all(i["Key"] != prefix for i in items):
        items = [i for i in items if str(i["Key"]).startswith(prefix + "/")]
    staged: dict[str, str] = {}
    for item in items:
        key = str(item["Key"])
        relative = PurePosixPath(key[len(prefix):].lstrip("/") or PurePosixPath(key).name)
        if ".." in relative.parts:
            raise InvalidInput(f"object key {key!r} escapes the download folder")
        local = target.joinpath(*relative.parts)
        stamp = f"{item.get('Size')}:{item.get('ETag')}"
        staged[str(local)] = f"s3://{bucket}/{key}"
        if manifest.get(key) == stamp and local.is_file():
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        body = clients.call("s3", "get_object", Bucket=bucket, Key=key)["Body"]
        partial = local.with_name("." + local.name + ".part")
        with partial.open("wb") as handle:
            while chunk := body.read(_CHUNK):
                handle.write(chunk)
        partial.replace(local)
        manifest[key] = stamp
    count = sum(1 for url in staged.values() if url.lower().endswith(FOCUS_SUFFIXES))
    if count == 0:
        raise InvalidInput(f"no FOCUS objects ({', '.join(FOCUS_SUFFIXES)}) under {uri}",
                           source=uri)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    log.info("aws usage: %d FOCUS objects from %s in %s", count, uri, target)
    return staged


def download_prefix(clients: AwsClients, uri: str, target: Path) -> Path:
    """Download the FOCUS objects under an S3 prefix into ``target``; return ``target``."""
    download_objects(clients, uri, target)
    return target


def usage_location(clients: AwsClients, location: str | None, cache_dir: Path | None) -> Path:
    """The local FOCUS file or folder for a configured location (downloading S3 first)."""
    if not location:
        raise InvalidInput("no AWS FOCUS export configured: set LADDER_AWS_USAGE to a folder, "
                           "a file or an s3://bucket/prefix of AWS Data Exports")
    if location.startswith("s3://"):
        target = cache_dir or Path(tempfile.mkdtemp(prefix="ladder-aws-usage-"))
        return download_prefix(clients, location, target)
    path = Path(location).expanduser()
    if not path.exists():
        raise InvalidInput("no such file or folder", source=str(path))
    return path
