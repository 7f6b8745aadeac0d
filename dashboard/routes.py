"""The dashboard's routes: sign-in and out, one page per resource, plan decisions, CSV.

Every page is guarded by the permission of the ``/v1`` routes it reads (``PAGES``),
checked with ``api.roles``' matrix; a page's tables download as CSV from the same
request with ``?csv=TABLE``. Forms POST with the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, SettingsDep
from api.plans import service as plans_service
from api.plans.schemas import PlanApprove, PlanReject
from api.roles import Permission, roles_with
from core.errors import LadderError
from dashboard import bill_pages, pages
from dashboard.auth import (
    BadForm,
    Reader,
    clear_session_cookie,
    csrf_ok,
    read_form,
    safe_next,
    set_session_cookie,
    sign_in,
    signed_in,
    store_of,
)
from dashboard.figures import Page
from dashboard.navigation import PAGE_BY_PATH
from dashboard.periods import parse_day, parse_length
from dashboard.rendering import render, render_csv
from dashboard.sessions import COOKIE_NAME

router = APIRouter(include_in_schema=False)

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PLAN_TEMPLATE = "page_plan.html"


DECISIONS = {"approved": "Plan approved.", "rejected": "Plan rejected.",
             "expired": "The plan was past its validity: it is expired, not approved."}


def _sign_in_form(request: Request, *, status: int = 200, refused: bool = False) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "login.html", {"refused": refused, "next": safe_next(target)},
                  status_code=status)


def _forbidden(request: Request, reader: Reader, permission: Permission,
               message: str | None = None) -> Response:
    allowed = ", ".join(str(role) for role in roles_with(permission))
    text = message or (f"The {reader.role} role may not see this page; roles that may: "
                       f"{allowed}.")
    return render(request, "error.html", {"reader": reader, "status": 403, "message": text},
                  status_code=403)


def _serve(request: Request, session: SessionDep, path: str,
           build: Callable[[], Page | None], *, template: str | None = None,
           missing: str = "No such page: it may have been removed.",
           context: Callable[[Reader], dict[str, Any]] | None = None) -> Response:
    """A page for its reader: the sign-in form without a session, 403 without the
    permission, 404 with ``missing`` when ``build`` finds nothing, the page's CSV table
    with ``?csv=NAME``, else the page (``template``, by default the path's) with
    what ``context`` adds for the reader."""
    reader = signed_in(request, session)
    if reader is None:
        # The front door answers 200; a deep link or a download without a session, 401.
        front = request.url.path == "/" and "csv" not in request.query_params
        return _sign_in_form(request, status=200 if front else 401)
    spec = PAGE_BY_PATH[path]
    if not reader.may(spec.permission):
        return _forbidden(request, reader, spec.permission)
    page = build()
    if page is None:
        return render(request, "error.html", {"reader": reader, "status": 404,
                                              "message": missing}, status_code=404)
    wanted = request.query_params.get("csv")
    if wanted is not None:
        table = page.tables.get(wanted)
        if table is None:
            return render(request, "error.html", {"reader": reader, "status": 404,
                                                  "message": f"This page has no table "
                                                  f"{wanted!r}."}, status_code=404)
        return render_csv(table, filename=f"{page.title.lower().replace(' ', '-')}-{wanted}")
    return render(request, template or "page_" + _template(path),
                  {"reader": reader, "page": page, "spec": spec,
                   **(context(reader) if context else {})})


def _template(path: str) -> str:
    return ("overview" if path == "/" else path.strip("/").replace("/", "_")) + ".html"


def _query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value.strip() if value and value.strip() else None


@router.get("/")
def overview(request: Request, session: SessionDep) -> Response:
    """Savings, ESR, coverage, utilisation, waste and expiries for a period to date."""
    return _serve(request, session, "/", lambda: pages.overview(
        session, provider=_query(request, "provider"),
        length=parse_length(_query(request, "period")),
        last_day=parse_day(_query(request, "to"))))


@router.post("/login")
async def login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Start a session for a valid key; the form again, and nothing else, for any other."""
    try:
        form = await read_form(request)
    except BadForm:
        form = {}
    caller = await run_in_threadpool(sign_in, session, settings, form.get("key", ""))
    if caller is None:
        return render(request, "login.html", {"refused": True,
                                              "next": safe_next(form.get("next"))},
                      status_code=401)
    store = store_of(request)
    token = store.start(key_id=caller.key_id)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    set_session_cookie(request, response, token, max_age=int(store.ttl_s))
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request) -> Response:
    """End the session and return to the sign-in form."""
    store_of(request).end(request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.get("/plans")
def plans(request: Request, session: SessionDep) -> Response:
    """Every plan, newest first."""
    return _serve(request, session, "/plans", lambda: pages.plans(session))


@router.get("/plans/{plan_id}")
def plan(plan_id: PlanId, request: Request, session: SessionDep) -> Response:
    """One plan, with the approve and reject forms for those who may decide."""
    decided = DECISIONS.get(request.query_params.get("decided", ""))
    return _serve(request, session, "/plans", lambda: pages.plan(session, plan_id),
                  template=PLAN_TEMPLATE, missing=f"There is no plan {plan_id}.",
                  context=lambda reader: _plan_context(reader, decided=decided, error=None))


def _plan_context(reader: Reader, *, decided: str | None, error: str | None) -> dict[str, Any]:
    """What the plan's template needs beside the page: the outcome or error of a decision,
    and whether the reader may decide."""
    return {"decided": decided, "error": error, "may_decide": reader.may(Permission.DECIDE_PLANS)}


async def _decide(request: Request, session: SessionDep, plan_id: int, action: str) -> Response:
    """Approve or reject through the API's plan service, as the signed-in caller.

    Refused with 403 without a session, without the form's CSRF token, or without
    the permission; an invalid reason or a refusal by the executor re-renders the plan
    with the reason, and nothing of the failed decision is kept.
    """
    reader = signed_in(request, session)
    if reader is None:
        return Response("Sign in first.", status_code=403, media_type="text/plain")
    try:
        form = await read_form(request)
    except BadForm:
        form = {}
    if not csrf_ok(reader, form):
        return _forbidden(request, reader, Permission.DECIDE_PLANS,
                          "This form is not one this session sent (its CSRF token is missing "
                          "or wrong): reload the plan and try again.")
    if not reader.may(Permission.DECIDE_PLANS):
        return _forbidden(request, reader, Permission.DECIDE_PLANS)
    return await run_in_threadpool(_decided, request, session, reader, plan_id, action,
                                   form.get("reason", ""))


def _decided(request: Request, session: SessionDep, reader: Reader, plan_id: int, action: str,
             reason: str) -> Response:
    """The decision itself (blocking: database work), and the page it leads to."""
    try:
        if action == "approve":
            decision = plans_service.approve(session, plan_id, reader.caller,
                                             note=PlanApprove(note=reason).note)
        else:
            decision = plans_service.reject(session, plan_id, reader.caller,
                                            reason=PlanReject(reason=reason).reason)
    except ValidationError as exc:
        session.rollback()
        message = "; ".join(str(error["msg"]) for error in exc.errors())
        return _plan_error(request, session, reader, plan_id,
                           f"The reason was not accepted: {message}.", 422)
    except LadderError as exc:
        session.rollback()
        return _plan_error(request, session, reader, plan_id, str(exc), exc.status_code)
    outcome = "rejected" if action == "reject" else (
        "approved" if decision.approved else str(decision.status))
    return RedirectResponse(f"/plans/{plan_id}?{urlencode({'decided': outcome})}",
                            status_code=303)


def _plan_error(request: Request, session: SessionDep, reader: Reader, plan_id: int,
                message: str, status: int) -> Response:
    page = pages.plan(session, plan_id)
    if page is None:
        return render(request, "error.html", {"reader": reader, "status": status,
                                              "message": message}, status_code=status)
    return render(request, PLAN_TEMPLATE, {
        "reader": reader, "page": page, "spec": PAGE_BY_PATH["/plans"],
        **_plan_context(reader, decided=None, error=message)}, status_code=status)


@router.post("/plans/{plan_id}/approve")
async def approve(plan_id: PlanId, request: Request, session: SessionDep) -> Response:
    """Approve a plan from its page's form."""
    return await _decide(request, session, plan_id, "approve")


@router.post("/plans/{plan_id}/reject")
async def reject(plan_id: PlanId, request: Request, session: SessionDep) -> Response:
    """Reject a plan from its page's form."""
    return await _decide(request, session, plan_id, "reject")


@router.get("/commitments")
def commitments(request: Request, session: SessionDep) -> Response:
    """The inventory and the expiry calendar."""
    return _serve(request, session, "/commitments", lambda: pages.commitments(session))


@router.get("/budgets")
def budgets(request: Request, session: SessionDep) -> Response:
    """Each budget against actual and forecast."""
    return _serve(request, session, "/budgets", lambda: pages.budgets(session))


@router.get("/chargeback")
def chargeback(request: Request, session: SessionDep) -> Response:
    """Cost and benefit by team, tag or account."""
    group_by = _query(request, "group_by") or "account"
    return _serve(request, session, "/chargeback", lambda: pages.chargeback(
        session, provider=_query(request, "provider"),
        length=parse_length(_query(request, "period")),
        last_day=parse_day(_query(request, "to")),
        group_by=group_by if group_by in pages.CHARGE_GROUPS else "account",
        tag_key=_query(request, "tag_key")))


@router.get("/runs")
def runs(request: Request, session: SessionDep) -> Response:
    """The run history."""
    return _serve(request, session, "/runs", lambda: pages.runs(session))


@router.get("/audit")
def audit(request: Request, session: SessionDep) -> Response:
    """The audit log."""
    return _serve(request, session, "/audit", lambda: pages.audit(session))


@router.get("/spend")
def spend(request: Request, session: SessionDep) -> Response:
    """Spend on the whole bill by a dimension, for a period to date, on a basis."""
    return _serve(request, session, "/spend", lambda: bill_pages.spend(
        session, provider=_query(request, "provider"),
        length=parse_length(_query(request, "period")),
        last_day=parse_day(_query(request, "to")),
        group_by=bill_pages.pick(_query(request, "group_by"), bill_pages.SPEND_GROUPS,
                                 "service_category"),
        tag_key=_query(request, "tag_key"), basis=_basis(request)))


def _basis(request: Request) -> str:
    return bill_pages.pick(_query(request, "basis"), ("amortized", "cash"), "amortized")


@router.get("/spend-forecast")
def spend_forecast(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The spend forecast to the end of the month, quarter and fiscal year."""
    return _serve(request, session, "/spend-forecast", lambda: bill_pages.spend_forecast(
        session, provider=_query(request, "provider"), basis=_basis(request),
        group_by=bill_pages.pick(_query(request, "group_by"),
                                 ("none", *bill_pages.SPEND_GROUPS), "none"),
        tag_key=_query(request, "tag_key"), as_of=parse_day(_query(request, "as_of")),
        horizon=bill_pages.pick(_query(request, "horizon"), tuple(bill_pages.HORIZON_NAMES),
                                "month"),
        fiscal_year_start_month=settings.fiscal_year_start_month))


@router.get("/variance")
def variance(request: Request, session: SessionDep) -> Response:
    """The month's variance: budgets, actual, forecast and the top movers."""
    return _serve(request, session, "/variance", lambda: bill_pages.variance(
        session, provider=_query(request, "provider"), basis=_basis(request),
        group_by=bill_pages.pick(_query(request, "group_by"), bill_pages.MOVER_GROUPS,
                                 "service"),
        tag_key=_query(request, "tag_key"),
        top=int(bill_pages.pick(_query(request, "top"), ("5", "10", "20"), "10")),
        as_of=parse_day(_query(request, "as_of"))))


@router.get("/unit-cost")
def unit_cost(request: Request, session: SessionDep) -> Response:
    """Cost per unit of a business metric, its trend and the share commitments saved."""
    return _serve(request, session, "/unit-cost", lambda: bill_pages.unit_cost(
        session, metric=_query(request, "metric"), scope=request.query_params.get("scope"),
        granularity=bill_pages.pick(_query(request, "granularity"), bill_pages.GRANULARITIES,
                                    "month"),
        per=float(bill_pages.pick(_query(request, "per"),
                                  tuple(value for value, _ in bill_pages.PER_CHOICES), "1")),
        basis=_basis(request)))
