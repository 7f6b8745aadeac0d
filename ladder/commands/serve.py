"""``ladder serve``: the REST API, the scheduler of autonomous runs and the health endpoint,
in one process."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import timedelta
from types import FrameType
from typing import Annotated, Any

import typer

from ladder.commands.common import DatabaseOption, console, engine_for, handled, settings_for
from ladder.scheduler import Scheduler, health, reap_all, reconcile_all, scheduled_run

API_START_TIMEOUT_S = 30.0


def serve(
    host: Annotated[str, typer.Option(help="Address of the API and health endpoint.")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the API and health "
                                      "endpoint (0: any free).")] = 8080,
    poll: Annotated[float, typer.Option(min=0.1, help="Most seconds between two looks at the "
                                        "policies' schedules.")] = 30.0,
    database_url: DatabaseOption = None,
) -> None:
    """Run each scope on its policy's cron schedule until stopped (Ctrl-C or SIGTERM).

    On start-up, runs left running by a killed process are marked failed, and every
    unfinished purchase is reconciled with its provider first.
    The REST API answers under ``/v1`` (``/docs`` for its OpenAPI document; keys
    from ``ladder keys create``), and ``POST /v1/runs`` starts runs in the
    background. ``GET /healthz`` answers whether the database is reachable and
    what is scheduled.
    """
    # Imported here: the other commands need neither FastAPI nor uvicorn.
    import uvicorn

    from api.app import create_app
    from ladder.launcher import BackgroundRuns

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = settings_for(database_url)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"Stopping (signal {signum}).")
        stop.set()

    with handled():
        engine = engine_for(settings)
        for line in reap_all(engine):
            console.print(f"Start-up: {line}")
        for line in reconcile_all(engine, settings):
            console.print(f"Start-up reconciliation: {line}")
        scheduler = Scheduler(engine, scheduled_run(engine, settings), min_interval=timedelta(
            seconds=settings.min_schedule_interval_s))
        runs = BackgroundRuns(engine, settings)
        # The API opens engines of its own: reads must not queue behind SQLite's write lock.
        app = create_app(settings, run_launcher=runs, migrate_on_start=False, warm_reports=True,
                         health=lambda: health(engine, scheduler))
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
        # uvicorn installs no signal handlers outside the main thread: ours stop both.
        thread = threading.Thread(target=server.run, name="api", daemon=True)
        thread.start()
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        bound = _wait_started(server, thread)
        base = f"http://{host}:{bound}"
        console.print(f"Serving the dashboard on {base}/ (sign in with a key from `ladder keys "
                      f"create`) and the API on {base}/v1 (docs {base}/docs, health "
                      f"{base}/healthz); scheduling runs from the policies' schedules.",
                      soft_wrap=True)
        try:
            scheduler.serve(stop, poll_s=poll)
        finally:
            server.should_exit = True
            thread.join(timeout=API_START_TIMEOUT_S)
            runs.shutdown()
            engine.dispose()


def _wait_started(server: Any, thread: threading.Thread) -> int:
    """Wait until uvicorn listens; the port it bound (``--port 0`` picks a free one)."""
    deadline = time.monotonic() + API_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise typer.Exit(code=2)  # uvicorn has logged why (the port is taken, say)
        time.sleep(0.05)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return port


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""
    app.command("serve")(serve)
