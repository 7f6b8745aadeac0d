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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.domain import Catalog, Commitment
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
OPERATIONS = ("quote_purchase", "purchase", "find_order")
"""The calls faults can be injected into."""


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
    ) -> None:
        self.catalog = catalog
        self.path = Path(path)
        self.clock = clock

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
        """The sample account sells only: no exchange is ever valid."""
        return Quote(False, 0.0, 0.0, detail="the sample account does not exchange commitments")

    def exchange(self, request: ExchangeRequest) -> OrderResult:
        """Not supported by the sample account."""
        raise ProviderError("the sample account does not exchange commitments",
                            retryable=False, code="NotSupported")

    def return_commitment(self, request: ReturnRequest) -> OrderResult:
        """Not supported by the sample account."""
        raise ProviderError("the sample account does not take commitments back",
                            retryable=False, code="NotSupported")

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

    def commitments(self) -> tuple[Commitment, ...]:
        """The commitments bought in this account, as Ladder's domain values."""
        if not self.path.exists():
            return ()
        with self._locked() as state:
            orders = [o for o in state["orders"] if o["status"] == str(OrderStatus.ACTIVE)]
        return tuple(
            Commitment(
                offering=self.catalog.offering(order["offering_id"]),
                quantity=float(order["quantity"]),
                start=datetime.fromisoformat(order["start"]),
                commitment_id=commitment_id,
            )
            for order in orders
            for commitment_id in order["commitment_ids"]
        )


__all__ = ["ACCOUNT_FILE", "SAMPLE_ACCOUNT_NOW", "FaultKind", "SampleMarket"]
