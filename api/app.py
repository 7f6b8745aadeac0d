"""The FastAPI application: ``create_app(settings)`` builds it, ``ladder serve`` serves it.

Run it alone with ``uvicorn --factory api.app:create_app`` (settings from the
``LADDER_*`` environment). Everything under ``/v1`` needs an API key; ``/docs``,
``/openapi.json`` and ``/healthz`` do not. The dashboard (``dashboard/``) serves its
pages at ``/`` on the same app, signed in with an API key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import reporting
from api.audit.routes import router as audit_router
from api.budgets.routes import router as budgets_router
from api.commitments.routes import router as commitments_router
from api.deps import Engines
from api.errors import PROBLEM_RESPONSES, FieldProblem, Problem, install_error_handlers
from api.keys.routes import router as keys_router
from api.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from api.metrics.routes import router as metrics_router
from api.params import single_valued_query
from api.plans.routes import router as plans_router
from api.policy.routes import router as policy_router
from api.redirects import TrailingSlashRedirect
from api.reports.finance_routes import router as finance_reports_router
from api.reports.routes import router as reports_router
from api.runs.routes import router as runs_router
from api.runs.service import RunLauncher
from api.spend_budgets.routes import router as spend_budgets_router
from core.db.session import create_engine_for, migrate
from core.settings import Settings, get_settings, with_api_key_pepper
from dashboard import install_dashboard

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Plans for FinOps engineers, savings realisation and budgets for finance.

Send an API key (`ladder keys create --role …`) as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Errors are RFC 9457 problem details
(`application/problem+json`). Lists are paginated with `limit` and `offset`;
periods are `start` (inclusive) and `end` (exclusive) ISO dates, UTC.
"""


class Health(BaseModel):
    """Whether the server can reach its database (and, under ``ladder serve``, what is
    scheduled)."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="ok, or degraded when the database does not answer.")
    database: str


HealthCheck = Callable[[], tuple[int, dict[str, Any]]]
"""(HTTP status, body) of ``/healthz``; ``ladder serve`` adds the scheduler's jobs."""


def _version() -> str:
    try:
        return version("ladder")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def _database_health(engine: Engine) -> tuple[int, dict[str, Any]]:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return 503, {"status": "degraded", "database": f"unreachable: {type(exc).__name__}"}
    return 200, {"status": "ok", "database": "ok"}


def _warm_reports(engine: Engine) -> None:
    """Load every provider's reporting snapshot into memory (one savings report each)."""
    try:
        with Session(engine) as session:
            providers = sorted({status.snapshot.provider
                                for status in reporting.snapshot_status(session)})
            for provider in providers:
                reporting.savings(session, reporting.ReportQuery(
                    scope=reporting.Scope(provider=provider)))
    except Exception:  # a cold cache is slower, not broken
        logger.exception("could not warm the reporting snapshots")


def engines_for(settings: Settings) -> Engines:
    """The request engines for the settings' database (see ``api.deps.Engines``)."""
    url = settings.database_url
    reader = create_engine_for(url, sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s,
                               **_pool_options(url))
    if reader.dialect.name != "sqlite":
        return Engines(reader=reader, writer=reader)
    writer = create_engine_for(url, sqlite_immediate=True,
                               sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s)
    return Engines(reader=reader, writer=writer)


def _pool_options(url: str) -> dict[str, Any]:
    # Enough connections for uvicorn's thread pool under a few dozen concurrent clients.
    return {} if url.startswith("sqlite") else {"pool_size": 20, "max_overflow": 20}


def _api_router() -> APIRouter:
    router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES,
                       dependencies=[Depends(single_valued_query)])
    for child in (runs_router, plans_router, commitments_router, reports_router,
                  finance_reports_router, budgets_router, spend_budgets_router, metrics_router,
                  audit_router, policy_router, keys_router):
        router.include_router(child)
    return router


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the problem-details schemas the error responses name."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, FieldProblem):
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            body.pop("$defs", None)
            schemas[model.__name__] = body
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    run_launcher: RunLauncher | None = None,
    health: HealthCheck | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    migrate_on_start: bool = True,
    warm_reports: bool = False,
) -> FastAPI:
    """Build the API.

    ``engine`` (owned by the caller) replaces the engines made from
    ``settings.database_url``; the database is migrated when the app starts,
    unless ``migrate_on_start`` is false. ``run_launcher`` starts runs for
    ``POST /v1/runs`` (``ladder serve`` passes one); without it that route
    answers 503. ``health`` replaces the database check of ``/healthz``.
    ``warm_reports`` loads each provider's reporting snapshot in the background
    at start-up, so that the first report requested does not wait seconds for it.
    """
    # Keys are hashed with a pepper: the configured one, else one generated beside the data.
    settings = with_api_key_pepper(settings or get_settings())
    owned = engine is None
    engines = engines_for(settings) if engine is None else Engines(engine, engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            migrate(engines.writer)
        if warm_reports:
            threading.Thread(target=_warm_reports, args=(engines.reader,), name="warm-reports",
                             daemon=True).start()
        try:
            yield
        finally:
            if owned:
                engines.reader.dispose()
                engines.writer.dispose()

    app = FastAPI(
        title="Ladder",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        # Starlette's redirect names the Host header's host: api.redirects does it relatively.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.engines = engines
    app.state.run_launcher = run_launcher
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(TrailingSlashRedirect, router=app.router)
    app.include_router(_api_router())
    # The dashboard's pages, at / on the same port, over the same services and role matrix.
    install_dashboard(app)

    @app.get("/healthz", tags=["health"], summary="Health", response_model=Health,
             responses={503: {"model": Health, "description": "The database does not answer."}})
    def healthz() -> JSONResponse:
        """Whether the database answers (no API key needed)."""
        status, body = health() if health is not None else _database_health(engines.reader)
        return JSONResponse(Health.model_validate(body).model_dump(mode="json"),
                            status_code=status)

    # Where ``ladder serve``'s health endpoint also answered before the API joined it.
    app.add_api_route("/v1/healthz", healthz, methods=["GET"], include_in_schema=False)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
