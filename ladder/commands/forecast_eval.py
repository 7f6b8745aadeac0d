"""``ladder forecast-eval``: rolling-origin evaluation of the forecasters on a usage trace, or
(``--spend BILL``) of the daily spend forecast on a FOCUS bill's daily spend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from core.errors import InvalidInput, LadderError
from forecasting.base import history_frame
from forecasting.evaluate import BASELINE, Evaluation, evaluate
from forecasting.registry import FORECASTERS, make_forecaster
from forecasting.spend import SPEND_MODELS, SpendEvaluation, evaluate_spend
from optimizer.backtest.trace import read_trace
from providers.focus.costs import read_bill_lines
from reporting.spend import SpendBasis, SpendDimension, spend_series

ALL = "all"


def read_history(path: Path) -> pd.DataFrame:
    """A usage trace CSV (BENCHMARK.md) as a long ``hour, usage_key, units`` frame."""
    trace = read_trace(path)
    return history_frame(trace.units, trace.key_ids, trace.start)


def evaluation_table(result: Evaluation, title: str) -> Table:
    """One row per model: pinball losses, scaled loss, 80% coverage, skill, time."""
    table = Table(title=title, title_justify="left", caption_justify="left",
                  box=box.SIMPLE_HEAD, caption=(
                      "q0.1, q0.5, q0.9: pinball loss at each quantile, and their mean, in units; "
                      "scaled: the mean divided by the key's mean usage; cover: share of outcomes "
                      "in \\[q0.1, q0.9] (80% is ideal); skill: 1 - scaled / seasonal naive's; "
                      "s: seconds"))
    table.add_column("model", overflow="fold")
    for column in ("q0.1", "q0.5", "q0.9", "mean", "scaled", "cover", "skill", "s"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, row in result.table.iterrows():
        table.add_row(
            str(name), f"{row['pinball_q0.1']:.2f}", f"{row['pinball_q0.5']:.2f}",
            f"{row['pinball_q0.9']:.2f}", f"{row['pinball']:.2f}",
            f"{row['scaled_pinball']:.2%}", f"{row['coverage']:.1%}", f"{row['skill']:+.1%}",
            f"{row['seconds']:.1f}",
        )
    return table


def spend_table(result: SpendEvaluation, title: str) -> Table:
    """One row per spend model: scaled pinball loss, daily and total interval coverage."""
    table = Table(title=title, title_justify="left", caption_justify="left",
                  box=box.SIMPLE_HEAD, caption=(
                      "pinball: mean pinball loss at 2.5/10/50/90/97.5% ÷ the mean daily cost; "
                      "cover80/95: share of days inside the 80%/95% interval; total80/95: share "
                      "of horizon totals inside theirs; s: seconds per fit"))
    table.add_column("model", overflow="fold")
    for column in ("pinball", "cover80", "cover95", "total80", "total95", "s"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, row in result.table.iterrows():
        table.add_row(str(name), f"{row['pinball']:.4f}", f"{row['cover80']:.1%}",
                      f"{row['cover95']:.1%}", f"{row['total_cover80']:.1%}",
                      f"{row['total_cover95']:.1%}", f"{row['seconds']:.3f}")
    return table


def _spend_eval(console: Console, bill: Path, *, group_by: str, basis: SpendBasis,
                horizon: int, origins: int, min_history: int) -> None:
    """Score the spend models on the bill's daily spend (per group)."""
    tag_key = group_by[4:] if group_by.startswith("tag:") else None
    dimension = SpendDimension.TAG if tag_key else SpendDimension(group_by)
    series = spend_series(read_bill_lines(bill), basis, dimension, tag_key)
    if not series:
        raise InvalidInput(f"{bill}: the bill has no cost rows", source=str(bill))
    with console.status(f"Fitting {len(SPEND_MODELS)} spend models on {len(series)} series"):
        result = evaluate_spend(series, SPEND_MODELS, horizon=horizon, n_origins=origins,
                                min_history=min_history)
    console.print(spend_table(result, f"{bill.name}: daily {basis} spend by {group_by}, "
                              f"{len(series)} series, {result.origins} series × origins, "
                              f"{horizon} days ahead"))


def forecast_eval(
    usage: Annotated[Path | None, typer.Option(
        "--usage", help="Usage trace CSV (hour,usage_key,units).", show_default=False)] = None,
    spend: Annotated[Path | None, typer.Option(
        "--spend", help="Score the daily spend forecast instead, on this FOCUS bill (file or "
        "folder) against seasonal naive and run rate.", show_default=False)] = None,
    group_by: Annotated[str, typer.Option(
        "--by", help="With --spend: one series per none, provider, account, service, "
        "service_category, region, charge_category or tag:KEY.")] = "none",
    basis: Annotated[SpendBasis, typer.Option(
        "--basis", help="With --spend: cash or amortized.")] = SpendBasis.CASH,
    days: Annotated[int, typer.Option("--days", min=1,
                                      help="With --spend: days forecast from each origin.")] = 14,
    min_days: Annotated[int, typer.Option(
        "--min-days", min=7, help="With --spend: days of history before the first origin.")
    ] = 35,
    model: Annotated[str, typer.Option(
        "--model", help=f"Forecaster to score against seasonal naive, or '{ALL}': "
                        f"{', '.join(FORECASTERS)}.")] = ALL,
    horizon: Annotated[int, typer.Option("--horizon", min=1,
                                         help="Hours forecast from each origin.")] = 168,
    origins: Annotated[int, typer.Option("--origins", min=1,
                                         help="Number of rolling origins, evenly spread.")] = 5,
    min_history: Annotated[int, typer.Option(
        "--min-history", min=1, help="Hours of history before the first origin.")] = 168,
) -> None:
    """Score forecasters by rolling origin: pinball loss, 80% coverage, skill vs seasonal naive.

    At each origin every forecaster is fitted on the hours before it only and
    forecasts the next HORIZON hours, as the backtest's policies would.
    """
    console = Console()
    if (usage is None) == (spend is None):
        Console(stderr=True).print("[bold red]error:[/] give --usage TRACE.csv or --spend BILL")
        raise typer.Exit(code=2)
    if spend is not None:
        try:
            _spend_eval(console, spend, group_by=group_by, basis=basis, horizon=days,
                        origins=origins, min_history=min_days)
        except (LadderError, ValueError) as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(code=2) from exc
        return
    assert usage is not None
    try:
        history = read_history(usage)
        names = list(FORECASTERS) if model == ALL else [BASELINE, model]
        models = {name: make_forecaster(name) for name in dict.fromkeys(names)}
        with console.status(f"Fitting {len(models)} forecasters at {origins} origins"):
            result = evaluate(history, models, horizon=horizon, n_origins=origins,
                              min_history=min_history)
    except LadderError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    first, last = result.origins[0], result.origins[-1]
    n_keys, n_origins = history["usage_key"].nunique(), len(result.origins)
    title = (f"{usage.name}: {n_keys} key{'s' * (n_keys != 1)}, {n_origins} "
             f"origin{'s' * (n_origins != 1)} from {first:%Y-%m-%d %H:%M} to "
             f"{last:%Y-%m-%d %H:%M} UTC, {horizon} h ahead")
    console.print(evaluation_table(result, title))


def register(app: typer.Typer) -> None:
    """Add ``forecast-eval`` to the ``ladder`` app."""
    app.command("forecast-eval")(forecast_eval)
