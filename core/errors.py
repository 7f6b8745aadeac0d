"""One error hierarchy for Ladder, each error with the HTTP status it maps to."""

from __future__ import annotations


class LadderError(Exception):
    """Base of every error Ladder raises on purpose."""

    status_code: int = 500
    title: str = "Internal error"


class InvalidInput(LadderError):
    """Input that Ladder cannot use: a file, a row, a field is wrong.

    The message names what was wrong (file, row, column, field) so that the
    user can fix it without reading the code.
    """

    status_code = 422
    title = "Invalid input"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        where = ", ".join(
            part
            for part in (
                f"file {source}" if source is not None else "",
                f"row {row}" if row is not None else "",
                f"column {column}" if column is not None else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class NotFound(LadderError):
    """A named thing (plan, dataset, offering) does not exist."""

    status_code = 404
    title = "Not found"


class Conflict(LadderError):
    """The request conflicts with the current state."""

    status_code = 409
    title = "Conflict"


class Forbidden(LadderError):
    """The caller lacks the role this needs (approving a plan needs ``approver``)."""

    status_code = 403
    title = "Forbidden"


class PolicyViolation(LadderError):
    """An action would break the policy a person set."""

    status_code = 403
    title = "Policy violation"


class DatabaseUnavailable(LadderError):
    """The database cannot be reached or stays locked: trying again later may work.

    The message never holds the database URL's password.
    """

    status_code = 503
    title = "Database unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 5) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class SolverError(LadderError):
    """The optimizer's solver did not prove an optimal solution."""

    status_code = 500
    title = "Solver error"


class ProviderError(LadderError):
    """A cloud provider call failed; ``retryable`` says whether trying again may help."""

    status_code = 502
    title = "Provider error"

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after_s: float | None = None,
        code: str | None = None,
    ) -> None:
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.code = code
        super().__init__(message)
