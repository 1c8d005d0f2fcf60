"""Who is using the console, and what they may do: the role checker of console pages, CSRF on
forms, the answers to a refused call (Spanish page for a browser, JSON for a script), and the
security headers of every console response.

A console page accepts the signed session cookie (``linkage_service.web.session``) or, like the
JSON API, ``Authorization: Bearer vnc_…``; a bearer call needs no CSRF token (a browser never
adds that header by itself), a cookie call to a form does. Every page declares its roles with
``ConsolePage(...)`` (GET) or ``ConsoleForm(...)`` (POST): both are ``RoleChecker``s, so
``route_roles`` and ``tests/test_service_roles.py`` read them like any API route.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linkage_service.api.deps import RoleChecker, SessionDep
from linkage_service.api.errors import (
    audit_refusal,
    route_label,
    validation_error,
    validation_reason,
)
from linkage_service.auth import Actor, actor_of_token_id, authenticate
from linkage_service.logs import log_event
from linkage_service.web.render import render
from linkage_service.web.session import ConsoleSession, SessionKeys, read_session
from vinculo_common.errors import AuthError, PermissionDenied

__all__ = [
    "CONSOLE_PREFIX",
    "COOKIE_NAME",
    "SECURITY_HEADERS",
    "ConsoleAuthRequired",
    "ConsoleDenied",
    "ConsoleForm",
    "ConsoleHeadersMiddleware",
    "ConsolePage",
    "ConsoleRoleChecker",
    "current_session",
    "install_refusal_handlers",
    "session_keys",
    "wants_html",
]

CONSOLE_PREFIX = "/consola"
COOKIE_NAME = "vinculo_consola"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_LOGIN_NEEDED = ("inicie sesión con su token para usar la consola "
                 "(log in with your token to use the console)")
_CSRF_FAILED = ("formulario vencido o sin código de seguridad: vuelva a cargar la página "
                "(form expired or missing its CSRF token)")


class ConsoleAuthRequired(AuthError):
    """No valid session or token on a console page (401)."""


class ConsoleDenied(PermissionDenied):
    """A console page or form refused: wrong role or missing CSRF token (403)."""


def session_keys(request: Request) -> SessionKeys:
    """The console's HMAC key, derived once per app from the service key."""
    keys = getattr(request.app.state, "console_keys", None)
    if keys is None:
        keys = SessionKeys.from_service_key(request.app.state.service_key)
        request.app.state.console_keys = keys
    assert isinstance(keys, SessionKeys)
    return keys


def current_session(request: Request, *, now: datetime | None = None) -> ConsoleSession | None:
    """The verified session of the request's cookie (anonymous or not), or None."""
    return read_session(session_keys(request), request.cookies.get(COOKIE_NAME),
                        now=now or datetime.now(UTC))


class ConsoleRoleChecker(RoleChecker):
    """``RoleChecker`` for console pages: session cookie or bearer token, then the role."""

    def __call__(self, request: Request, session: SessionDep) -> Actor:  # type: ignore[override]
        request.state.console_session = None
        header = request.headers.get("authorization", "")
        if header:
            token = header[7:] if header.lower().startswith("bearer ") else ""
            try:
                actor = authenticate(session, token)
            except AuthError as exc:
                raise ConsoleAuthRequired(str(exc)) from None
        else:
            console = current_session(request)
            found = actor_of_token_id(session, console.token_id) \
                if console is not None and console.token_id else None
            if console is None or found is None:
                raise ConsoleAuthRequired(_LOGIN_NEEDED)
            actor = found
            request.state.console_session = console
        request.state.actor = actor
        if actor.role not in self.allowed_roles:
            raise ConsoleDenied(
                f"el rol {actor.role} no puede usar esta operación (role not allowed)")
        return actor


def ConsolePage(*roles: str) -> Any:
    """``actor: Actor = ConsolePage("reviewer")`` in a console GET page.

    >>> ConsolePage("auditor").dependency.allowed_roles
    frozenset({'auditor'})
    """
    return Depends(ConsoleRoleChecker(roles))


def ConsoleForm(*roles: str) -> Any:
    """``actor: Actor = ConsoleForm("reviewer")`` in a console POST form: roles, then CSRF.

    With a session cookie the form must carry ``csrf`` (its session's token); a bearer call
    needs none.
    """
    checker = ConsoleRoleChecker(roles)

    # The checker is a default, not an Annotated hint: hints are strings here
    # (``from __future__ import annotations``) and a closure variable cannot be resolved.
    async def csrf_checked(request: Request, actor: Actor = Depends(checker)) -> Actor:
        console: ConsoleSession | None = request.state.console_session
        if console is not None:
            form = await request.form()
            if not console.csrf_ok(session_keys(request), form.get("csrf")):
                raise ConsoleDenied(_CSRF_FAILED)
        return actor

    return Depends(csrf_checked)


def wants_html(request: Request) -> bool:
    """A browser asks for HTML; scripts and the role walk get JSON, as from the API."""
    return "text/html" in request.headers.get("accept", "")


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleAuthRequired | ConsoleDenied)
    audit_refusal(request, exc)
    log_event("request.refused", level=logging.INFO, route=route_label(request),
              status=exc.http_status, reason_class=type(exc).__name__)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else {}
    if not wants_html(request):
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status, headers=headers)
    actor = getattr(request.state, "actor", None)
    return HTMLResponse(
        render("error.html", actor=actor if isinstance(actor, Actor) else None,
               status=exc.http_status, message=str(exc),
               login_needed=isinstance(exc, AuthError)),
        status_code=exc.http_status, headers=headers,
    )


async def _invalid(request: Request, exc: Exception) -> Response:
    """A 422: a Spanish page for a browser on a console page, the API's JSON otherwise."""
    assert isinstance(exc, RequestValidationError)
    path = request.url.path
    if not (wants_html(request) and (path == CONSOLE_PREFIX
                                     or path.startswith(CONSOLE_PREFIX + "/"))):
        return await validation_error(request, exc)
    log_event("request.refused", level=logging.INFO, route=route_label(request), status=422,
              reason_class="RequestValidationError")
    actor = getattr(request.state, "actor", None)
    return HTMLResponse(
        render("error.html", actor=actor if isinstance(actor, Actor) else None, status=422,
               message=validation_reason(exc), login_needed=False),
        status_code=422,
    )


def install_refusal_handlers(app: FastAPI) -> None:
    """Handlers for the console's own refusals (they come before the API's VinculoError one)
    and for invalid input on a console page (the API's answer elsewhere)."""
    app.add_exception_handler(ConsoleAuthRequired, _refused)
    app.add_exception_handler(ConsoleDenied, _refused)
    app.add_exception_handler(RequestValidationError, _invalid)


class ConsoleHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every response under ``/consola``, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == CONSOLE_PREFIX
                                           or path.startswith(CONSOLE_PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.decode("latin-1").lower() for k, _v in message.get("headers", [])}
                extra = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                         for k, v in SECURITY_HEADERS.items() if k.lower() not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

