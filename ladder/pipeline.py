"""The end-to-end run: ingest usage, read prices and inventory, plan, store the plan.

This is composition only: each step belongs to its package (providers read,
core stores and bills, :mod:`ladder.planners` forecasts and optimises). Every
step that writes runs inside one transaction, so a failed run stores nothing
partial.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db import periods, repository
from core.db.session import session_scope
from core.domain import Catalog, Commitment, Plan
from core.errors import Conflict, InvalidInput
from core.settings import Settings
from ladder import history
from ladder.planners import PLANNERS, StepReporter
from providers.base import Provider, get_provider
from providers.bills import (
    CLOUD_NAMES,
    PROVIDER_CLOUDS,
    choose_clouds,
    cloud_of_name,
    cloud_rules,
    read_each_cloud,
    rule_columns,
)
from providers.focus import FocusUsage
from providers.focus.commitments import match_commitments, read_bill_commitments, reconcile
from providers.focus.costs import FocusPeriods, read_bill_lines, read_focus_periods
from providers.focus.reduction import DuckLimits, FocusReduction
from providers.prices import PriceSource
from providers.remote import is_remote, staged
from reporting import bill_lines
from reporting import repository as reporting_repository
from reporting.snapshot import refresh_facts


def _no_progress(_label: str) -> AbstractContextManager[object]:
    return nullcontext()


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What an ingest stored (or found already stored)."""

    dataset_id: int
    created: bool
    provider: str
    keys: int
    hours: int
    rows_read: int
    rows_used: int
    start: datetime
    end: datetime
    focus_versions: tuple[str, ...] = ()
    """The FOCUS versions of the files read (``1.2``; ``1.0 (1.0r2)`` with the export's own
    label), each once."""
    covered: tuple[str, ...] = ()
    """What the delivery replaced of the stored history, per billing period: the days its
    rows start on (``2024-07: 07-01..07-31``, :func:`ladder.history.describe`); empty for
    content already stored."""


@dataclass(frozen=True, slots=True)
class OptimizeOutcome:
    """The stored plan and how long each part of the solve took."""

    plan_id: int
    plan: Plan
    dataset_id: int
    build_seconds: float
    solve_seconds: float
    n_variables: int
    n_constraints: int
    skipped_keys: tuple[str, ...]


def content_sha256(files: Sequence[str]) -> str:
    """Hash of the files' contents, in path order: the identity of a dataset."""
    digest = hashlib.sha256()
    for name in sorted(files):
        with Path(name).open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class BillUsage:
    """One cloud's compute usage read from a bill, the provider it is stored under, the
    dataset's identity, and the cloud's rows of the whole bill summed per day."""

    provider: str
    cloud: str
    usage: FocusUsage
    identity: str
    lines: pd.DataFrame
    periods: FocusPeriods | None = None
    """The hours per billing period and cost lines when already reduced (on Spark); None:
    read from the usage's files."""


def read_bill(path: str | Path, provider: str | None, *, limits: DuckLimits | None = None
              ) -> list[BillUsage]:
    """The compute usage of each cloud of the bill at ``path`` that is to be stored.

    With ``provider`` only that provider's cloud is read (``sample`` reads AWS rules); without
    it every cloud of the bill that Ladder has rules for, each under its own name (``aws``,
    ``azure``, ``gcp``), skipping a cloud with no VM usage unless none has any. A dataset's
    identity is its files' content hash, and for a bill of several clouds the hash with the
    cloud's name (each cloud's part is its own dataset).

    The files are loaded into DuckDB once (:class:`~providers.focus.reduction.FocusReduction`,
    bounded by ``limits``): the clouds' row counts, each cloud's hourly usage, cost lines and
    hours per billing period, and the whole bill's daily lines are queries over that load;
    the content hash streams the files' bytes once more.
    """
    with FocusReduction(path, rule_columns(), limits=limits) as reduction:
        found: dict[str, int] = {}
        for name, rows in reduction.providers().items():
            found[cloud_of_name(name)] = found.get(cloud_of_name(name), 0) + rows
        found = dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))
        clouds = choose_clouds(found, provider, source=str(path))
        read = read_each_cloud(clouds, provider,
                               lambda cloud: reduction.usage(cloud_rules(cloud)))
        whole = reduction.bill_lines()
    content = content_sha256(reduction.files)
    bills = []
    for cloud, reduced in read:
        identity = content if len(found) == 1 else \
            hashlib.sha256(f"{content}:{cloud}".encode()).hexdigest()
        bills.append(BillUsage(provider or cloud, cloud, reduced.usage, identity,
                               cloud_lines(whole, provider or cloud), reduced.periods))
    return bills


def read_bill_spark(source: str, provider: str | None, master: str | None = None
                    ) -> list[BillUsage]:
    """:func:`read_bill` reduced on Spark (:func:`providers.spark_job.reduce_bill`); a
    dataset's identity is the hash of its aggregates (the source may be a table, not
    files), with the cloud's name."""
    from providers.spark_job import reduce_bill

    read, whole = reduce_bill(source, provider, master)
    bills = []
    for cloud, result in read:
        lines = cloud_lines(whole, provider or cloud)
        digest = hashlib.sha256(f"spark:{cloud}".encode())
        for frame in (result.usage.hourly, result.costs, lines):
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        bills.append(BillUsage(provider or cloud, cloud, result.usage, digest.hexdigest(),
                               lines, result.periods))
    return bills


def cloud_lines(lines: pd.DataFrame, provider: str) -> pd.DataFrame:
    """The bill lines that belong to the provider's cloud (all of them for a provider tied
    to no cloud Ladder knows)."""
    cloud = PROVIDER_CLOUDS.get(provider, provider)
    if cloud not in CLOUD_NAMES:
        return lines
    names = {n: cloud_of_name(str(n)) for n in lines["provider_name"].unique()}
    return lines[lines["provider_name"].map(names) == cloud].reset_index(drop=True)


def version_labels(usage: FocusUsage) -> tuple[str, ...]:
    """Each FOCUS version of the delivery's files once, as people read it."""
    labels = (v.version if v.declared in (None, v.version) else f"{v.version} ({v.declared})"
              for v in usage.versions.values())
    return tuple(dict.fromkeys(labels))


def store_usage(session: Session, usage: FocusUsage, *, provider: str,
                identity: str | None = None) -> IngestOutcome:
    """Store a read FOCUS delivery unless the same content is already stored (``identity``:
    the dataset's identity, by default its files' content hash); :func:`store_delivery`."""
    return store_delivery(session, usage, provider=provider, identity=identity)[0]


def store_delivery(session: Session, usage: FocusUsage, *, provider: str,
                   identity: str | None = None, lines: pd.DataFrame | None = None,
                   reduced: FocusPeriods | None = None,
                   ) -> tuple[IngestOutcome, FocusUsage]:
    """Store a read FOCUS delivery as the provider's new dataset, merged with the history it
    does not cover (:mod:`ladder.history`: the delivery replaces, in each billing period it
    holds, the days it spans), unless the same content is already stored. ``lines``: the
    delivery's bill lines of the provider's cloud, ``reduced`` its hours per billing period
    and cost lines (each read from its files when omitted). Returns what was stored and the
    dataset's whole usage."""
    sha = identity or content_sha256(usage.files)
    dataset = repository.find_dataset_by_sha(session, sha)
    if dataset is not None and dataset.provider != provider:
        # One content, one provider: storing it again would count the same usage twice.
        raise Conflict(f"this content is already stored as dataset {dataset.id} of provider "
                       f"{dataset.provider!r}, not {provider!r}; a dataset belongs to one "
                       f"provider: ingest it with --provider {dataset.provider}")
    created = dataset is None
    stored = usage
    covered: tuple[str, ...] = ()
    if dataset is None:
        previous = repository.latest_dataset(session, provider)
        if lines is None:
            lines = cloud_lines(read_bill_lines(usage.files), provider)
        # Every product below replaces exactly what the delivery covers, and keeps the rest.
        covers = history.coverage(lines)
        covered = history.describe(covers)
        rules = cloud_rules(PROVIDER_CLOUDS.get(provider, provider))
        # The hours per billing period, and what the hourly usage drops (tags, billed,
        # effective and contracted cost), for reports.
        read = reduced if reduced is not None else read_focus_periods(usage.files, rules)
        stored, by_period = history.merged_usage(session, usage, read.hours, previous, covers,
                                                 source=", ".join(usage.files))
        cost_lines = history.merged_cost_lines(session, read.costs, previous, covers)
        sources = [*(previous.sources if previous is not None else []), *usage.files]
        dataset = repository.add_dataset(
            session, provider=provider, sources=list(dict.fromkeys(sources)), sha256=sha,
            currency=stored.currency, start=stored.start, end=stored.end,
            rows_read=usage.rows_read, rows_used=usage.rows_used,
            keys=stored.keys, hourly=stored.hourly,
        )
        periods.add_period_hours(session, dataset.id, by_period)
        reporting_repository.add_cost_lines(session, dataset.id, cost_lines, provider=provider)
        # Every row of the bill, compute or not, for spend, chargeback and budgets.
        bill_lines.add_bill_lines(session, dataset.id,
                                  history.merged_bill_lines(session, lines, previous, covers))
    outcome = IngestOutcome(dataset.id, created, dataset.provider, len(stored.keys),
                            dataset.hours, dataset.rows_read, dataset.rows_used, dataset.start,
                            dataset.end, version_labels(usage), covered)
    return outcome, stored


def ingest(engine: Engine, path: str | Path, *, provider: str | None = None
           ) -> IngestOutcome:
    """Read, validate and store a FOCUS file or folder in one transaction: the compute usage
    of the provider's cloud, or of the bill's only cloud (:func:`ingest_bill` for a bill of
    several)."""
    outcomes = ingest_bill(engine, path, provider=provider)
    if len(outcomes) != 1:
        raise InvalidInput(f"the bill holds the usage of {len(outcomes)} clouds "
                           f"({', '.join(o.provider for o in outcomes)}): ingest_bill reads "
                           "them all", source=str(path))
    return outcomes[0]


def ingest_bill(engine: Engine, path: str | Path, *, provider: str | None = None,
                reducer: str = "duckdb", spark_master: str | None = None,
                ) -> tuple[IngestOutcome, ...]:
    """Read, validate and store every cloud's compute usage of a bill (:func:`read_bill`),
    all in one transaction: one cloud's bad rows store nothing of the others.

    ``path`` may be a URL of object storage (``s3://bucket/prefix/``, ``gs://``, ``az://``,
    ``abfss://``): it is staged on disk for the read (:mod:`providers.remote`), and
    errors and the dataset's sources name the objects' URLs.

    ``reducer="spark"`` reduces the export on Spark instead (``spark_master``; local mode by
    default): ``path`` is then anything Spark reads — a file or folder, an ``s3a://`` …
    URL, a table of its catalog — and only the aggregates come back to be stored."""
    if reducer == "spark":
        return _store_bills(engine, read_bill_spark(str(path), provider, spark_master))
    if is_remote(path):
        with staged(str(path)) as stage:
            try:
                return _ingest_bill(engine, stage.path, provider, rename=stage.url)
            except InvalidInput as exc:
                raise stage.rename(exc) from None
    return _ingest_bill(engine, path, provider)


def _ingest_bill(engine: Engine, path: str | Path, provider: str | None, *,
                 rename: Callable[[str], str] | None = None) -> tuple[IngestOutcome, ...]:
    """:func:`ingest_bill` of files on disk; ``rename`` maps a file to the name its dataset
    records (a staged file to its URL)."""
    return _store_bills(engine, read_bill(path, provider), rename=rename)


def _store_bills(engine: Engine, bills: Sequence[BillUsage], *,
                 rename: Callable[[str], str] | None = None) -> tuple[IngestOutcome, ...]:
    """Store each cloud's read bill in one transaction (:func:`store_delivery`)."""
    outcomes = []
    with session_scope(engine) as session:
        for bill in bills:
            outcome, stored = store_delivery(session, bill.usage, provider=bill.provider,
                                             identity=bill.identity, lines=bill.lines,
                                             reduced=bill.periods)
            if rename is not None and outcome.created:
                dataset = repository.get_dataset(session, outcome.dataset_id)
                assert dataset is not None
                dataset.sources = [rename(source) for source in dataset.sources]
            if outcome.created:
                # Reports follow the new data at once (with the commitments stored so far).
                refresh_facts(session, bill.provider, dataset_id=outcome.dataset_id,
                              usage=stored.hourly)
            outcomes.append(outcome)
    return tuple(outcomes)


def price_details(provider: object, decision_time: datetime) -> dict[str, object]:
    """The plan-details entry naming the prices the catalog came from (``prices``): kind,
    date and age, today and at the decision time, from a provider that says
    (``price_source()``)."""
    source = getattr(provider, "price_source", None)
    if source is None:
        return {}
    prices: PriceSource = source()
    entry = prices.details(datetime.now(UTC))
    entry["age_days_at_decision"] = prices.age_days(decision_time)
    return {"prices": entry}


def owned_commitments(provider: Provider, bill: BillUsage, catalog: Catalog,
                      decision_time: datetime) -> tuple[list[Commitment], dict[str, object]]:
    """The inventory to plan with: the cloud API's commitments and those the bill shows.

    With no cloud API configured the provider lists none, and the bill's commitments
    (:mod:`providers.focus.commitments`) are the inventory; with one, they are reconciled
    with it. Returns the commitments and the plan-details entry saying where each came
    from and what was left out."""
    api = list(provider.inventory(decision_time))
    rules = cloud_rules(bill.cloud)
    seen = match_commitments(read_bill_commitments(bill.usage.files, rules), catalog,
                             data_end=bill.usage.end)
    merged, differ = reconcile(api, seen)
    details: dict[str, object] = {"from_api": len(api), **seen.details(),
                                  "disagreements": list(differ), "total": len(merged)}
    return list(merged), details


def optimize(
    engine: Engine, settings: Settings, *, provider_name: str | None = None,
    step: StepReporter = _no_progress,
) -> OptimizeOutcome:
    """Ingest the provider's usage, plan with the settings' planner and store the plan."""
    provider = get_provider(provider_name or settings.default_provider)
    with step("Reading prices and inventory"):
        catalog = provider.catalog()
    with step("Reading FOCUS usage"):
        locations = list(provider.usage_paths())
        if len(locations) != 1:
            raise InvalidInput(f"provider {provider.name!r} must name one FOCUS file or folder "
                               f"of usage, not {len(locations)}")
        bill = read_bill(locations[0], provider.name)[0]
        focus = bill.usage
    with session_scope(engine) as session:
        with step("Storing usage, catalog and inventory"):
            stored, focus = store_delivery(session, focus, provider=provider.name,
                                           identity=bill.identity, lines=bill.lines,
                                           reduced=bill.periods)
            latest = repository.latest_dataset(session, provider.name)
            if latest is not None and latest.id != stored.dataset_id:
                # Content stored before and merged into a later dataset since: plan on the
                # whole history, not on that older dataset.
                focus = replace(focus, hourly=repository.load_usage(session, latest.id),
                                start=latest.start, end=latest.end)
                stored = replace(stored, dataset_id=latest.id, start=latest.start,
                                 end=latest.end, hours=latest.hours)
            repository.upsert_catalog(session, provider.name, catalog)
            decision_time = focus.end
            inventory, inventory_details = owned_commitments(provider, bill, catalog,
                                                             decision_time)
            repository.replace_inventory(session, provider.name, inventory)
        # The stored dataset has the same content as the files just read.
        with step("Refreshing the reporting facts"):
            refresh_facts(session, provider.name, dataset_id=stored.dataset_id,
                          usage=focus.hourly)
        planned = PLANNERS[settings.planner](focus.hourly, catalog, inventory,
                                             decision_time=decision_time, settings=settings,
                                             step=step)
        plan_id = repository.add_plan(
            session, provider=provider.name, dataset_id=stored.dataset_id, plan=planned.plan,
            build_seconds=planned.build_seconds, solve_seconds=planned.solve_seconds,
            details={**planned.details, **price_details(provider, decision_time),
                     "inventory": inventory_details},
        )
    return OptimizeOutcome(plan_id, planned.plan, stored.dataset_id, planned.build_seconds,
                           planned.solve_seconds, planned.n_variables, planned.n_constraints,
                           planned.skipped_keys)


__all__ = ["BillUsage", "IngestOutcome", "OptimizeOutcome", "ingest", "ingest_bill", "optimize",
           "read_bill", "store_delivery", "store_usage"]
