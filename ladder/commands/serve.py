"""``ladder serve``: the scheduler of autonomous runs and the health endpoint, in one process."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from ladder.commands.common import DatabaseOption, console, engine_for, handled, settings_for
from ladder.scheduler import Scheduler, health_server, reconcile_all, scheduled_run


def serve(
    host: Annotated[str, typer.Option(help="Address of the health endpoint.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535,
                                      help="Port of the health endpoint (0: any free).")] = 8080,
    poll: Annotated[float, typer.Option(min=0.1, help="Most seconds between two looks at the "
                                        "policies' schedules.")] = 30.0,
    database_url: DatabaseOption = None,
) -> None:
    """Run each scope on its policy's cron schedule until stopped (Ctrl-C or SIGTERM).

    On start-up, every unfinished purchase is reconciled with its provider first.
    ``GET /healthz`` answers whether the database is reachable and what is scheduled.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = settings_for(database_url)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"Stopping (signal {signum}).")
        stop.set()

    with handled():
        engine = engine_for(settings)
        for line in reconcile_all(engine, settings):
            console.print(f"Start-up reconciliation: {line}")
        scheduler = Scheduler(engine, scheduled_run(engine, settings))
        server = health_server(engine, scheduler, host, port)
        thread = threading.Thread(target=server.serve_forever, name="health", daemon=True)
        thread.start()
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        console.print(f"Serving health on http://{host}:{server.server_address[1]}/healthz; "
                      "scheduling runs from the policies' schedules.")
        try:
            scheduler.serve(stop, poll_s=poll)
        finally:
            server.shutdown()
            server.server_close()
            engine.dispose()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""
    app.command("serve")(serve)
