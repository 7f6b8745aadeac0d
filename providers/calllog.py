"""One log line per provider call, with its parameters and outcome, and never a secret.

Every call a provider makes to its cloud goes through :func:`logged_call`:

    with logged_call("gcp", "regionCommitments.insert", project=p, region=r) as call:
        ...
        call.note(status="DONE")

It logs at INFO on ``ladder.providers.<provider>`` when the call ends: the
operation, its parameters, the outcome (``ok`` or the exception's type) and the
duration. Parameters whose name looks secret (token, secret, password,
credential, key but not ``idempotency_key``, signature, authorization) are
replaced by ``***``; values are shortened to 200 characters. Credentials never
reach it: providers pass names and identifiers only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_SECRET = re.compile(r"token|secret|passw|credential|signature|authori[sz]ation|cookie",
                     re.IGNORECASE)
_NOT_SECRET_KEYS = frozenset({"idempotency_key", "usage_key"})
_MAX = 200


def redact(params: dict[str, Any]) -> dict[str, str]:
    """Parameters as short strings, with secret-looking names masked."""
    shown: dict[str, str] = {}
    for name, value in params.items():
        lowered = name.lower()
        if _SECRET.search(name) or (lowered.endswith("key") and lowered not in _NOT_SECRET_KEYS):
            shown[name] = "***"
            continue
        text = str(value)
        shown[name] = text if len(text) <= _MAX else text[:_MAX] + "…"
    return shown


@dataclass
class Call:
    """A call in progress: notes added to it appear in its log line."""

    provider: str
    operation: str
    params: dict[str, Any]
    notes: dict[str, Any] = field(default_factory=dict)

    def note(self, **notes: Any) -> None:
        """Add facts learnt during the call (status, ids) to its log line."""
        self.notes.update(notes)


@contextmanager
def logged_call(provider: str, operation: str, /, **params: Any) -> Iterator[Call]:
    """Log one provider call when it ends, with its outcome and duration."""
    logger = logging.getLogger(f"ladder.providers.{provider}")
    call = Call(provider, operation, params)
    started = time.monotonic()
    outcome = "ok"
    try:
        yield call
    except BaseException as exc:
        outcome = type(exc).__name__
        code = getattr(exc, "code", None)
        if code:
            call.note(code=code)
        raise
    finally:
        elapsed_ms = round((time.monotonic() - started) * 1000)
        logger.info(
            "%s %s %s in %d ms %s %s", provider, operation, outcome, elapsed_ms,
            redact(call.params), redact(call.notes) if call.notes else "",
            extra={"provider": provider, "operation": operation, "outcome": outcome,
                   "elapsed_ms": elapsed_ms},
        )
