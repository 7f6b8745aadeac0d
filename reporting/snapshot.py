"""Reporting snapshots: build one (billing engine → daily facts → tables), and read them fast.

``refresh_facts`` bills a provider's dataset with its stored commitments and
writes a new snapshot; call it after ingesting usage or changing the inventory
(``ladder.pipeline`` does, after storing both). Reports read the newest
snapshot of each provider through ``load_report_data``, which keeps the
snapshot's frames in memory keyed on its random ``token``: snapshots never
change once written, so the cache cannot go stale, and a request costs one
small query plus pandas over daily rows (no re-billing of hour × key cells).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core.db import repository as core_repository
from core.db.models import DatasetRow
from core.db.reporting_models import (
    ReportAllocationRow,
    ReportCommitmentDayRow,
    ReportCommitmentRow,
    ReportKeyDayRow,
    ReportSnapshotRow,
)
from core.domain import Commitment
from core.errors import InvalidInput, NotFound
from reporting import repository
from reporting.common import SnapshotInfo
from reporting.definitions import UNTAGGED
from reporting.facts import compute_facts

T = TypeVar("T")

CACHE_SIZE = 8
"""Snapshots (combinations of providers) whose frames stay in memory."""

RESULTS_KEPT = 256
"""Report results kept per cached snapshot."""

SNAPSHOTS_KEPT = 3
"""Snapshots kept per provider by ``refresh_facts``; older ones are deleted."""


def inventory_sha256(commitments: Sequence[Commitment]) -> str:
    """Digest of a set of commitments (order-independent): what a snapshot billed."""
    rows = sorted(
        json.dumps([c.commitment_id, c.offering.offering_id, c.quantity, c.start.isoformat(),
                    c.offering.term_hours, c.offering.upfront, c.offering.hourly])
        for c in commitments
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def snapshot_info(row: ReportSnapshotRow) -> SnapshotInfo:
    """A stored snapshot's provenance, as reports carry it."""
    return SnapshotInfo(
        snapshot_id=row.id, token=row.token, provider=row.provider, dataset_id=row.dataset_id,
        currency=row.currency, start=row.start, end=row.end, created_at=row.created_at,
        inventory_sha256=row.inventory_sha256,
    )


def _table(model: type[object]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


def refresh_facts(
    session: Session,
    provider: str,
    *,
    dataset_id: int | None = None,
    commitments: Sequence[Commitment] | None = None,
    rates: Mapping[str, float] | None = None,
    usage: pd.DataFrame | None = None,
    keep: int = SNAPSHOTS_KEPT,
) -> SnapshotInfo:
    """Bill a dataset with the provider's commitments and store the daily facts as a snapshot.

    Defaults: the provider's latest dataset, its stored commitments
    (``core.db.repository.list_commitments``) and its catalog's on-demand
    rates. ``usage`` may pass the dataset's hourly frame when the caller has it
    (it is otherwise loaded). Flushes, never commits; older snapshots beyond
    ``keep`` are deleted.
    """
    began = time.perf_counter()
    dataset = repository.dataset_for(session, provider, dataset_id)
    if usage is None:
        usage = core_repository.load_usage(session, dataset.id)
    if commitments is None:
        commitments = core_repository.list_commitments(session, provider)
    if rates is None:
        catalog = core_repository.load_catalog(session, provider)
        rates = catalog.on_demand_rates() if catalog is not None else {}
    billed = [c for c in commitments if c.start < dataset.end and c.end > dataset.start]
    facts = compute_facts(usage, billed, rates=rates, start=dataset.start, end=dataset.end)

    snapshot = ReportSnapshotRow(
        token=uuid.uuid4().hex, provider=provider, dataset_id=dataset.id,
        currency=dataset.currency, start=dataset.start, end=dataset.end,
        inventory_sha256=inventory_sha256(commitments), build_seconds=0.0,
    )
    session.add(snapshot)
    session.flush()
    sid = snapshot.id
    repository.bulk_insert(session, _table(ReportCommitmentRow), pd.DataFrame([
        {"snapshot_id": sid, "position": position, "commitment_id": c.commitment_id,
         "offering_id": c.offering.offering_id, "shape": str(c.offering.shape),
         "kind": c.offering.kind, "payment_option": str(c.offering.payment_option),
         "term_hours": c.offering.term_hours, "quantity": c.quantity,
         "upfront": c.offering.upfront, "hourly": c.offering.hourly,
         "start_at": c.start, "end_at": c.end}
        for position, c in enumerate(facts.commitments)
    ]))
    key_ids = repository.usage_key_ids(session, sorted(usage["usage_key"].unique()))
    key_days = facts.key_days.assign(usage_key_id=facts.key_days["usage_key"].map(key_ids))
    repository.bulk_insert(session, _table(ReportKeyDayRow), key_days.drop(
        columns="usage_key").assign(snapshot_id=sid))
    repository.bulk_insert(session, _table(ReportCommitmentDayRow),
                           facts.commitment_days.assign(snapshot_id=sid))
    allocations = facts.allocations.assign(
        usage_key_id=facts.allocations["usage_key"].map(key_ids))
    repository.bulk_insert(session, _table(ReportAllocationRow),
                           allocations.drop(columns="usage_key").assign(snapshot_id=sid))
    snapshot.build_seconds = time.perf_counter() - began
    session.flush()
    repository.delete_snapshots(session, provider, keep=max(keep, 1))
    return snapshot_info(snapshot)


@dataclass(frozen=True, slots=True)
class SnapshotStatus:
    """Whether a provider's newest snapshot still matches its latest dataset and inventory."""

    snapshot: SnapshotInfo
    latest_dataset_id: int | None
    inventory_changed: bool

    @property
    def stale(self) -> bool:
        """True when a newer dataset or a different inventory exists: call refresh_facts."""
        return (self.latest_dataset_id != self.snapshot.dataset_id) or self.inventory_changed


def snapshot_status(session: Session, provider: str | None = None) -> list[SnapshotStatus]:
    """The newest snapshot of each provider, and whether it is stale."""
    statuses = []
    for row in repository.latest_snapshots(session, provider):
        latest = session.scalar(
            select(DatasetRow.id).where(DatasetRow.provider == row.provider)
            .order_by(DatasetRow.ingested_at.desc(), DatasetRow.id.desc()).limit(1))
        digest = inventory_sha256(core_repository.list_commitments(session, row.provider))
        statuses.append(SnapshotStatus(snapshot_info(row), latest, digest != row.inventory_sha256))
    return statuses


# --- reading ----------------------------------------------------------------------------


def _days(values: pd.Series) -> np.ndarray:
    return np.asarray(pd.to_datetime(values).to_numpy(), dtype="datetime64[D]")


@dataclass(eq=False)
class ReportData:
    """The newest snapshots of one or more providers, as frames ready for pandas.

    ``key_days`` and ``commitment_days`` carry the key's and commitment's
    attributes (provider, account, service, region, usage_key; commitment
    label) as categoricals; ``day`` is ``datetime64[D]``. Commitments are
    numbered ``ref`` across snapshots. Allocations, cost lines and tag shares
    load on first use.
    """

    sources: tuple[SnapshotInfo, ...]
    keys: pd.DataFrame
    key_days: pd.DataFrame
    commitments: pd.DataFrame
    commitment_days: pd.DataFrame
    _lazy: dict[str, pd.DataFrame] = field(default_factory=dict)
    _results: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    _cube: KeyCube | None = None
    _focus: Mapping[str, np.ndarray] | None = None
    _tag_cubes: dict[str, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def currency(self) -> str:
        """The one currency of the data (InvalidInput when providers bill in several)."""
        currencies = {s.currency for s in self.sources}
        if len(currencies) > 1:
            raise InvalidInput(
                f"providers bill in several currencies ({', '.join(sorted(currencies))}): "
                "ask for one provider", column="provider")
        return currencies.pop() if currencies else "USD"

    @property
    def window(self) -> tuple[datetime, datetime]:
        """First hour and end hour of the data."""
        return min(s.start for s in self.sources), max(s.end for s in self.sources)

    def _once(self, name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        with self._lock:
            if name not in self._lazy:
                self._lazy[name] = build()
            return self._lazy[name]

    def allocations(self, session: Session) -> pd.DataFrame:
        """(day, key, commitment) rows with ``ref`` and the key's attributes."""
        def build() -> pd.DataFrame:
            frames = []
            for source in self.sources:
                frame = repository.load_allocations(session, source.snapshot_id)
                refs = self.commitments[self.commitments["snapshot_id"] == source.snapshot_id]
                frame["ref"] = frame["position"].map(dict(zip(refs["position"], refs["ref"],
                                                              strict=True)))
                frames.append(frame)
            frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            if frame.empty:
                frame = pd.DataFrame(columns=["day", "usage_key_id", "position",
                                              "covered_units", "covered_on_demand",
                                              "used_cost", "unused_cost", "ref"])
            frame["day"] = _days(frame["day"])
            return self._with_key_attributes(frame)
        return self._once("allocations", build)

    def cost_lines(self, session: Session) -> pd.DataFrame:
        """The FOCUS cost lines of the snapshots' datasets, with the key's attributes."""
        def build() -> pd.DataFrame:
            frames = [repository.load_cost_lines(session, s.dataset_id) for s in self.sources]
            frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            frame["day"] = _days(frame["day"]) if len(frame) else frame.get("day")
            return self._with_key_attributes(frame)
        return self._once("cost_lines", build)

    def tag_shares(self, session: Session, tag_key: str) -> pd.DataFrame:
        """Share of each (day, usage key) per value of ``tag_key`` (``definitions.TAG_RULE``).

        Columns ``day``, ``usage_key_id``, ``tag``, ``share``; the shares of a
        key-day add to 1. Key-days of ``key_days`` without cost lines are
        ``(untagged)`` with share 1.
        """
        def build() -> pd.DataFrame:
            lines = self.cost_lines(session)
            if lines.empty:
                values = pd.DataFrame({"day": self.key_days["day"],
                                       "usage_key_id": self.key_days["usage_key_id"],
                                       "tag": UNTAGGED, "share": 1.0})
                return values.drop_duplicates(["day", "usage_key_id"])
            parsed = {raw: json.loads(raw).get(tag_key, UNTAGGED) or UNTAGGED
                      for raw in lines["tags"].unique()}
            frame = lines.assign(tag=lines["tags"].map(parsed))
            weight = frame["list_cost"].where(frame["list_cost"] > 0, 0.0)
            frame = frame.assign(weight=weight, units_w=frame["units"].clip(lower=0.0))
            grouped = (frame.groupby(["day", "usage_key_id", "tag"], observed=True)
                       [["weight", "units_w"]].sum().reset_index())
            totals = grouped.groupby(["day", "usage_key_id"])[["weight", "units_w"]].transform(
                "sum")
            count = grouped.groupby(["day", "usage_key_id"])["tag"].transform("count")
            share = np.where(totals["weight"] > 0, grouped["weight"] / totals["weight"].where(
                totals["weight"] > 0, 1.0),
                np.where(totals["units_w"] > 0, grouped["units_w"] / totals["units_w"].where(
                    totals["units_w"] > 0, 1.0), 1.0 / count))
            shares = grouped[["day", "usage_key_id", "tag"]].assign(share=share)
            known = shares[["day", "usage_key_id"]].drop_duplicates()
            bare = self.key_days[["day", "usage_key_id"]].drop_duplicates().merge(
                known, how="left", indicator=True)
            bare = bare[bare["_merge"] == "left_only"].drop(columns="_merge")
            return pd.concat([shares, bare.assign(tag=UNTAGGED, share=1.0)],
                             ignore_index=True)
        return self._once(f"tag:{tag_key}", build)

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """The result of ``build`` for ``key``, computed once per snapshot (LRU of 256).

        Snapshots never change, so a report over them is computed once per set of
        parameters; reports hand out copies of their frames.
        """
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return cast(T, self._results[key])
        value = build()
        with self._lock:
            self._results[key] = value
            while len(self._results) > RESULTS_KEPT:
                self._results.popitem(last=False)
        return value

    def cube(self) -> KeyCube:
        """The key-days as dense (day × key) arrays, built once: what fast reports sum."""
        with self._lock:
            if self._cube is None:
                self._cube = _build_cube(self)
            return self._cube

    def focus_cube(self, session: Session) -> Mapping[str, np.ndarray]:
        """FOCUS cost-line sums as (day × key) arrays aligned with ``cube()`` (``FOCUS_FIGURES``).

        ``focus_*_known`` count the lines that carried the cost, so that a sum of
        nothing known reads as unknown rather than 0.
        """
        with self._lock:
            if self._focus is None:
                self._focus = _build_focus(self, session)
            return self._focus

    def tag_cube(self, session: Session, tag_key: str) -> tuple[tuple[str, ...], np.ndarray]:
        """Tag values of ``tag_key`` and their (day × key × value) shares (``TAG_RULE``)."""
        with self._lock:
            if tag_key not in self._tag_cubes:
                self._tag_cubes[tag_key] = _build_tag_cube(self, session, tag_key)
            return self._tag_cubes[tag_key]

    def _with_key_attributes(self, frame: pd.DataFrame) -> pd.DataFrame:
        if "usage_key_id" not in frame.columns:
            return frame
        attributes = self.keys.set_index("usage_key_id")
        for column in ("usage_key", "provider", "account", "service", "region"):
            frame[column] = frame["usage_key_id"].map(attributes[column]).astype("category")
        return frame


KEY_FIGURES = ("units", "on_demand_equivalent", "covered_on_demand", "on_demand_cost",
               "commitment_used_cost", "commitment_unused_cost")
"""The figures of a key-day, as stored in ``report_key_days``."""


@dataclass(frozen=True, eq=False)
class KeyCube:
    """Key-day figures as dense arrays: ``values[figure][d, k]`` for ``days[d]``, key ``k``.

    ``keys`` holds the key attributes in column order (``usage_key_id``,
    ``usage_key``, provider, account, service, region).
    """

    days: np.ndarray
    keys: pd.DataFrame
    values: Mapping[str, np.ndarray]
    hours: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Hours of data in each day of ``days``."""
    _attributes: dict[str, np.ndarray] = field(default_factory=dict)
    _groupings: dict[Hashable, tuple[np.ndarray, np.ndarray | None, np.ndarray]] = field(
        default_factory=dict)

    def day_index(self, day: np.datetime64) -> int:
        """Position of ``day`` in ``days`` (clipped to the cube's range)."""
        return int(np.clip(np.searchsorted(self.days, day), 0, len(self.days)))

    def attribute(self, name: str) -> np.ndarray:
        """The keys' ``name`` (provider, account, service, region, usage_key) as an object array."""
        found = self._attributes.get(name)
        if found is None:
            found = self._attributes[name] = self.keys[name].to_numpy(dtype=object)
        return found

    def scope_mask(self, provider: str | None = None, account: str | None = None,
                   service: str | None = None, usage_key: str | None = None) -> np.ndarray:
        """Which keys (columns) a scope selects."""
        mask = np.ones(len(self.keys), dtype=bool)
        for name, value in (("provider", provider), ("account", account),
                            ("service", service), ("usage_key", usage_key)):
            if value is not None:
                mask &= self.attribute(name) == value
        return mask

    def grouping(self, dimension: str, mask: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """How the keys of ``mask`` group by ``dimension`` (``none`` or a key attribute).

        ``(labels, order, edges)``: the groups' values, sorted; the selected keys'
        columns ordered by group (stable), None when they already are; where each
        group's columns start. Cached per (dimension, mask).
        """
        key = (dimension, mask.tobytes())
        found = self._groupings.get(key)
        if found is not None:
            return found
        count = int(mask.sum())
        if count == 0:
            labels = np.zeros(0, dtype=object)
            order = edges = np.zeros(0, dtype=np.int64)
        elif dimension == "none":
            labels = np.array(["all"], dtype=object)
            order, edges = np.arange(count), np.zeros(1, dtype=np.int64)
        else:
            codes, uniques = pd.factorize(self.keys[dimension][mask].astype(object), sort=True)
            labels = np.asarray(uniques, dtype=object)
            order = np.argsort(codes, kind="stable")
            edges = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        found = self._groupings[key] = (
            labels, None if np.array_equal(order, np.arange(count)) else order, edges)
        return found


def _build_cube(data: ReportData) -> KeyCube:
    start, end = data.window
    first = np.datetime64(start.date(), "D")
    last = np.datetime64((end - timedelta(microseconds=1)).date(), "D")
    days = np.arange(first, last + np.timedelta64(1, "D"))
    keys = data.keys.sort_values("usage_key_id", kind="stable").reset_index(drop=True)
    position = pd.Series(np.arange(len(keys)), index=keys["usage_key_id"].to_numpy())
    rows = data.key_days
    d = ((rows["day"].to_numpy().astype("datetime64[D]") - first).astype(np.int64))
    k = position.reindex(rows["usage_key_id"].to_numpy()).to_numpy()
    values = {}
    for figure in KEY_FIGURES:
        dense = np.zeros((len(days), len(keys)))
        np.add.at(dense, (d, k), rows[figure].to_numpy(dtype=np.float64))
        dense.flags.writeable = False  # reports sum views of it
        values[figure] = dense
    # Hours of data per day: the data's window may start or end within a day.
    starts = days.astype("datetime64[h]")
    first_hour = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "h")
    end_hour = np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "h")
    hours = (np.minimum(starts + np.timedelta64(24, "h"), end_hour)
             - np.maximum(starts, first_hour)).astype(np.int64).clip(min=0)
    return KeyCube(days=days, keys=keys, values=MappingProxyType(values), hours=hours)


FOCUS_FIGURES = ("focus_billed_cost", "focus_contracted_cost", "focus_effective_cost",
                 "focus_billed_known", "focus_contracted_known", "focus_effective_known")
"""FOCUS sums kept per key-day (``*_known``: lines carrying the cost)."""


def _build_focus(data: ReportData, session: Session) -> Mapping[str, np.ndarray]:
    cube = data.cube()
    shape = (len(cube.days), len(cube.keys))
    values = {name: np.zeros(shape) for name in FOCUS_FIGURES}
    position = pd.Series(np.arange(len(cube.keys)), index=cube.keys["usage_key_id"].to_numpy())
    for source in data.sources:
        sums = repository.load_focus_sums(session, source.dataset_id)
        if sums.empty:
            continue
        d = (_days(sums["day"]) - cube.days[0]).astype(np.int64)
        k = position.reindex(sums["usage_key_id"].to_numpy()).to_numpy()
        kept = (d >= 0) & (d < shape[0]) & ~np.isnan(k)
        at = (d[kept], k[kept].astype(np.int64))
        for name in ("billed_cost", "contracted_cost", "effective_cost", "billed_known",
                     "contracted_known", "effective_known"):
            target = f"focus_{name}"
            np.add.at(values[target], at, np.nan_to_num(sums[name].to_numpy()[kept]))
    for array in values.values():
        array.flags.writeable = False  # reports sum views of it
    return MappingProxyType(values)


def _build_tag_cube(data: ReportData, session: Session,
                    tag_key: str) -> tuple[tuple[str, ...], np.ndarray]:
    cube = data.cube()
    shares = data.tag_shares(session, tag_key)
    tags = tuple(sorted(shares["tag"].unique()))
    position = pd.Series(np.arange(len(cube.keys)), index=cube.keys["usage_key_id"].to_numpy())
    d = (shares["day"].to_numpy().astype("datetime64[D]") - cube.days[0]).astype(np.int64)
    k = position.reindex(shares["usage_key_id"].to_numpy()).to_numpy()
    t = pd.Index(tags).get_indexer(shares["tag"])
    kept = (d >= 0) & (d < len(cube.days)) & ~np.isnan(k)
    dense = np.zeros((len(cube.days), len(cube.keys), len(tags)))
    np.add.at(dense, (d[kept], k[kept].astype(np.int64), t[kept]),
              shares["share"].to_numpy(dtype=np.float64)[kept])
    if UNTAGGED not in tags:
        tags = (*tags, UNTAGGED)
        dense = np.concatenate([dense, np.zeros((*dense.shape[:2], 1))], axis=2)
    # Key-days the shares do not cover are untagged as a whole.
    missing = dense.sum(axis=2) == 0
    dense[missing, tags.index(UNTAGGED)] = 1.0
    return tags, dense


def _load(session: Session, rows: Sequence[ReportSnapshotRow]) -> ReportData:
    sources = tuple(snapshot_info(row) for row in rows)
    key_days, commitment_days, commitments = [], [], []
    ref = 0
    for source in sources:
        frames = repository.load_snapshot_frames(session, source.snapshot_id)
        refs = frames["commitments"].assign(snapshot_id=source.snapshot_id,
                                            provider=source.provider)
        refs["ref"] = np.arange(ref, ref + len(refs))
        ref += len(refs)
        by_position = dict(zip(refs["position"], refs["ref"], strict=True))
        commitments.append(refs)
        key_days.append(frames["key_days"].assign(source=source.provider))
        commitment_days.append(frames["commitment_days"].assign(
            ref=frames["commitment_days"]["position"].map(by_position),
            provider=source.provider))
    key_frame = pd.concat(key_days, ignore_index=True)
    key_frame["day"] = _days(key_frame["day"])
    keys = repository.load_keys(session, key_frame["usage_key_id"].unique().tolist())
    # "provider" is Ladder's provider (sample, aws, …) whose data it is, not the key's prefix.
    owner = key_frame.drop_duplicates("usage_key_id").set_index("usage_key_id")["source"]
    keys["provider"] = keys["usage_key_id"].map(owner)
    key_frame = key_frame.drop(columns="source")
    commitment_frame = pd.concat(commitments, ignore_index=True)
    # What was paid upfront: the list upfront, or an exchange's true-up for what it received.
    paid = repository.exchange_cash(session)
    commitment_frame["upfront_cash"] = [
        paid.get((provider, cid), quantity * upfront) if cid else quantity * upfront
        for provider, cid, quantity, upfront in zip(
            commitment_frame["provider"], commitment_frame["commitment_id"],
            commitment_frame["quantity"], commitment_frame["upfront"], strict=True)
    ]
    commitment_frame["label"] = [
        cid if cid else f"{offering}@{start:%Y-%m-%dT%H}"
        for cid, offering, start in zip(commitment_frame["commitment_id"],
                                        commitment_frame["offering_id"],
                                        pd.to_datetime(commitment_frame["start_at"], utc=True),
                                        strict=True)
    ]
    commitment_days_frame = pd.concat(commitment_days, ignore_index=True)
    commitment_days_frame["day"] = _days(commitment_days_frame["day"])
    commitment_days_frame["label"] = commitment_days_frame["ref"].map(
        commitment_frame.set_index("ref")["label"]).astype("category")
    data = ReportData(sources=sources, keys=keys, key_days=key_frame,
                      commitments=commitment_frame, commitment_days=commitment_days_frame)
    data._with_key_attributes(data.key_days)
    return data


_CACHE: OrderedDict[tuple[str, ...], ReportData] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_LOAD_LOCKS: dict[tuple[str, ...], threading.Lock] = {}


def load_report_data(session: Session, provider: str | None = None) -> ReportData:
    """The newest snapshot of each provider (or of ``provider``), from memory when cached.

    Raises NotFound when there is no snapshot: ingest usage and call ``refresh_facts``
    (``ladder run`` does both).
    """
    newest = repository.latest_snapshot_tokens(session, provider)
    if not newest:
        which = f"provider {provider!r}" if provider else "any provider"
        raise NotFound(f"no reporting data for {which}: ingest usage and refresh the "
                       "reporting facts (ladder run does both)")
    tokens = tuple(token for _, token in newest)
    with _CACHE_LOCK:
        if tokens in _CACHE:
            _CACHE.move_to_end(tokens)
            return _CACHE[tokens]
        load_lock = _LOAD_LOCKS.setdefault(tokens, threading.Lock())
    # Concurrent first requests for the same snapshots load it once.
    with load_lock:
        with _CACHE_LOCK:
            if tokens in _CACHE:
                return _CACHE[tokens]
        data = _load(session, repository.snapshots_by_id(session, [i for i, _ in newest]))
        with _CACHE_LOCK:
            _CACHE[tokens] = data
            _LOAD_LOCKS.pop(tokens, None)
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return data


def clear_cache() -> None:
    """Forget every cached snapshot (tests, or to free memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()


__all__ = [
    "CACHE_SIZE",
    "ReportData",
    "SnapshotStatus",
    "clear_cache",
    "inventory_sha256",
    "load_report_data",
    "refresh_facts",
    "snapshot_info",
    "snapshot_status",
]
