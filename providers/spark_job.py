"""The FOCUS reduction as a Spark job: ``python -m providers.spark_job SOURCE OUT``.

Runs :mod:`providers.focus.spark` on a Spark session (``--master``, or the one
``spark-submit`` gives) and writes the aggregates — hourly usage per key, the keys, the daily
cost lines and bill lines — as Parquet under ``OUT`` with a ``summary.json``. It lives beside
``bills.py`` because it picks a cloud's rules, which ``providers.focus`` may not import.

    JOB=$(python -c 'import providers.spark_job as job; print(job.__file__)')
    spark-submit --master yarn "$JOB" focus.billing_export ./aggregate --partitions 200

``OUT`` is a folder on the driver: only the aggregates come back from the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from core.errors import InvalidInput
from providers.bills import choose_clouds, cloud_of_name, cloud_rules, read_each_cloud
from providers.focus.spark import SparkReduction, SparkUsage, spark_session, write_aggregate


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m providers.spark_job SOURCE OUT`` (or the same through ``spark-submit``):
    reduce a FOCUS export on Spark and write the aggregates (:func:`write_aggregate`)."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m providers.spark_job",
                                     description=main.__doc__)
    parser.add_argument("source", help="FOCUS file, folder, URL (s3a://, abfss://, gs://) "
                                       "or table name of the session's catalog")
    parser.add_argument("out", type=Path, help="folder (on the driver) to write the aggregates to")
    parser.add_argument("--cloud", default="aws", choices=("aws", "azure", "gcp", "oci"),
                        help="whose compute usage rules to apply (default aws)")
    parser.add_argument("--master", default=None,
                        help="Spark master URL (default: spark-submit's, else local[2])")
    parser.add_argument("--partitions", type=int, default=4,
                        help="spark.sql.shuffle.partitions (raise it on a cluster)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    session = spark_session(args.master, partitions=args.partitions)
    reduction = SparkReduction(session, args.source)
    try:
        result = reduction.usage(cloud_rules(args.cloud))
        lines = reduction.bill_lines()
    except InvalidInput as exc:
        print(f"error: {exc}")
        return 2
    finally:
        reduction.close()
    written = write_aggregate(result, lines, args.out)
    usage = result.usage
    print(f"{usage.rows_used:,} of {usage.rows_read:,} rows were compute usage; "
          f"{len(usage.keys)} usage keys, {usage.start:%Y-%m-%d %H:%M} to "
          f"{usage.end:%Y-%m-%d %H:%M} UTC; reduced on Spark in "
          f"{time.perf_counter() - started:.1f} s; wrote {', '.join(str(p) for p in written)}")
    return 0


def reduce_bill(source: str, provider: str | None, master: str | None = None
                ) -> tuple[list[tuple[str, SparkUsage]], pd.DataFrame]:
    """Each cloud's reduction of the export ``source`` on Spark, and the whole bill's daily
    lines: the clouds ``read_bill`` reads (``choose_clouds``: the provider's, else every cloud
    of the bill Ladder has rules for, skipping one without VM usage unless none has any)."""
    reduction = SparkReduction(spark_session(master), source)
    try:
        found: dict[str, int] = {}
        for name, rows in reduction.providers().items():
            cloud = cloud_of_name(name)
            found[cloud] = found.get(cloud, 0) + rows
        clouds = choose_clouds(found, provider, source=source)
        read = read_each_cloud(clouds, provider,
                               lambda cloud: reduction.usage(cloud_rules(cloud)))
        return read, reduction.bill_lines()
    finally:
        reduction.close()


if __name__ == "__main__":
    raise SystemExit(main())
