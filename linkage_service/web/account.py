"""Console entry: stylesheet, login (paste the API token), logout, and the home page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from linkage_service.api.deps import PublicRoute, SessionDep
from linkage_service.api.errors import audit_refusal
from linkage_service.auth import Actor, authenticate, record_console_visit
from linkage_service.models import ROLES
from linkage_service.web.access import (
    COOKIE_NAME,
    ConsoleAuthRequired,
    ConsoleForm,
    ConsolePage,
    current_session,
    session_keys,
)
from linkage_service.web.common import allowed_links, page, redirect
from linkage_service.web.render import render
from linkage_service.web.session import SESSION_TTL, ConsoleSession, end_session, issue_session
from vinculo_common.errors import AuthError

__all__ = ["router"]

router = APIRouter(prefix="/consola", include_in_schema=False)
_STATIC = Path(__file__).resolve().parent / "static"
_CSS = (_STATIC / "consola.css").read_bytes()
_KEYS_JS = (_STATIC / "teclas.js").read_bytes()
_LOGIN_FORM_TTL = timedelta(hours=1)
_FORM_EXPIRED = ("el formulario venció o le falta su código de seguridad; inténtelo de nuevo "
                 "(form expired, try again)")


def _set_cookie(response: Response, request: Request, value: str, console: ConsoleSession,
                now: datetime) -> None:
    response.set_cookie(
        COOKIE_NAME, value, max_age=max(1, int((console.expires - now).total_seconds())),
        path="/consola", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )


def _login_page(request: Request, *, status: int, error: str | None = None,
                notice: str | None = None) -> HTMLResponse:
    """The login form, with a (new, anonymous) session carrying its CSRF token."""
    now = datetime.now(UTC)
    keys = session_keys(request)
    console = current_session(request, now=now)
    value = None
    if console is None:
        value, console = issue_session(keys, token_id=None, now=now, ttl=_LOGIN_FORM_TTL)
    response = HTMLResponse(
        render("login.html", csrf=console.csrf_token(keys), error=error, notice=notice,
               hours=int(SESSION_TTL.total_seconds() // 3600)),
        status_code=status,
    )
    if value is not None:
        _set_cookie(response, request, value, console, now)
    return response


@router.get("/estilo.css", dependencies=[PublicRoute])
def stylesheet() -> Response:
    """The console's only stylesheet (served locally: pages work offline)."""
    return Response(_CSS, media_type="text/css; charset=utf-8")


@router.get("/teclas.js", dependencies=[PublicRoute])
def keys_script() -> Response:
    """The review page's keyboard shortcuts (s, n, o): the console's only script, served
    locally and allowed by ``Content-Security-Policy: default-src 'self'``."""
    return Response(_KEYS_JS, media_type="text/javascript; charset=utf-8")


@router.get("/ingresar", dependencies=[PublicRoute])
def login_form(request: Request, salio: bool = False) -> HTMLResponse:
    """Paste your API token to open a console session.

    Example: ``GET /consola/ingresar``
    """
    return _login_page(request, status=200,
                       notice="Sesión cerrada (logged out)." if salio else None)


@router.post("/ingresar", dependencies=[PublicRoute])
def login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Check the token with ``authenticate`` (the API's own check) and open a session.

    A wrong token gets the API's single answer and an ``auth.login_failed`` audit entry.
    Example: form ``token=vnc_…&csrf=…`` → 303 to ``/consola``
    """
    now = datetime.now(UTC)
    keys = session_keys(request)
    before = current_session(request, now=now)
    if before is None or not before.csrf_ok(keys, csrf):
        return _login_page(request, status=400, error=_FORM_EXPIRED)
    try:
        actor = authenticate(session, token)
    except AuthError as exc:
        session.rollback()
        audit_refusal(request, ConsoleAuthRequired(str(exc)), token=token)
        return _login_page(request, status=401, error=str(exc))
    record_console_visit(session, actor=actor, action="console.login")
    session.commit()
    end_session(before, now=now)
    value, console = issue_session(keys, token_id=actor.token_id, now=now)
    response = redirect("/consola")
    _set_cookie(response, request, value, console, now)
    return response


@router.post("/salir")
def logout(
    request: Request, session: SessionDep, actor: Actor = ConsoleForm(*ROLES)
) -> Response:
    """End the console session (its cookie value is refused from now on).

    Example: form ``csrf=…`` → 303 to ``/consola/ingresar?salio=1``
    """
    console: ConsoleSession | None = request.state.console_session
    if console is not None:
        end_session(console, now=datetime.now(UTC))
    record_console_visit(session, actor=actor, action="console.logout")
    session.commit()
    response = redirect("/consola/ingresar?salio=1")
    response.delete_cookie(COOKIE_NAME, path="/consola", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


@router.get("")
def home(request: Request, session: SessionDep, actor: Actor = ConsolePage(*ROLES)) -> Response:
    """Who you are (role, source) and the pages your role may open.

    Example: ``GET /consola``
    """
    record_console_visit(session, actor=actor, action="console.home")
    session.commit()
    links = [link for link in allowed_links(request, actor) if link["path"] != "/consola"]
    return page(request, actor, "home.html", links=links)
