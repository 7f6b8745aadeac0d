"""Mount the dashboard on the API's app: its routes, its static files, its session store."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dashboard.routes import router
from dashboard.sessions import SessionStore

STATIC = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at ``/`` beside ``/v1`` on the same app (and port).

    Its routes stay out of the OpenAPI document: they are pages, not the API.
    """
    app.state.dashboard_sessions = SessionStore()
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="static")
