"""Business metrics as the API sees them: ``reporting.unit_cost``'s, audited when stored.
Nothing here commits."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.keys.service import Caller
from api.metrics.schemas import MetricsCreate, MetricSeriesRead, MetricsStored
from core.errors import Conflict, InvalidInput
from executor import audit
from reporting.unit_cost import list_metrics, metric_point, store_metrics


def store(session: Session, body: MetricsCreate, caller: Caller) -> MetricsStored:
    """Validate every point (InvalidInput naming the first bad one; Conflict for a metric,
    scope and day given twice) and store them all."""
    points = []
    for index, point in enumerate(body.points):
        try:
            points.append(metric_point(point.date, point.metric, point.value, point.scope))
        except ValueError as exc:
            column, _, problem = str(exc).partition(": ")
            raise InvalidInput(f"points[{index}].{column}: {problem}",
                               column=f"points[{index}].{column}") from None
    seen: dict[tuple[str, str, object], int] = {}
    for index, found in enumerate(points):
        key = (found.metric, found.scope, found.day)
        if key in seen:
            raise Conflict(f"points[{index}] gives metric {found.metric!r}, scope "
                           f"{found.scope!r} on {found.day} again (points[{seen[key]}]): one "
                           "value per metric, scope and day; nothing was stored")
        seen[key] = index
    stored = store_metrics(session, points, source="api")
    audit.lock_chain(session)
    audit.append(session, actor=caller.name, event="metrics.store", subject="business_metrics",
                 reason=f"{stored} metric values",
                 data={"metrics": sorted({p.metric for p in points}), "values": stored})
    return MetricsStored(stored=stored)


def series(session: Session) -> list[MetricSeriesRead]:
    """Every stored metric and scope."""
    return [MetricSeriesRead.model_validate(s.to_dict()) for s in list_metrics(session)]
