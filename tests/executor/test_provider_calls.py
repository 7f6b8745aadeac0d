"""The one retry loop of the executor's provider calls (executor.provider_calls)."""

from __future__ import annotations

import pytest

from core.errors import ProviderError
from executor.provider_calls import RetryPolicy, call_with_retries


def failing(errors: list[ProviderError], answer: str = "ok"):  # type: ignore[no-untyped-def]
    """A call that raises ``errors`` in turn, then answers; it counts its calls."""
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return answer

    return call, calls


def test_retryable_errors_are_retried_with_backoff_until_the_answer() -> None:
    """Two throttles, then an answer: three calls; the first wait is the base (1 s), the
    second the 7 s the provider asked for (without it, 2 s: the base doubled)."""
    slept: list[float] = []
    call, calls = failing([ProviderError("slow down", retryable=True),
                           ProviderError("slow down", retryable=True, retry_after_s=7)])
    assert call_with_retries(call, RetryPolicy(attempts=5, base_s=1.0), slept.append) == "ok"
    assert len(calls) == 3 and slept == [1.0, 7.0]


def test_a_refusal_is_not_retried_and_the_last_error_is_returned() -> None:
    slept: list[float] = []
    refused = ProviderError("no such offering", retryable=False)
    call, calls = failing([refused])
    assert call_with_retries(call, RetryPolicy(attempts=5), slept.append) is refused
    assert len(calls) == 1 and slept == []


def test_attempts_are_spent_and_the_hook_sees_which_error_is_final() -> None:
    seen: list[tuple[str, bool]] = []
    errors = [ProviderError(f"timeout {i}", retryable=True) for i in range(3)]
    call, calls = failing(errors)

    def on_error(error: ProviderError, final: bool) -> bool:
        seen.append((str(error), final))
        return True

    result = call_with_retries(call, RetryPolicy(attempts=3, base_s=0.0), lambda _: None,
                               on_error=on_error)
    assert result is errors[2] and len(calls) == 3
    assert seen == [("timeout 0", False), ("timeout 1", False), ("timeout 2", True)]


def test_the_hook_can_stop_the_retries() -> None:
    """Placement stops when find_order says the order reached the provider."""
    call, calls = failing([ProviderError("timeout", retryable=True)] * 3)
    result = call_with_retries(call, RetryPolicy(attempts=5), lambda _: None,
                               on_error=lambda _error, _final: False)
    assert isinstance(result, ProviderError) and len(calls) == 1


def test_other_exceptions_propagate_at_once() -> None:
    def call() -> str:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        call_with_retries(call, RetryPolicy(attempts=5), lambda _: None)
