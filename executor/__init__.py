"""The executor: from an approved plan to provider calls, safely, with every step audited.

* :mod:`executor.lifecycle` — plan statuses and the transitions allowed;
* :mod:`executor.policy` — the versioned policy of a provider's scope;
* :mod:`executor.guardrails` — each check of a plan against the policy, with reasons;
* :mod:`executor.approval` — automatic approval inside the policy, approvers outside it;
* :mod:`executor.execute` — exactly-once execution of a plan, dry run;
* :mod:`executor.placement` — one action placed: quote, intent, call, outcome;
* :mod:`executor.reconcile` — unfinished actions settled with the provider;
* :mod:`executor.recording` — statuses, inventory and audit entries, a plan's final status;
* :mod:`executor.provider_calls` — the one retry loop of every provider call;
* :mod:`executor.locks` — one run at a time per scope (advisory lock / lease row);
* :mod:`executor.audit` — the hash-chained, append-only audit log;
* :mod:`executor.notify` — webhook notifications (Slack-compatible JSON).

The executor decides nothing about *what* to buy: plans come from the optimizer.
"""

from executor.approval import Actor, Decision, approve, decide, reject, review
from executor.execute import ExecutionReport, Executor, ReconcileReport, RetryPolicy
from executor.lifecycle import PlanStatus
from executor.locks import LockLost, ScopeLocked, run_lock
from executor.policy import BlackoutWindow, ScopePolicy, StoredPolicy, load_policy, save_policy

__all__ = [
    "Actor",
    "BlackoutWindow",
    "Decision",
    "ExecutionReport",
    "Executor",
    "LockLost",
    "PlanStatus",
    "ReconcileReport",
    "RetryPolicy",
    "ScopeLocked",
    "ScopePolicy",
    "StoredPolicy",
    "approve",
    "decide",
    "load_policy",
    "reject",
    "review",
    "run_lock",
    "save_policy",
]
