"""Rich renderings of stored plans for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from core.db.models import PlanRow
from executor.execute import ActionOutcome
from reporting.common import Report
from reporting.money import round_cents


def _money(value: float) -> str:
    """Dollars to the cent by the reports' one rounding rule (half-up), so the same amount
    reads the same here and in the payment schedule."""
    return f"${round_cents(value) / 100:,.2f}" if math.isfinite(value) else "?"


def bill_line(report: Report) -> str:
    """The whole bill behind a plan in one line: its total and its largest service categories.

    ``report`` is the provider's spend report over all its data, amortized, grouped by
    service category with one total period (``ladder reports spend --granularity total
    --group-by service_category`` prints the same rows), so the line shows that the
    optimizer plans on the compute part of a bill whose other parts the reports cover.
    """
    rows = report.frame
    if rows.empty:
        return "Whole bill: no cost lines stored (ingest a FOCUS bill with `ladder ingest`)."
    total = float(rows["cost"].sum())
    first, end = rows["period_start"].iloc[0], rows["period_end"].iloc[0]
    shares = ", ".join(f"{group} {cost / total:.0%}" if total else str(group)
                       for group, cost in zip(rows["group"][:4], rows["cost"][:4], strict=True))
    more = f", {len(rows) - 4} more" if len(rows) > 4 else ""
    return (f"Whole bill from {first} until {end} (amortized, {report.currency}): "
            f"{_money(total)[1:]} — {shares}{more}; by service, tag and month in "
            "`ladder reports spend`.")


def plans_table(plans: Sequence[PlanRow]) -> Table:
    """One line per plan: when, status, ESR before and after, savings, cash."""
    table = Table(title="Plans", title_justify="left", box=box.SIMPLE_HEAD)
    # Short headers and values: the list must read on an 80-column terminal.
    for column in ("id", "created UTC", "provider", "status", "buys", "ESR", "saves", "upfront"):
        table.add_column(column, justify="right" if column not in {"provider", "status"}
                         else "left", no_wrap=True, min_width=len(column))
    for plan in plans:
        table.add_row(
            str(plan.id), f"{plan.created_at:%m-%d %H:%M}", plan.provider, plan.status,
            str(len(plan.actions)), f"{plan.esr_before:.0%}→{plan.esr_after:.0%}",
            f"${plan.expected_savings:,.0f}", f"${plan.upfront_cash:,.0f}",
        )
    return table


def price_line(plan: PlanRow) -> str:
    """Which prices the plan was made with (its details' ``prices``: label with the prices'
    date and age when planned, why that source, what it is), or nothing."""
    prices = (plan.details or {}).get("prices")
    if not isinstance(prices, dict):
        return ""
    return (f"\nPrices: {prices.get('label', prices.get('kind'))} ({prices.get('reason', '')})"
            f"\n  {prices.get('description', '')}")


def inventory_line(plan: PlanRow) -> str:
    """Where the commitments the plan counted as owned came from (its details'
    ``inventory``: the cloud API, the bill), which starts are estimated, and what the bill
    showed that was left out and why; or nothing for a plan that did not record it."""
    seen = (plan.details or {}).get("inventory")
    if not isinstance(seen, dict):
        return ""
    lines = [f"\nOwned: {seen.get('total', 0)} commitment(s), {seen.get('from_api', 0)} from "
             f"the cloud API, {seen.get('from_bill', 0)} read from the bill"]
    estimated = seen.get("start_estimated") or []
    if estimated:
        lines.append(f"  start estimated (first billed hour) for {len(estimated)}: "
                     + ", ".join(map(str, estimated)))
    for left in seen.get("left_out") or []:
        lines.append(f"  left out {left.get('commitment_id')}: {left.get('reason')}")
    lines.extend(f"  differs: {line}" for line in seen.get("disagreements") or [])
    return "\n".join(lines)


def calibration_lines(plan: PlanRow) -> str:
    """The plan's self-calibration (its details' ``calibration``): the settings chosen and
    why, and per setting tried the replay's ESR and utilisation; nothing when it was off."""
    calibration = (plan.details or {}).get("calibration")
    if not isinstance(calibration, dict):
        return ""
    settings = ", ".join(f"{k} {v:g}" for k, v in (calibration.get("settings") or {}).items())
    if not calibration.get("calibrated"):
        return f"\nCalibration: not run — {calibration.get('reason', '')}\n  settings: {settings}"
    lines = [f"\nCalibration: {calibration.get('chosen')} chosen — {calibration.get('reason')}",
             f"  settings: {settings}",
             f"  replayed {calibration.get('days_replayed', 0):g} days "
             f"({calibration.get('decisions')} decisions from {calibration.get('replay_start')}"
             ", terms charged for the replay's hours only):"]
    for point in calibration.get("points") or []:
        mark = "*" if point.get("label") == calibration.get("chosen") else " "
        lines.append(f"  {mark} {point.get('label')}: ESR {point.get('esr', 0.0):.1%}, "
                     f"utilisation {point.get('utilisation', 0.0):.1%}, "
                     f"{point.get('purchases', 0)} purchases")
    return "\n".join(lines)


def plan_table(plan: PlanRow) -> Group:
    """A plan's headline figures and its actions with their reasons."""
    days = plan.window_hours / 24
    summary = Text.assemble(
        (f"Plan {plan.id}", "bold"),
        f" ({plan.status}, {plan.provider}, solver {plan.solver_status}) — "
        f"judged on {plan.window_hours} hours ({days:.0f} days) from "
        f"{plan.window_start:%Y-%m-%d %H:%M} UTC\n",
        f"On-demand equivalent {_money(plan.on_demand_equivalent)}; "
        f"cost {_money(plan.cost_before)} now → {_money(plan.cost_after)} with this plan; ",
        ("saves " + _money(plan.expected_savings), "bold green"),
        f". ESR {plan.esr_before:.1%} → {plan.esr_after:.1%}.\n",
        f"Upfront cash {_money(plan.upfront_cash)}; new amortized commitment "
        f"{_money(plan.monthly_commitment)} per month.",
        price_line(plan),
        inventory_line(plan),
        calibration_lines(plan),
    )
    table = Table(title=f"Actions of plan {plan.id}", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right")
    table.add_column("action")
    table.add_column("offering", overflow="fold")
    table.add_column("quantity", justify="right")
    table.add_column("receives", overflow="fold")
    table.add_column("cash now", justify="right", min_width=12)
    table.add_column("$/h amort.", justify="right")
    for action in plan.actions:
        receives = (f"{action.target_quantity:,.2f} × {action.target_offering_id}"
                    if action.target_offering_id else "")
        table.add_row(
            str(action.position + 1), action.kind, action.offering_id,
            f"{action.quantity:,.2f}", receives, _money(action.cash_effect),
            f"{action.amortized_hourly_cost:,.4f}",
        )
    if not plan.actions:
        return Group(summary, Text("Nothing to buy: no offering pays for itself on this usage."))
    reasons = Text("Why:\n", style="bold")
    for action in plan.actions:
        reasons.append(f"{action.position + 1}. ", style="bold")
        reasons.append(f"{action.offering_id}: {action.reason}\n", style="")
    return Group(summary, table, reasons)


def action_outcome_lines(actions: Sequence[ActionOutcome]) -> list[str]:
    """One escaped line per executed action: what it bought, its status and ids, and why."""
    lines = []
    for action in actions:
        ids = ", ".join(action.commitment_ids)
        lines.append(escape(
            f"  {action.position + 1}. {action.offering_id} × {action.quantity:g}: "
            f"{action.status}{f' ({ids})' if ids else ''}"
            f"{f' — {action.detail}' if action.detail else ''}"))
    return lines
