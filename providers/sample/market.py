"""The sample provider's simulated account: a market that sells from the bundled catalog.

Orders and the commitments they bought live in one JSON file (by default
``sample-account.json`` in Ladder's data directory), guarded by an exclusive file
lock, so that every process on the machine sees the same account. Writes go to a
temporary file that replaces the old one, so a process killed at any point
leaves either the old state or the new one.

The account behaves like a cloud that does **not** de-duplicate orders: a second
``purchase`` with the same idempotency key buys a second time (AWS's
``PurchaseReservedInstancesOffering`` has no client token). Making sure that
never happens is the executor's job, and ``orders()`` lets tests count.

It also exchanges and takes back what it owns, as AWS does: the commitments
bought here, and the ``inventory`` the account held before (the sample
provider's bundled one).

* ``exchange`` gives up units of owned, active **convertible** unit commitments
  (``convertible`` in the offering's kind, or an ``ri-conv`` id) for units of a
  convertible offering covering the same region. The value of what is given up
  and of what is received is their amortized cost per hour over the hours the
  given commitment has left; the new must be worth at least the old, and the
  difference is the true-up paid now (the quote's ``upfront``; its ``hourly`` is
  the change in hourly fees). The units received start at the account's clock
  for the target's full term. A second exchange with the same key returns the
  first one's result without exchanging again (logged as ``duplicate``).
* ``return_commitment`` hands back a Savings Plan (a spend commitment) within
  :data:`RETURN_WINDOW_HOURS` of its start, refunding its upfront; idempotent by
  key in the same way. Nothing else can be returned.

Exchanges and returns are orders too (``kind`` ``exchange`` / ``return``), so
``find_order`` sees them; a refused one raises ``InvalidExchange`` /
``NotReturnable`` and leaves no order. ``owned()`` applies them: what was
returned is gone, what was exchanged is reduced by the units given up, and what
was received is there.

Faults can be injected for tests (:meth:`SampleMarket.inject`); each is stored in
the account file and used up when it fires, so a process restarted after a
crash does not crash again:

* ``crash_before``: the process is killed (SIGKILL) on entering the call, before
  the order reaches the account;
* ``crash_after``: the order is placed and saved, then the process is killed
  before the answer is returned;
* ``timeout_before`` / ``timeout_after``: a retryable ``RequestTimeout`` without /
  after the order being placed — either way the caller cannot know which;
* ``throttle``: a retryable ``Throttling`` refusal with ``retry_after_s``; nothing
  is placed;
* ``error``: a refusal that is not retryable; nothing is placed.

Commitments start at the account's clock: by default the end of the bundled
usage history (2024-09-01), the moment the sample's plans are decided for, so
that what is bought counts in the next optimisation.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.domain import (
    HOUR,
    Catalog,
    Commitment,
    Shape,
    is_convertible,
    offering_regions,
)
from core.errors import ProviderError
from providers.base import (
    ExchangeRequest,
    OrderResult,
    OrderStatus,
    PurchaseRequest,
    Quote,
    ReturnRequest,
)
from providers.jsonfile import write_json_atomically

ACCOUNT_FILE = "sample-account.json"
"""Name of the simulated account's file inside Ladder's data directory."""
SAMPLE_ACCOUNT_NOW = datetime(2024, 9, 1, tzinfo=UTC)
"""The simulated account's clock: the end of the bundled usage history."""
OPERATIONS = ("quote_purchase", "purchase", "find_order", "quote_exchange", "exchange",
              "return_commitment")
"""The calls faults can be injected into."""
RETURN_WINDOW_HOURS = 168
"""Hours after its start during which a Savings Plan can be returned (AWS: 7 days)."""
_EPSILON = 1e-9


class FaultKind(StrEnum):
    """What an injected fault does (see the module's docstring)."""

    CRASH_BEFORE = "crash_before"
    CRASH_AFTER = "crash_after"
    TIMEOUT_BEFORE = "timeout_before"
    TIMEOUT_AFTER = "timeout_after"
    THROTTLE = "throttle"
    ERROR = "error"


def _empty_state() -> dict[str, Any]:
    return {"next_id": 1, "orders": [], "calls": [], "faults": []}


@dataclass(frozen=True, slots=True)
class _ExchangeTerms:
    """What an allowed exchange gives up, receives and costs."""

    gives: Mapping[str, float]
    old_value: float
    new_value: float
    payment_due: float
    hourly_change: float
    hourly: float


def _kill_self() -> None:
    """Die at once, as a process killed by the OS: no cleanup, no exception handlers."""
    os.kill(os.getpid(), signal.SIGKILL)


class SampleMarket:
    """A simulated account selling the sample catalog's offerings (a ``providers.base.Market``)."""

    irreversible = False

    def __init__(
        self,
        catalog: Catalog,
        path: Path,
        *,
        clock: Callable[[], datetime] = lambda: SAMPLE_ACCOUNT_NOW,
        inventory: Sequence[Commitment] = (),
    ) -> None:
        self.catalog = catalog
        self.path = Path(path)
        self.clock = clock
        self.inventory = tuple(inventory)
        """Commitments the account held before any order (the sample's bundled inventory)."""

    # --- the file and its lock ------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        """The file whose exclusive lock serialises every access to the account."""
        return self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The account's state under the lock; saved when the block ends without error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                state = self._read()
                yield state
                self._write(state)
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return _empty_state()
        state: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return state

    def _write(self, state: dict[str, Any]) -> None:
        write_json_atomically(self.path, state)

    def _save_now(self, state: dict[str, Any]) -> None:
        """Save inside the locked block, before leaving it abnormally (a crash, an error)."""
        self._write(state)

    # --- faults ------------------------------------------------------------------------------

    def inject(
        self, kind: FaultKind | str, *, on: str = "purchase", times: int = 1,
        retry_after_s: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``on`` fail with ``kind`` (stored in the account)."""
        if on not in OPERATIONS:
            raise ValueError(f"faults can be injected into {', '.join(OPERATIONS)}, not {on!r}")
        fault = {"on": on, "kind": str(FaultKind(kind)), "times": int(times),
                 "retry_after_s": float(retry_after_s)}
        with self._locked() as state:
            state["faults"].append(fault)

    def clear_faults(self) -> None:
        """Remove every fault not yet used."""
        with self._locked() as state:
            state["faults"] = []

    def _take_fault(self, state: dict[str, Any], on: str) -> dict[str, Any] | None:
        for fault in state["faults"]:
            if fault["on"] == on and fault["times"] > 0:
                fault["times"] -= 1
                state["faults"] = [f for f in state["faults"] if f["times"] > 0]
                return dict(fault)
        return None

    def _fail_before(self, state: dict[str, Any], fault: dict[str, Any] | None, op: str) -> None:
        """Apply a fault that strikes before the call does anything."""
        if fault is None:
            return
        kind = FaultKind(fault["kind"])
        if kind is FaultKind.CRASH_BEFORE:
            self._log(state, op, "", "crashed before")
            self._save_now(state)
            _kill_self()
        if kind is FaultKind.THROTTLE:
            self._log(state, op, "", "throttled")
            self._save_now(state)
            raise ProviderError("Rate exceeded", retryable=True,
                                retry_after_s=fault["retry_after_s"], code="Throttling")
        if kind is FaultKind.TIMEOUT_BEFORE:
            self._log(state, op, "", "timed out before")
            self._save_now(state)
            raise ProviderError(f"{op} timed out", retryable=True, code="RequestTimeout")
        if kind is FaultKind.ERROR:
            self._log(state, op, "", "refused")
            self._save_now(state)
            raise ProviderError(f"{op} refused by the sample account", retryable=False,
                                code="InvalidParameterValue")

    def _fail_after(self, state: dict[str, Any], fault: dict[str, Any] | None, op: str) -> None:
        """Apply a fault that strikes once the call has done its work."""
        if fault is None:
            return
        kind = FaultKind(fault["kind"])
        if kind is FaultKind.CRASH_AFTER:
            self._save_now(state)
            _kill_self()
        if kind is FaultKind.TIMEOUT_AFTER:
            self._save_now(state)
            raise ProviderError(f"{op} timed out", retryable=True, code="RequestTimeout")

    def _log(self, state: dict[str, Any], op: str, key: str, outcome: str) -> None:
        state["calls"].append({"op": op, "idempotency_key": key, "outcome": outcome,
                               "at": datetime.now(UTC).isoformat()})

    # --- the Market protocol ------------------------------------------------------------------

    def quote_purchase(self, request: PurchaseRequest) -> Quote:
        """The catalog's price of the purchase; invalid for unknown offerings or quantities."""
        with self._locked() as state:
            self._fail_before(state, self._take_fault(state, "quote_purchase"), "quote_purchase")
            self._log(state, "quote_purchase", request.idempotency_key, "quoted")
        try:
            offering = self.catalog.offering(request.offering_id)
        except KeyError:
            return Quote(False, 0.0, 0.0, detail=f"unknown offering {request.offering_id!r}")
        if request.quantity <= 0:
            return Quote(False, 0.0, 0.0, detail="quantity must be > 0")
        return Quote(True, request.quantity * offering.upfront,
                     request.quantity * offering.hourly, currency=self.catalog.currency)

    def purchase(self, request: PurchaseRequest) -> OrderResult:
        """Buy: one order and one commitment per call, even for a key already used."""
        with self._locked() as state:
            fault = self._take_fault(state, "purchase")
            self._fail_before(state, fault, "purchase")
            key = request.idempotency_key
            try:
                offering = self.catalog.offering(request.offering_id)
            except KeyError:
                self._log(state, "purchase", key, "unknown offering")
                self._save_now(state)
                raise ProviderError(f"unknown offering {request.offering_id!r}",
                                    retryable=False, code="InvalidParameterValue") from None
            upfront = request.quantity * offering.upfront
            order: dict[str, Any] = {
                "idempotency_key": key, "offering_id": request.offering_id,
                "quantity": request.quantity, "upfront": upfront,
                "hourly": request.quantity * offering.hourly,
                "placed_at": datetime.now(UTC).isoformat(), "commitment_ids": [],
            }
            limit = request.limit_upfront
            if request.quantity <= 0 or (limit is not None and upfront > limit + 1e-9):
                order["status"] = str(OrderStatus.FAILED)
                order["detail"] = (f"upfront {upfront:.2f} above the limit {limit}"
                                   if request.quantity > 0 else "quantity must be > 0")
            else:
                commitment_id = f"sample-{state['next_id']:06d}"
                state["next_id"] += 1
                start = request.start or self.clock()
                order |= {"status": str(OrderStatus.ACTIVE), "commitment_ids": [commitment_id],
                          "start": start.astimezone(UTC).isoformat(), "detail": ""}
            state["orders"].append(order)
            self._log(state, "purchase", key, order["status"])
            self._fail_after(state, fault, "purchase")
            return self._result(order)

    def find_order(self, idempotency_key: str) -> OrderResult:
        """The first order placed with this key, or ``not_found``."""
        with self._locked() as state:
            self._fail_before(state, self._take_fault(state, "find_order"), "find_order")
            self._log(state, "find_order", idempotency_key, "looked up")
            orders = [o for o in state["orders"] if o["idempotency_key"] == idempotency_key]
        if not orders:
            return OrderResult(idempotency_key, OrderStatus.NOT_FOUND)
        return self._result(orders[0])

    def quote_exchange(self, request: ExchangeRequest) -> Quote:
        """The true-up of an exchange; invalid (with the reason) when the account refuses it."""
        with self._locked() as state:
            self._fail_before(state, self._take_fault(state, "quote_exchange"), "quote_exchange")
            problem, terms = self._exchange_terms(request, self._held(state))
            self._log(state, "quote_exchange", request.idempotency_key,
                      f"invalid: {problem}" if problem else "quoted")
        if terms is None:
            return Quote(False, 0.0, 0.0, currency=self.catalog.currency, detail=problem)
        return Quote(True, terms.payment_due, terms.hourly_change, currency=self.catalog.currency,
                     detail=f"worth ${terms.new_value:,.2f} against ${terms.old_value:,.2f} "
                            "given up")

    def exchange(self, request: ExchangeRequest) -> OrderResult:
        """Exchange: give up the units, receive the target's (idempotent by key)."""

        def order(state: dict[str, Any]) -> dict[str, Any]:
            problem, terms = self._exchange_terms(request, self._held(state))
            if terms is None:
                raise ProviderError(f"the sample account refuses the exchange: {problem}",
                                    retryable=False, code="InvalidExchange")
            commitment_id = f"sample-{state['next_id']:06d}"
            state["next_id"] += 1
            given = ", ".join(f"{q:g} of {cid}" for cid, q in terms.gives.items())
            return {
                "kind": "exchange", "offering_id": request.target_offering_id,
                "quantity": request.quantity, "upfront": terms.payment_due,
                "hourly": terms.hourly, "given": dict(terms.gives),
                "commitment_ids": [commitment_id],
                "start": self.clock().astimezone(UTC).isoformat(),
                "detail": f"gave up {given} for {request.quantity:g} of "
                          f"{request.target_offering_id}; paid ${terms.payment_due:,.2f}",
            }

        return self._place_once("exchange", request.idempotency_key, order)

    def return_commitment(self, request: ReturnRequest) -> OrderResult:
        """Return a Savings Plan within its return window, refunding its upfront."""

        def order(state: dict[str, Any]) -> dict[str, Any]:
            commitment = self._held(state).get(request.commitment_id)
            problem, code = self._return_problem(request.commitment_id, commitment)
            if commitment is None or problem:
                raise ProviderError(f"the sample account refuses the return: {problem}",
                                    retryable=False, code=code)
            refund = commitment.quantity * commitment.offering.upfront
            return {
                "kind": "return", "offering_id": commitment.offering.offering_id,
                "quantity": commitment.quantity, "upfront": -refund, "hourly": 0.0,
                "returned": request.commitment_id, "refund": refund, "commitment_ids": [],
                "detail": f"returned {request.commitment_id}; refunded ${refund:,.2f}",
            }

        return self._place_once("return_commitment", request.idempotency_key, order)

    def _place_once(self, operation: str, key: str,
                    order: Callable[[dict[str, Any]], dict[str, Any]]) -> OrderResult:
        """An exchange or return, idempotent by ``key``: the earlier order with this key,
        or a new one built by ``order`` (which raises ProviderError to refuse; a refusal
        is logged and leaves no order). Injected faults apply as to purchases."""
        with self._locked() as state:
            fault = self._take_fault(state, operation)
            self._fail_before(state, fault, operation)
            placed = self._earlier(state, key)
            outcome = "duplicate"
            if placed is None:
                try:
                    placed = {**order(state), "idempotency_key": key,
                              "placed_at": datetime.now(UTC).isoformat(),
                              "status": str(OrderStatus.ACTIVE)}
                except ProviderError:
                    self._log(state, operation, key, "refused")
                    self._save_now(state)
                    raise
                state["orders"].append(placed)
                outcome = placed["status"]
            self._log(state, operation, key, outcome)
            self._fail_after(state, fault, operation)
            return self._result(placed)

    # --- the rules of exchanges and returns ------------------------------------------------

    @staticmethod
    def _earlier(state: dict[str, Any], key: str) -> dict[str, Any] | None:
        return next((o for o in state["orders"] if o["idempotency_key"] == key
                     and o.get("kind") in ("exchange", "return")), None)

    def _exchange_terms(
        self, request: ExchangeRequest, held: Mapping[str, Commitment]
    ) -> tuple[str, _ExchangeTerms | None]:
        """Why the exchange is refused ("" if it is not), and its terms when allowed."""
        try:
            target = self.catalog.offering(request.target_offering_id)
        except KeyError:
            return f"unknown offering {request.target_offering_id!r}", None
        if not is_convertible(target):
            return (f"{target.offering_id} is not a convertible reservation: an exchange "
                    "receives a convertible one"), None
        if not request.quantity > 0:
            return "the quantity received must be > 0", None
        if not request.commitment_ids:
            return "an exchange gives up at least one commitment", None
        if request.give_quantity is not None and len(request.commitment_ids) != 1:
            return "a partial exchange gives up units of one commitment", None
        now = self.clock()
        gives: dict[str, float] = {}
        old_value = old_hourly = 0.0
        longest = 0.0
        for commitment_id in request.commitment_ids:
            owned = held.get(commitment_id)
            if owned is None:
                return (f"{commitment_id} is not owned by the account (or was already "
                        "exchanged or returned)"), None
            if not owned.is_active(now):
                return f"{commitment_id} is not active at {now:%Y-%m-%d %H:%M} UTC", None
            if not is_convertible(owned.offering):
                return (f"{commitment_id} ({owned.offering.offering_id}) is not convertible: "
                        "only convertible reservations can be exchanged"), None
            old_regions, new_regions = offering_regions(owned.offering), offering_regions(target)
            if old_regions != new_regions or not new_regions:
                return (f"{commitment_id} covers {', '.join(sorted(old_regions))}"
                        f" and {target.offering_id} "
                        f"{', '.join(sorted(new_regions)) or 'no known region'}: an "
                        "exchange stays in its region"), None
            give = owned.quantity if request.give_quantity is None else request.give_quantity
            if not 0 < give <= owned.quantity + _EPSILON or commitment_id in gives:
                return (f"cannot give up {give:g} units of {commitment_id}: it has "
                        f"{owned.quantity:g}"), None
            hours_left = (owned.end - now) / HOUR
            longest = max(longest, hours_left)
            gives[commitment_id] = give
            old_value += give * owned.offering.amortized_hourly * hours_left
            old_hourly += give * owned.offering.hourly
        new_value = request.quantity * target.amortized_hourly * longest
        if new_value < old_value * (1 - _EPSILON):
            return (f"{request.quantity:g} of {target.offering_id} are worth "
                    f"${new_value:,.2f}, less than the ${old_value:,.2f} given up: the new "
                    "must be worth at least the old"), None
        hourly = request.quantity * target.hourly
        return "", _ExchangeTerms(gives, old_value, new_value,
                                  max(new_value - old_value, 0.0), hourly - old_hourly, hourly)

    def _return_problem(self, commitment_id: str,
                        commitment: Commitment | None) -> tuple[str, str]:
        """Why the commitment cannot be returned now, and the error code; ("", "") if it can."""
        if commitment is None:
            return (f"{commitment_id} is not owned by the account (or was already returned "
                    "or exchanged)", "NotReturnable")
        if commitment.offering.shape is not Shape.SPEND:
            return (f"{commitment_id} ({commitment.offering.offering_id}) is a reservation: "
                    "only Savings Plans can be returned", "NotReturnable")
        until = commitment.start + RETURN_WINDOW_HOURS * HOUR
        if self.clock() >= until:
            return (f"{commitment_id} could be returned until {until:%Y-%m-%d %H:%M} UTC "
                    f"({RETURN_WINDOW_HOURS} h after its start)", "ReturnWindowClosed")
        return "", ""

    # --- reading the account ----------------------------------------------------------------

    @staticmethod
    def _result(order: dict[str, Any]) -> OrderResult:
        return OrderResult(order["idempotency_key"], OrderStatus(order["status"]),
                           tuple(order["commitment_ids"]), order.get("detail", ""))

    def orders(self) -> list[dict[str, Any]]:
        """Every order placed, in order, failed ones included (for inspection and tests)."""
        with self._locked() as state:
            return list(state["orders"])

    def calls(self) -> list[dict[str, Any]]:
        """Every call the account received, with its outcome."""
        with self._locked() as state:
            return list(state["calls"])

    def _held(self, state: dict[str, Any]) -> dict[str, Commitment]:
        """Every commitment owned, by id, once the orders are applied in the order placed."""
        held: dict[str, Commitment] = {c.commitment_id: c for c in self.inventory
                                       if c.commitment_id}
        for order in state["orders"]:
            if order["status"] != str(OrderStatus.ACTIVE):
                continue
            if order.get("kind") == "return":
                held.pop(order["returned"], None)
                continue
            for commitment_id, quantity in order.get("given", {}).items():
                owned = held.get(commitment_id)
                if owned is None:
                    continue
                if owned.quantity - quantity <= _EPSILON:
                    del held[commitment_id]
                else:
                    held[commitment_id] = replace(owned, quantity=owned.quantity - quantity)
            for commitment_id in order["commitment_ids"]:
                held[commitment_id] = Commitment(
                    offering=self.catalog.offering(order["offering_id"]),
                    quantity=float(order["quantity"]),
                    start=datetime.fromisoformat(order["start"]),
                    commitment_id=commitment_id,
                )
        return held

    def owned(self) -> tuple[Commitment, ...]:
        """Every commitment the account owns now: its ``inventory`` and what it bought or
        received, less what it returned or gave up in exchanges."""
        if not self.path.exists():
            return self.inventory
        with self._locked() as state:
            held = self._held(state)
        # Commitments without an id cannot be named by an order: they stay as they are.
        return (*(c for c in self.inventory if not c.commitment_id), *held.values())

    def commitments(self) -> tuple[Commitment, ...]:
        """The commitments bought or received in this account and still owned."""
        before = {c.commitment_id for c in self.inventory}
        return tuple(c for c in self.owned() if c.commitment_id not in before)


__all__ = [
    "ACCOUNT_FILE",
    "RETURN_WINDOW_HOURS",
    "SAMPLE_ACCOUNT_NOW",
    "FaultKind",
    "SampleMarket",
]
