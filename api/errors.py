"""Errors as RFC 9457 problem details: one renderer, one handler per kind of error.

Ladder's own errors (``core.errors.LadderError`` and its subclasses) carry their
status code and title; the handlers here render them, FastAPI's request
validation errors (422), and Starlette's HTTP errors (unknown route, method not
allowed, body too large) as ``application/problem+json``. Nothing else in the
API builds an error response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.db.session import database_unavailable
from core.errors import DatabaseUnavailable, InvalidInput, LadderError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:ladder:problem:"
"""Ladder's problem types are URNs named after the error's title (``…:policy-violation``)."""

logger = logging.getLogger(__name__)


class Unauthenticated(LadderError):
    """The request carries no API key, or one that is unknown or revoked."""

    status_code = 401
    title = "Unauthorized"


class ServiceUnavailable(LadderError):
    """This server cannot do what was asked (it was started without the part that does it)."""

    status_code = 503
    title = "Service unavailable"


class FieldProblem(BaseModel):
    """One invalid request field: where it is and what is wrong with it."""

    location: str = Field(description="Where the field is: path, query, header or body.")
    field: str = Field(description="The field's name; dotted for nested body fields.")
    message: str
    type: str = Field(description="The kind of error, e.g. greater_than_equal, missing.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="A URI reference naming the problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong in this occurrence.")
    instance: str | None = Field(default=None, description="The path of the request.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Each invalid field (422 only)."
    )


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI response entry whose body is a problem document."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


Responses = dict[int | str, dict[str, Any]]
"""Extra responses of a route, for the OpenAPI document."""

PROBLEM_RESPONSES: Responses = {
    400: problem_doc("The request could not be read (a body that is not UTF-8, say)."),
    401: problem_doc("No API key, or an unknown or revoked one."),
    403: problem_doc("The key's role does not allow this."),
    413: problem_doc("The request body is larger than the limit."),
    422: problem_doc("A parameter or the body is invalid; ``errors`` names each field."),
    503: {**problem_doc("The database is unavailable (unreachable or locked); try again "
                        "after ``Retry-After`` seconds."),
          "headers": {"Retry-After": {"description": "Seconds to wait before trying again.",
                                      "schema": {"type": "integer"}}}},
}
"""Problems every authenticated route may answer, for the OpenAPI document."""

NOT_FOUND: Responses = {404: problem_doc("No such resource.")}
CONFLICT: Responses = {409: problem_doc("The request conflicts with the resource's current "
                                        "state.")}


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def problem(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    type_: str | None = None,
    errors: Sequence[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response; ``title`` defaults to the status's reason phrase."""
    body = Problem(
        type=type_ or "about:blank",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def _field_problem(error: Mapping[str, Any]) -> FieldProblem:
    location = [str(part) for part in error.get("loc", ())]
    where = location[0] if location else "request"
    name = ".".join(location[1:]) or where
    return FieldProblem(location=where, field=name, message=str(error.get("msg", "invalid")),
                        type=str(error.get("type", "value_error")))


async def _ladder_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LadderError)
    headers = {"WWW-Authenticate": 'Bearer realm="ladder"'} if exc.status_code == 401 else None
    if isinstance(exc, DatabaseUnavailable):
        headers = {"Retry-After": str(exc.retry_after_s)}
    if exc.status_code >= 500:
        logger.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path,
                     exc)
    errors = None
    if isinstance(exc, InvalidInput) and exc.column:
        # Ladder's services name the field; where it was sent follows from the method.
        where = "query" if request.method in ("GET", "HEAD", "DELETE") else "body"
        errors = [FieldProblem(location=where, field=exc.column, message=str(exc),
                               type="value_error")]
    return problem(
        exc.status_code,
        title=exc.title,
        detail=str(exc) or None,
        instance=request.url.path,
        type_="about:blank" if exc.status_code == 401 else PROBLEM_TYPE_PREFIX + _slug(exc.title),
        errors=errors,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(error) for error in jsonable_encoder(exc.errors())]
    detail = "; ".join(f"{e.location} {e.field}: {e.message}" for e in errors[:5])
    return problem(
        422,
        title="Invalid request",
        detail=detail or "the request is invalid",
        instance=request.url.path,
        type_=PROBLEM_TYPE_PREFIX + "invalid-request",
        errors=errors,
    )


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if part.startswith("{") else re.escape(part)
                                    for part in parts) + "$")


def allowed_methods(app: Any, path: str) -> list[str]:
    """The methods the OpenAPI document lists for a request path (for ``Allow``)."""
    patterns: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "allow_patterns", None)
    if patterns is None:
        patterns = [(_path_pattern(template), [method.upper() for method in operations])
                    for template, operations in app.openapi().get("paths", {}).items()]
        app.state.allow_patterns = patterns
    methods = {method for pattern, listed in patterns if pattern.match(path) for method in listed}
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    headers = dict(getattr(exc, "headers", None) or {})
    if status == 405:
        # Starlette names the methods of the first route that matched the path only.
        allowed = allowed_methods(request.app, request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem(status, detail=detail, instance=request.url.path, headers=headers)


DATABASE_UNAVAILABLE_DETAIL = ("the database is unavailable (unreachable, or locked by other "
                               "work); try again shortly")
"""What a client is told: the cause (host, port, driver message) stays in the server's log."""


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    unavailable = database_unavailable(exc)
    if unavailable is None:
        return await _unexpected_error(request, exc)
    logger.warning("503 on %s %s: %s", request.method, request.url.path, unavailable)
    return problem(503, title=DatabaseUnavailable.title, detail=DATABASE_UNAVAILABLE_DETAIL,
                   instance=request.url.path,
                   type_=PROBLEM_TYPE_PREFIX + _slug(DatabaseUnavailable.title),
                   headers={"Retry-After": str(unavailable.retry_after_s)})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path,
                     exc_info=exc)
    return problem(500, detail="an unexpected error occurred; it has been logged",
                   instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as problem details."""
    app.add_exception_handler(LadderError, _ladder_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
