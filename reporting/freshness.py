"""Whether a report's data is older than the commitments: ``data_through`` and ``stale``.

Commitments bought or exchanged in a run start at the run's time, which may be
long after the end of the usage or billing data the reports read (the bundled
sample ends on 2024-09-01). A report over that data cannot show what those
commitments cover, save or cost: every report says through when its data runs
(``data_through``), and is ``stale`` — with a warning in words — when that is
before the start of the newest commitment stored for one of its providers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from reporting import repository
from reporting.common import Freshness, Report, SnapshotInfo

FRESHNESS_DEFINITIONS = {
    "data_through": "End (exclusive, UTC) of the usage and billing data the report reads: "
                    "nothing after it is in the figures.",
    "stale": "True when data_through is before the start of the newest stored commitment of "
             "one of the report's providers: that commitment's cover, savings and cost are "
             "not in the figures until newer billing data is ingested.",
    "warnings": "What makes the report stale, in words.",
}


def _moment(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def freshness(session: Session, sources: Sequence[SnapshotInfo],
              providers: Iterable[str] = ()) -> Freshness:
    """The freshness of a report reading ``sources`` (and the commitments of ``providers``).

    Each provider's data end is compared with its own newest commitment; a
    provider with commitments and no data at all is stale too.
    """
    ends = {source.provider: source.end for source in sources}
    names = sorted(set(ends) | set(providers))
    newest = repository.newest_commitments(session, names)
    warnings = []
    for name in names:
        if name not in newest:
            continue
        start, commitment_id = newest[name]
        end = ends.get(name)
        label = f"{commitment_id} " if commitment_id else ""
        if end is None:
            warnings.append(f"{name}: no usage data is reported, while its newest commitment "
                            f"({label}started {_moment(start)}) is stored: ingest its billing "
                            "data.")
        elif end < start:
            warnings.append(f"{name}: the usage data ends {_moment(end)}, before its newest "
                            f"commitment ({label}started {_moment(start)}): that commitment's "
                            "cover, savings and cost are not in these figures; ingest newer "
                            "billing data.")
    through = max(ends.values()) if ends else None
    latest = max((start for start, _ in newest.values()), default=None)
    return Freshness(data_through=through, newest_commitment_start=latest,
                     warnings=tuple(warnings))




def with_freshness(report: Report, session: Session, providers: Iterable[str] = ()) -> Report:
    """``report`` with the freshness of its sources (computed now: the inventory moves on)."""
    return replace(report, freshness=freshness(session, report.sources, providers))


__all__ = ["FRESHNESS_DEFINITIONS", "Freshness", "freshness", "with_freshness"]
