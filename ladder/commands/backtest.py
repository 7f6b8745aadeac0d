"""``ladder backtest``: replay a usage trace with a policy and print its score as JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.catalog import load_catalog
from core.errors import InvalidInput, LadderError
from ladder.scenarios import default_scenarios
from optimizer.backtest.purchases import write_purchase_log
from optimizer.backtest.runner import BacktestConfig, backtest
from optimizer.backtest.trace import read_trace
from optimizer.linear_model import stdout_to_stderr


class PolicyChoice(StrEnum):
    """The policies the command can run."""

    NONE = "none"
    LOOKBACK = "lookback"
    ORACLE = "oracle"
    LADDER = "ladder"


def _offerings(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    if not ids:
        raise InvalidInput("--offerings lists no offering_id")
    return ids


def run(
    usage: Annotated[Path, typer.Option("--usage", help="Usage trace CSV (hour,usage_key,units).",
                                        show_default=False)],
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalog JSON (keys and offerings).",
                                          show_default=False)],
    policy: Annotated[PolicyChoice, typer.Option("--policy", help="Who decides the purchases.",
                                                 case_sensitive=False)],
    cadence_hours: Annotated[int, typer.Option("--cadence-hours", min=1,
                                               help="Hours between decisions.")] = 24,
    warmup_hours: Annotated[int, typer.Option("--warmup-hours", min=0,
                                              help="Hours before the first decision; the score "
                                                   "covers the hours after them.")] = 168,
    lookback_hours: Annotated[int | None, typer.Option(
        "--lookback-hours", min=1,
        help="The lookback policy's window of past usage, N (default 168).")] = None,
    offerings: Annotated[str | None, typer.Option(
        "--offerings", help="Allowed offering_ids, comma-separated (default: all).")] = None,
    purchases_out: Annotated[Path | None, typer.Option(
        "--purchases-out", help="Write the purchase log JSON here.")] = None,
) -> None:
    """Replay a usage trace with a policy, bill it hour by hour and print the score as JSON.

    Decisions are taken every --cadence-hours from the end of the warm-up, seeing
    only the usage before the decision hour, and only while an offering's whole
    term fits in the trace. The score covers [warm-up, end): ESR, costs,
    coverage, utilisation, waste, number of purchases, run time.
    """
    try:
        config = BacktestConfig(cadence_hours=cadence_hours, warmup_hours=warmup_hours,
                                allowed=_offerings(offerings))
        if lookback_hours is not None:
            config = replace(config, lookback_hours=lookback_hours)
        prices = load_catalog(catalog)
        trace = read_trace(usage)
        with stdout_to_stderr():  # stdout carries the JSON score only
            result = backtest(trace, prices, policy.value, config, catalog_source=str(catalog),
                              scenarios=default_scenarios())
        if purchases_out is not None:
            write_purchase_log(purchases_out, result.purchases, trace)
    except InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    except LadderError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    score = {"usage": str(usage), "catalog": str(catalog), **result.score.to_dict()}
    typer.echo(json.dumps(score, indent=1))


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` command to the CLI."""
    app.command("backtest")(run)
