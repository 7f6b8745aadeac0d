"""Guardrails: each check of a plan against its scope's policy, with the reason in words.

A violation has a severity that says who can get past it:

* ``block`` — the kill switch or a blackout window: nothing is bought now,
  approved or not; checked again before every purchase;
* ``rule`` — the plan buys something the policy does not allow at all (an
  offering, term or payment option outside the allowed lists, an action the
  executor cannot carry out, an exchange or return that does not say what it
  gives up or receives): no one can approve it, the policy must change;
* ``limit`` — the plan goes beyond a cap (per run, per month, share of the low
  forecast, expected utilisation) or the scope has no policy: a person with the
  approver role may accept it.

The checks read :class:`PlanFacts`. Most facts are the plan's own numbers;
the low forecast, the capacity of the portfolio and each action's expected
utilisation come from the planner, in ``plan.details["guardrail_inputs"]``
(:data:`INPUTS_KEY`). A cap whose fact the plan does not state is a violation:
the guardrails fail closed.

Exchanges and returns count in the caps by what they change (:class:`ActionFacts`):
an exchange adds the difference in amortized commitment between what it receives
and what it gives up, and its cash effect (the true-up paid now); a return
removes the returned commitment's amortized cost and refunds its cash effect.
The allowed offerings, terms and payment options apply to what is received (a
purchase's offering, an exchange's target); a return receives nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from core.db.models import ActionRow, OfferingRow, PlanRow
from core.domain import ActionKind
from executor.policy import ScopePolicy

INPUTS_KEY = "guardrail_inputs"
"""Key of ``plan.details`` holding what the planner states for the guardrails:

``low_forecast_hourly`` (on-demand $/h of the low forecast of eligible usage),
``low_forecast_source`` (words), ``committed_capacity_hourly`` (on-demand $/h the
commitments owned and new can cover at most) and ``expected_utilisation`` (one
share per action, in the actions' order).
"""


@dataclass(frozen=True, slots=True)
class GuardrailInputs:
    """What the planner states for the guardrails: the contract between the planner (and
    ``ladder.facts``, which fills in what a planner left out) and :func:`plan_facts`.

    ``low_forecast_hourly`` is the on-demand $/h of the low forecast of eligible usage and
    ``low_forecast_source`` says what it is; ``committed_capacity_hourly`` the on-demand $/h
    the commitments owned and new can cover at most; ``expected_utilisation`` one share per
    action, in the actions' order. None (or no share) is "not stated", which the caps treat
    as a violation: the guardrails fail closed. Stored as JSON once, under
    ``plan.details[INPUTS_KEY]`` (:meth:`to_json`, :meth:`from_json`).
    """

    low_forecast_hourly: float | None = None
    low_forecast_source: str = ""
    committed_capacity_hourly: float | None = None
    expected_utilisation: tuple[float | None, ...] | None = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "low_forecast_hourly", "committed_capacity_hourly", "expected_utilisation")
    """The figures a plan must state for every cap to be judged."""

    def to_json(self) -> dict[str, Any]:
        """The inputs as stored in ``plan.details`` (stated fields only)."""
        out: dict[str, Any] = {}
        if self.low_forecast_hourly is not None:
            out["low_forecast_hourly"] = self.low_forecast_hourly
            out["low_forecast_source"] = self.low_forecast_source
        if self.committed_capacity_hourly is not None:
            out["committed_capacity_hourly"] = self.committed_capacity_hourly
        if self.expected_utilisation is not None:
            out["expected_utilisation"] = list(self.expected_utilisation)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> GuardrailInputs:
        """The inputs a plan's details hold; a figure that is absent or not a finite number
        is not stated."""
        raw = raw or {}
        shares = raw.get("expected_utilisation")
        return cls(
            low_forecast_hourly=_float(raw.get("low_forecast_hourly")),
            low_forecast_source=str(raw.get("low_forecast_source", "")),
            committed_capacity_hourly=_float(raw.get("committed_capacity_hourly")),
            expected_utilisation=None if not isinstance(shares, list | tuple)
            else tuple(_float(v) for v in shares),
        )

    @classmethod
    def of_plan(cls, plan: PlanRow) -> GuardrailInputs:
        """The inputs a stored plan carries."""
        return cls.from_json((plan.details or {}).get(INPUTS_KEY))

    def missing(self) -> frozenset[str]:
        """The figures of :attr:`FIELDS` not stated."""
        return frozenset(name for name in self.FIELDS if getattr(self, name) is None)

    def completed_by(self, other: GuardrailInputs) -> GuardrailInputs:
        """These inputs, with what they do not state taken from ``other``."""
        low = self.low_forecast_hourly is None
        return GuardrailInputs(
            low_forecast_hourly=other.low_forecast_hourly if low else self.low_forecast_hourly,
            low_forecast_source=other.low_forecast_source if low else self.low_forecast_source,
            committed_capacity_hourly=self.committed_capacity_hourly
            if self.committed_capacity_hourly is not None else other.committed_capacity_hourly,
            expected_utilisation=self.expected_utilisation
            if self.expected_utilisation is not None else other.expected_utilisation,
        )


EXECUTABLE_KINDS = frozenset({ActionKind.PURCHASE.value, ActionKind.EXCHANGE.value,
                              ActionKind.RETURN.value})
"""Action kinds the executor can carry out."""
_SLACK = 1e-9


class Severity(StrEnum):
    """Who can get past a violation (see the module's docstring)."""

    BLOCK = "block"
    RULE = "rule"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True)
class Violation:
    """One guardrail a plan breaks, and why, in words a FinOps engineer can act on."""

    check: str
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, str]:
        """The violation as stored in ``plan.policy_reasons``."""
        return {"check": self.check, "severity": str(self.severity), "message": self.message}


@dataclass(frozen=True, slots=True)
class ActionFacts:
    """What the guardrails know of one action.

    ``amortized_hourly`` is the change in amortized commitment ($/h) and
    ``upfront`` the cash paid now ($): a purchase's amortized cost and upfront; an
    exchange's difference and true-up (its ``cash_effect``); a return's, negative.
    ``term_hours`` and ``payment_option`` are those of the offering received.
    """

    position: int
    kind: str
    offering_id: str
    quantity: float
    amortized_hourly: float
    upfront: float
    term_hours: int | None
    """None when the offering received is not in the provider's stored catalog."""
    payment_option: str | None
    expected_utilisation: float | None
    commitment_id: str = ""
    """The owned commitment an exchange gives up or a return hands back."""
    target_offering_id: str = ""
    target_quantity: float = 0.0

    @property
    def received_offering_id(self) -> str | None:
        """The offering this action adds to the portfolio (None for a return)."""
        if self.kind == ActionKind.RETURN:
            return None
        return self.target_offering_id if self.kind == ActionKind.EXCHANGE else self.offering_id

    @property
    def label(self) -> str:
        """How messages name the action."""
        if self.kind == ActionKind.EXCHANGE:
            return (f"action {self.position + 1} (exchange of {self.commitment_id} for "
                    f"{self.target_offering_id})")
        if self.kind == ActionKind.RETURN:
            return f"action {self.position + 1} (return of {self.commitment_id})"
        return f"action {self.position + 1} ({self.offering_id})"


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """What the guardrails judge a plan on."""

    plan_id: int
    provider: str
    scope: str
    actions: tuple[ActionFacts, ...]
    low_forecast_hourly: float | None = None
    low_forecast_source: str = ""
    committed_capacity_hourly: float | None = None
    expected_savings: float = 0.0
    """The plan's cost before minus after over its window, as billed (``PlanRow``)."""
    window_hours: int = 0

    @property
    def new_hourly(self) -> float:
        """New commitment, amortized $/h."""
        return sum(a.amortized_hourly for a in self.actions)

    @property
    def new_upfront(self) -> float:
        """Upfront cash, $."""
        return sum(a.upfront for a in self.actions)


@dataclass(frozen=True, slots=True)
class SpendToDate:
    """Commitment already bought, being bought or approved in the month, other plans only."""

    hourly: float
    upfront: float
    since: datetime


def _float(value: Any) -> float | None:
    """A stated figure as a float; None when absent or not a finite number (not stated)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def commitment_change(kind: str, amortized_hourly_cost: float, upfront_cost: float,
                      cash_effect: float) -> tuple[float, float]:
    """(amortized $/h added, cash $ paid now) by an action, as the caps count them.

    A purchase adds its amortized cost and pays its upfront; an exchange adds the
    difference it states and pays its cash effect (the true-up); a return removes
    its amortized cost and refunds its cash effect, whatever their stated signs.
    """
    if kind == ActionKind.RETURN:
        return -abs(amortized_hourly_cost), -abs(cash_effect)
    if kind == ActionKind.EXCHANGE:
        return amortized_hourly_cost, cash_effect
    return amortized_hourly_cost, upfront_cost


def _received(action: ActionRow) -> str | None:
    if action.kind == ActionKind.RETURN:
        return None
    return (action.target_offering_id if action.kind == ActionKind.EXCHANGE
            else action.offering_id) or None


def received_offering_ids(plan: PlanRow) -> list[str]:
    """The offering ids a plan's actions add to the portfolio (the ``offerings`` to look up)."""
    return [r for r in map(_received, plan.actions) if r is not None]


def plan_facts(plan: PlanRow, offerings: Mapping[str, OfferingRow]) -> PlanFacts:
    """The facts of a stored plan; ``offerings`` maps the provider's offering ids to rows."""
    inputs = GuardrailInputs.of_plan(plan)
    utilisation = list(inputs.expected_utilisation or ())
    actions = []
    for index, action in enumerate(plan.actions):
        received = _received(action)
        offering = offerings.get(received) if received is not None else None
        hourly, upfront = commitment_change(action.kind, action.amortized_hourly_cost,
                                            action.upfront_cost, action.cash_effect)
        actions.append(ActionFacts(
            position=action.position, kind=action.kind, offering_id=action.offering_id,
            quantity=action.quantity, amortized_hourly=hourly, upfront=upfront,
            term_hours=offering.term_hours if offering is not None else None,
            payment_option=offering.payment_option if offering is not None else None,
            expected_utilisation=utilisation[index] if index < len(utilisation) else None,
            commitment_id=action.commitment_id or "",
            target_offering_id=action.target_offering_id or "",
            target_quantity=float(action.target_quantity or 0.0),
        ))
    return PlanFacts(
        plan_id=plan.id, provider=plan.provider, scope=plan.scope, actions=tuple(actions),
        low_forecast_hourly=inputs.low_forecast_hourly,
        low_forecast_source=inputs.low_forecast_source,
        committed_capacity_hourly=inputs.committed_capacity_hourly,
        expected_savings=float(plan.expected_savings or 0.0), window_hours=plan.window_hours,
    )


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _term(hours: int) -> str:
    return f"{hours / 8760:g}-year" if hours % 8760 == 0 else f"{hours}-hour"


# --- the checks, one function each ---------------------------------------------------------

Check = Callable[[ScopePolicy, PlanFacts, SpendToDate, datetime], list[Violation]]


def check_kill_switch(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                      now: datetime) -> list[Violation]:
    """The kill switch stops every purchase of the scope."""
    if not policy.kill_switch:
        return []
    return [Violation("kill_switch", Severity.BLOCK,
                      f"the kill switch of {facts.provider}/{facts.scope} is on: nothing is "
                      "bought until it is turned off")]


def check_blackout(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                   now: datetime) -> list[Violation]:
    """Nothing is bought inside a blackout window."""
    window = policy.blackout_at(now)
    if window is None:
        return []
    return [Violation("blackout", Severity.BLOCK,
                      f"{now:%Y-%m-%d %H:%M} UTC is inside the blackout window "
                      f"{window.describe()}")]


def _malformed(a: ActionFacts) -> str:
    """What an exchange or return lacks to be carried out, or ""."""
    if a.kind == ActionKind.EXCHANGE:
        if not a.commitment_id:
            return "it does not name the commitment it gives up"
        if not a.target_offering_id:
            return "it does not name the offering it receives"
        if a.quantity <= 0 or a.target_quantity <= 0:
            return (f"it gives up {a.quantity:g} and receives {a.target_quantity:g} units: "
                    "both must be > 0")
    if a.kind == ActionKind.RETURN and not a.commitment_id:
        return "it does not name the commitment it hands back"
    return ""


def check_action_kinds(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                       now: datetime) -> list[Violation]:
    """Only actions the executor can carry out, stated completely, may be approved."""
    found = []
    for a in facts.actions:
        if a.kind not in EXECUTABLE_KINDS:
            found.append(Violation("action_kind", Severity.RULE,
                                   f"action {a.position + 1} is a {a.kind}, which the executor "
                                   "cannot carry out"))
        elif problem := _malformed(a):
            found.append(Violation("action_kind", Severity.RULE,
                                   f"action {a.position + 1} is a {a.kind} the executor cannot "
                                   f"carry out: {problem}"))
    return found


def check_allowed(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                  now: datetime) -> list[Violation]:
    """Offerings, terms and payment options received must be in the policy's allowed lists."""
    found: list[Violation] = []
    for a in facts.actions:
        received = a.received_offering_id
        if received is None or a.kind not in EXECUTABLE_KINDS or _malformed(a):
            continue  # a return receives nothing; the others are refused by check_action_kinds
        label = a.label
        if a.term_hours is None:
            found.append(Violation("offering_unknown", Severity.RULE,
                                   f"{label}: the offering is not in the provider's stored "
                                   "catalog"))
            continue
        if not policy.allows_offering(received):
            found.append(Violation("allowed_offerings", Severity.RULE,
                                   f"{label}: the offering is not in the allowed offerings "
                                   f"({', '.join(policy.allowed_offerings or ())})"))
        if policy.allowed_terms_hours is not None and \
                a.term_hours not in policy.allowed_terms_hours:
            allowed = ", ".join(_term(t) for t in policy.allowed_terms_hours)
            found.append(Violation("allowed_terms", Severity.RULE,
                                   f"{label}: a {_term(a.term_hours)} term is not allowed "
                                   f"(allowed: {allowed or 'none'})"))
        if policy.allowed_payment_options is not None and \
                a.payment_option not in {str(p) for p in policy.allowed_payment_options}:
            allowed = ", ".join(str(p) for p in policy.allowed_payment_options)
            found.append(Violation("allowed_payment_options", Severity.RULE,
                                   f"{label}: payment option {a.payment_option} is not allowed "
                                   f"(allowed: {allowed or 'none'})"))
    return found


def check_run_caps(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                   now: datetime) -> list[Violation]:
    """New commitment and upfront cash of this plan stay under the per-run caps."""
    found = []
    if policy.max_run_hourly is not None and facts.new_hourly > policy.max_run_hourly + _SLACK:
        found.append(Violation("max_run_hourly", Severity.LIMIT,
                               f"new commitment of {_money(facts.new_hourly)}/h amortized exceeds "
                               f"the per-run cap of {_money(policy.max_run_hourly)}/h"))
    if policy.max_run_upfront is not None and \
            facts.new_upfront > policy.max_run_upfront + _SLACK:
        found.append(Violation("max_run_upfront", Severity.LIMIT,
                               f"upfront cash of {_money(facts.new_upfront)} exceeds the per-run "
                               f"cap of {_money(policy.max_run_upfront)}"))
    return found


def check_month_caps(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                     now: datetime) -> list[Violation]:
    """This plan and the month's other commitments stay under the monthly caps."""
    found = []
    since = f"since {month.since:%Y-%m-%d}"
    hourly = month.hourly + facts.new_hourly
    if policy.max_month_hourly is not None and hourly > policy.max_month_hourly + _SLACK:
        found.append(Violation("max_month_hourly", Severity.LIMIT,
                               f"{_money(month.hourly)}/h committed {since} plus "
                               f"{_money(facts.new_hourly)}/h in this plan exceeds the monthly "
                               f"cap of {_money(policy.max_month_hourly)}/h"))
    upfront = month.upfront + facts.new_upfront
    if policy.max_month_upfront is not None and upfront > policy.max_month_upfront + _SLACK:
        found.append(Violation("max_month_upfront", Severity.LIMIT,
                               f"{_money(month.upfront)} upfront {since} plus "
                               f"{_money(facts.new_upfront)} in this plan exceeds the monthly "
                               f"cap of {_money(policy.max_month_upfront)}"))
    return found


def check_low_forecast_share(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                             now: datetime) -> list[Violation]:
    """The portfolio may cover at most a share of the low forecast."""
    cap = policy.max_low_forecast_share
    if cap is None or not facts.actions:
        return []
    low, capacity = facts.low_forecast_hourly, facts.committed_capacity_hourly
    if low is None or capacity is None:
        return [Violation("max_low_forecast_share", Severity.LIMIT,
                          "the plan states no low forecast or portfolio capacity, so its share "
                          "of the low forecast cannot be checked")]
    share = capacity / low if low > 0 else float("inf")
    if share <= cap + _SLACK:
        return []
    source = f" ({facts.low_forecast_source})" if facts.low_forecast_source else ""
    return [Violation("max_low_forecast_share", Severity.LIMIT,
                      f"commitments owned and new could cover {_money(capacity)}/h of on-demand "
                      f"usage, {share:.0%} of the low forecast of {_money(low)}/h{source}; "
                      f"the policy allows {cap:.0%}")]


def check_utilisation(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                      now: datetime) -> list[Violation]:
    """Each new commitment's expected utilisation stays at or above the floor."""
    floor = policy.min_utilisation
    if floor is None:
        return []
    found = []
    for a in facts.actions:
        if a.kind == ActionKind.RETURN:
            continue  # hands a commitment back: no new commitment to use
        label = a.label
        if a.expected_utilisation is None:
            found.append(Violation("min_utilisation", Severity.LIMIT,
                                   f"{label}: the plan states no expected utilisation"))
        elif a.expected_utilisation < floor - _SLACK:
            found.append(Violation("min_utilisation", Severity.LIMIT,
                                   f"{label}: expected utilisation {a.expected_utilisation:.1%} "
                                   f"is below the floor of {floor:.1%}"))
    return found


def check_savings(policy: ScopePolicy, facts: PlanFacts, month: SpendToDate,
                  now: datetime) -> list[Violation]:
    """A plan that costs more over its window than doing nothing waits for a person.

    The optimizer may trade cost now for risk later (moving a commitment out of a
    usage it expects to decline over the rest of its term); that is a judgement an
    approver makes, never the autonomous run.
    """
    if not facts.actions or facts.expected_savings >= -1e-6:
        return []
    return [Violation("expected_savings", Severity.LIMIT,
                      f"the plan is expected to cost {_money(-facts.expected_savings)} more "
                      f"than doing nothing over its {facts.window_hours} hours")]


GATES: tuple[Check, ...] = (check_kill_switch, check_blackout)
"""The checks of *when*: run again before every purchase."""
CAPS: tuple[Check, ...] = (check_run_caps, check_month_caps)
"""The caps on new commitment and cash: run again before placing what a failed return
was to make room for."""
CHECKS: tuple[Check, ...] = (
    *GATES, check_action_kinds, check_allowed, check_run_caps, check_month_caps,
    check_low_forecast_share, check_utilisation, check_savings,
)


def evaluate(
    policy: ScopePolicy, facts: PlanFacts, *, month: SpendToDate, now: datetime,
    checks: Sequence[Check] = CHECKS,
) -> list[Violation]:
    """Every violation of ``policy`` by the plan, in the order of ``checks``."""
    return [violation for check in checks for violation in check(policy, facts, month, now)]


def no_policy(provider: str, scope: str) -> Violation:
    """The violation of a scope without a policy: a person must approve."""
    return Violation("policy", Severity.LIMIT,
                     f"no policy is stored for {provider}/{scope}, so nothing is approved "
                     "automatically")


def manual_only(version: int) -> Violation:
    """The violation of a policy that does not approve automatically."""
    return Violation("auto_approve", Severity.LIMIT,
                     f"policy v{version} does not approve plans automatically")
