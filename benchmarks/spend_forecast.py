"""Rolling-origin scores of the daily spend forecast against seasonal naive and run rate.

The series are the daily spend (cash: Σ BilledCost) of the bundled sample bills, each
bill's total and each of its applications (the ``application`` tag): the AWS sample's
series are the development set the model's settings were chosen on, the Azure and GCP
samples' the held-out set. Run ``python -m benchmarks.spend_forecast`` (about 10 s on 2
cores); benchmarks/README.md records the figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from forecasting.spend import SPEND_MODELS, SpendEvaluation, evaluate_spend
from providers.focus.costs import read_bill_lines
from reporting.spend import SpendBasis, SpendDimension, spend_series

ROOT = Path(__file__).resolve().parents[1]
DEVELOPMENT = (ROOT / "providers" / "sample" / "data" / "usage.parquet",)
HELD_OUT = (ROOT / "providers" / "azure" / "data" / "sample_usage.parquet",
            ROOT / "providers" / "gcp" / "data" / "sample_usage.parquet")
COLUMNS = ("pinball", "cover80", "cover95", "total_cover80", "total_cover95")


def bill_series(paths: tuple[Path, ...], tag_key: str = "application") -> dict[str, pd.Series]:
    """Each bill's daily total and its daily spend per value of ``tag_key``."""
    series: dict[str, pd.Series] = {}
    for path in paths:
        lines = read_bill_lines(path)
        for group, values in spend_series(lines, SpendBasis.CASH, SpendDimension.NONE).items():
            series[f"{path.parent.parent.name}:{group}"] = values
        for group, values in spend_series(lines, SpendBasis.CASH, SpendDimension.TAG,
                                          tag_key).items():
            series[f"{path.parent.parent.name}:{group}"] = values
    return series


def markdown(result: SpendEvaluation, title: str) -> str:
    """The scores as a markdown table."""
    lines = [f"{title} ({result.series} series, {result.origins} series × origins)", "",
             "| model | pinball (scaled) | 80 % daily | 95 % daily | 80 % total | 95 % total |",
             "|---|---|---|---|---|---|"]
    for name, row in result.table.iterrows():
        lines.append(f"| {name} | {row['pinball']:.4f} | {row['cover80']:.1%} | "
                     f"{row['cover95']:.1%} | {row['total_cover80']:.1%} | "
                     f"{row['total_cover95']:.1%} |")
    return "\n".join(lines)


def main() -> None:
    """Print the scores at each horizon, on the development and the held-out series."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizons", type=int, nargs="+", default=[14, 28])
    parser.add_argument("--origins", type=int, default=5)
    parser.add_argument("--min-history", type=int, default=35)
    arguments = parser.parse_args()
    for label, paths in (("development (AWS sample)", DEVELOPMENT),
                         ("held out (Azure and GCP samples)", HELD_OUT)):
        series = bill_series(paths)
        for horizon in arguments.horizons:
            result = evaluate_spend(series, SPEND_MODELS, horizon=horizon,
                                    n_origins=arguments.origins,
                                    min_history=arguments.min_history)
            print(markdown(result, f"{label}, {horizon} days ahead"))
            print()


if __name__ == "__main__":
    main()
