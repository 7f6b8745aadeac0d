"""Derive the bundled GCP per-resource prices from the shared machine-type price snapshot.

GCP prices a VM as vCPUs plus GiB of memory of its machine series, on demand
and under 1- and 3-year resource-based commitments. The snapshot
(``shared/data/pricing/gcp-compute/gcp_compute_instance_prices_all.csv``,
Cyclenerd/google-cloud-pricing-cost-calculator, Apache-2.0) gives whole machine
types; for each series and region this solves ``price = vcpu · a + GiB · b`` by
least squares over the series' predefined types. Series whose types are exact
linear combinations (residual below 1e-9 relative) and whose two rates are
positive are kept; the others (C2, T2D, H3, Z3 with one memory ratio only;
M-series with distinct mega/ultra-memory rates; shapes with GPUs or local SSD)
are left out rather than guessed.

Run ``python -m providers.gcp.build [SNAPSHOT]`` to regenerate
``providers/gcp/data/resource_prices.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from providers.gcp.pricing import COMMITMENT_TYPES, PRICES_FILE

SNAPSHOT = (Path(__file__).resolve().parents[3] / "shared" / "data" / "pricing" / "gcp-compute"
            / "gcp_compute_instance_prices_all.csv")
HOURS_PER_MONTH = 730.0
"""The snapshot's monthly CUD prices are for 730 hours."""
_SHARED_CORE = ("e2-micro", "e2-small", "e2-medium")


def derive(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Per-resource hourly rates per series and region, from machine-type prices."""
    frame = snapshot.assign(series=snapshot["machine_type"].str.split("-").str[0])
    frame = frame[frame["series"].isin(list(COMMITMENT_TYPES))
                  & ~frame["machine_type"].isin(_SHARED_CORE)
                  & ~frame["machine_type"].str.contains("lssd|metal")]
    rows: list[dict[str, object]] = []
    for (series, region), group in frame.groupby(["series", "region"], sort=True):
        shapes = group[["vcpu", "ram_gb"]].to_numpy(float)
        if np.linalg.matrix_rank(shapes) < 2:
            continue
        rates: dict[str, np.ndarray] = {}
        exact = True
        for column, scale in (("hour_ondemand", 1.0), ("month_cud_1y", 1 / HOURS_PER_MONTH),
                              ("month_cud_3y", 1 / HOURS_PER_MONTH)):
            prices = group[column].to_numpy(float) * scale
            coefficients, *_ = np.linalg.lstsq(shapes, prices, rcond=None)
            residual = np.max(np.abs(shapes @ coefficients - prices) / prices)
            exact = exact and bool(residual < 1e-9) and bool(np.all(coefficients > 0))
            rates[column] = coefficients
        if not exact:
            continue
        for index, resource in enumerate(("vcpu", "memory")):
            rows.append({
                "series": series, "region": region, "resource": resource,
                "on_demand_hourly": round(float(rates["hour_ondemand"][index]), 10),
                "cud_1y_hourly": round(float(rates["month_cud_1y"][index]), 10),
                "cud_3y_hourly": round(float(rates["month_cud_3y"][index]), 10),
            })
    return pd.DataFrame(rows)


def main(argv: list[str]) -> None:
    """Regenerate the bundled per-resource price table."""
    source = Path(argv[1]) if len(argv) > 1 else SNAPSHOT
    derived = derive(pd.read_csv(source))
    derived.to_csv(PRICES_FILE, index=False)
    print(f"{len(derived)} rows written to {PRICES_FILE}")


if __name__ == "__main__":
    main(sys.argv)
