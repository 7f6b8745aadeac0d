"""FOCUS exports where they live: object storage (``s3://``, ``gs://``, ``az://``, ``abfss://``).

The clouds write their FOCUS exports into a bucket (AWS Data Exports to S3, Azure Cost
Management exports to a storage account, the GCP billing export to BigQuery, then GCS). A
location there is *staged*: every object under the prefix whose name a FOCUS reader reads
(CSV, CSV.gz, Parquet, and the export's JSON manifests) is downloaded into a temporary
folder that keeps the objects' relative paths, so that the export's own folder layout and
manifest still read as they do on disk; the ordinary reader then checks and reduces it
(every check, the row-numbered errors), and the folder is removed afterwards. Errors and
the dataset's recorded sources name the objects' URLs, never the temporary paths.

Why staging rather than reading over the network row by row: the reader passes over a file
more than once (classification, checks, costs, bill lines), a download once is cheaper than
several remote scans, and it keeps one code path for files on disk and in a bucket.

Credentials are each SDK's standard chain: S3 through the AWS provider's downloader
(:func:`providers.aws.usage.download_objects`, boto3's chain: environment, profile, SSO, the
instance or container role; ``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3`` for an
S3-compatible server); GCS and Azure through fsspec's ``gcsfs`` and ``adlfs`` (the
``ladder[gcs]`` and ``ladder[azure-storage]`` extras), which use Google's application
default credentials and azure-identity's default credential.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from urllib.parse import urlparse

from core.errors import InvalidInput

SCHEMES: Mapping[str, str] = MappingProxyType({
    "s3": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure",
})
"""URL scheme → the storage it names."""

EXTRAS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "gcs": ("gcsfs", "ladder[gcs]"), "azure": ("adlfs", "ladder[azure-storage]"),
})
"""Storage read through fsspec → (its package, the extra that installs it)."""

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".json")
"""Object names staged: FOCUS data files and the exports' manifests."""


def is_remote(location: str | Path) -> bool:
    """Whether ``location`` is a URL of object storage rather than a path on disk."""
    return isinstance(location, str) and urlparse(location).scheme.lower() in SCHEMES


@dataclass(frozen=True, slots=True)
class Staged:
    """A remote location downloaded: the local path to read, and each local file's URL."""

    path: Path
    urls: Mapping[str, str]

    def url(self, local: str) -> str:
        """The object URL a staged file came from (the text itself if it is not one)."""
        return self.urls.get(local, local)

    def rename(self, error: InvalidInput) -> InvalidInput:
        """``error`` with the staged paths in its file and message replaced by their URLs."""
        text = str(error)
        for local, url in sorted(self.urls.items(), key=lambda item: -len(item[0])):
            text = text.replace(local, url)
        error.args = (text,)
        if error.source is not None:
            error.source = self.url(error.source)
        return error


@contextmanager
def staged(location: str) -> Iterator[Staged]:
    """Download the FOCUS files at ``location`` (one object, or every object under a prefix)
    into a temporary folder for as long as the context lasts."""
    parsed = urlparse(location)
    storage = SCHEMES[parsed.scheme.lower()]
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    if not bucket:
        raise InvalidInput(f"{location}: no bucket or container in the URL", source=location)
    folder = Path(tempfile.mkdtemp(prefix="ladder-stage-"))
    try:
        if storage == "s3":
            objects = _s3_download(location, folder)
        else:
            objects = _fsspec_download(location, storage, bucket, prefix, folder)
        if not objects:
            raise InvalidInput(f"no FOCUS objects (.parquet, .csv, .csv.gz) under {location}",
                               source=location)
        single = len(objects) == 1 and not location.endswith("/") \
            and next(iter(objects.values())) == location
        path = next(iter(objects)) if single else folder
        yield Staged(Path(path), MappingProxyType(objects))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wanted(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def _target(folder: Path, prefix: str, key: str) -> Path:
    """Where object ``key`` (under ``prefix``) is staged: its path relative to the prefix, or
    its name when the location is the object itself."""
    relative = key[len(prefix):].lstrip("/") if key.startswith(prefix) and key != prefix \
        else ""
    target = folder.joinpath(*PurePosixPath(relative or PurePosixPath(key).name).parts)
    if folder.resolve() not in target.resolve().parents:
        raise InvalidInput(f"object {key!r} would be staged outside the folder", source=key)
    return target


def _s3_download(location: str, folder: Path) -> dict[str, str]:
    """Stage the S3 objects at ``location`` with the AWS provider's downloader (boto3's
    credential chain, logged and throttle-retried calls); local path → ``s3://`` URL."""
    from providers.aws.errors import AwsProviderError
    from providers.aws.session import AwsClients
    from providers.aws.usage import download_objects

    clients = AwsClients()
    if not clients.has_credentials():
        raise InvalidInput("no AWS credentials to read it: set AWS_PROFILE, the AWS_ACCESS_KEY_ID"
                           " and AWS_SECRET_ACCESS_KEY variables, or run with a role",
                           source=location)
    try:
        return download_objects(clients, location, folder)
    except AwsProviderError as exc:
        raise InvalidInput(f"S3 refused it: {exc}", source=location) from exc


def _fsspec_download(location: str, storage: str, bucket: str, prefix: str,
                     folder: Path) -> dict[str, str]:
    """Stage GCS or Azure objects through fsspec; local path → URL."""
    package, extra = EXTRAS[storage]
    try:
        import fsspec

        filesystem = fsspec.filesystem(urlparse(location).scheme.lower())
    except ImportError as exc:
        raise InvalidInput(f"reading {urlparse(location).scheme}:// needs the {package} "
                           f"package: pip install '{extra}'", source=location) from exc
    root = f"{bucket}/{prefix}".rstrip("/")
    scheme = urlparse(location).scheme.lower()
    staged: dict[str, str] = {}
    try:
        names = [root] if filesystem.isfile(root) else sorted(filesystem.find(root))
        for name in (n for n in names if _wanted(n)):
            key = name[len(bucket) + 1:] if name.startswith(f"{bucket}/") else name
            target = _target(folder, prefix, key)
            target.parent.mkdir(parents=True, exist_ok=True)
            filesystem.get(name, str(target))
            staged[str(target)] = f"{scheme}://{bucket}/{key}"
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read it: {exc}", source=location) from exc
    return staged


__all__ = ["SCHEMES", "Staged", "is_remote", "staged"]
