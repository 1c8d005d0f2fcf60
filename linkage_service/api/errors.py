"""Exception handlers: every failure becomes ``{"detail": reason}`` with the right status.

- ``VinculoError`` → its ``http_status`` and message (messages never hold identifiers).
- Validation errors → 422 in the same shape, naming the field and the problem, never echoing
  the input value (nor a key the client chose).
- Anything else is a bug: ``AccessLogMiddleware`` answers 500 with the same shape and logs the
  traceback (frames only) as one JSON line.
- Database errors → 503 with a generic reason; the class name goes to the log, not the message
  (drivers put SQL parameters in their messages).
- A 401 or 403 is also written to the audit log (``auth.login_failed`` / ``auth.denied``) in its
  own transaction, since the request's transaction is rolled back.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from linkage_service.audit.log import record_alone
from linkage_service.auth import Actor, parse_token
from linkage_service.logs import log_event
from vinculo_common.errors import AuthError, PermissionDenied, VinculoError

__all__ = [
    "audit_refusal",
    "install_exception_handlers",
    "route_label",
    "route_template",
    "validation_error",
    "validation_reason",
]

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def route_template(scope: Any) -> str | None:
    """Full path template of the matched route (``/api/v1/uploads/{upload_id}``), or None."""
    route = scope.get("route")
    if route is None:
        return None
    app = scope.get("app")
    paths = getattr(getattr(app, "state", None), "route_paths", {})
    path = paths.get(id(route), getattr(route, "path", None))
    return path if isinstance(path, str) else None


def route_label(request: Request) -> str:
    """``METHOD:/api/v1/uploads/:upload_id``: the route template, never raw input.

    Unmatched paths become ``METHOD:unmatched`` so attacker-chosen text never reaches a log.
    """
    path = route_template(request.scope)
    if path is None:
        return f"{request.method}:unmatched"
    return f"{request.method}:{path.replace('{', ':').replace('}', '')}"


def audit_refusal(request: Request, exc: VinculoError, *, token: str | None = None) -> None:
    """Record a 401 as ``auth.login_failed`` or a 403 as ``auth.denied``, in its own
    transaction (the request's is rolled back); the API and the console alike.

    ``token`` is a token typed in the console's login form (only its public id is kept);
    otherwise the bearer header's.
    """
    if isinstance(exc, AuthError):
        if token is None:
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
        parsed = parse_token(token)
        actor = f"token:{parsed[0]}" if parsed else "anonymous"
        action = "auth.login_failed"
    else:
        known = getattr(request.state, "actor", None)
        actor = known.label if isinstance(known, Actor) else "anonymous"
        action = "auth.denied"
    try:
        record_alone(request.app.state.engine, actor=actor, action=action,
                     objects=[route_label(request)], reason=str(exc)[:500], outcome="denied")
    except Exception as audit_exc:  # a refusal must still be answered
        log_event("audit.write_failed", level=logging.ERROR, error=type(audit_exc).__name__)


async def _vinculo_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VinculoError)
    headers = {}
    if isinstance(exc, AuthError | PermissionDenied):
        audit_refusal(request, exc)
        if isinstance(exc, AuthError):
            headers["WWW-Authenticate"] = "Bearer"
    log_event("request.refused", level=logging.INFO, route=route_label(request),
              status=exc.http_status, reason_class=type(exc).__name__)
    return JSONResponse({"detail": str(exc)}, status_code=exc.http_status, headers=headers)


def _location_part(part: Any) -> str:
    """A part of an error's location: a field name or an index; anything else (a key the
    client chose) is not repeated."""
    if isinstance(part, int) or (isinstance(part, str) and _FIELD_NAME.match(part)):
        return str(part)
    return "…"


def validation_reason(exc: RequestValidationError) -> str:
    """``solicitud inválida (invalid request): path.job_id: Input should be less than or equal
    to 9223372036854775807``: field and problem, never the value received.

    Pydantic's messages name the constraint, not the input; the location keeps only field
    names and indexes.
    """
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(_location_part(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'inválido')}")
    return "solicitud inválida (invalid request): " + "; ".join(parts)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with the API's one error shape (``{"detail": reason}``)."""
    assert isinstance(exc, RequestValidationError)
    log_event("request.refused", level=logging.INFO, route=route_label(request), status=422,
              reason_class="RequestValidationError")
    return JSONResponse({"detail": validation_reason(exc)}, status_code=422)


_HTTP_REASONS = {
    400: "cuerpo de la solicitud ilegible (unreadable request body)",
    404: "ruta desconocida (not found)",
    405: "método no permitido en esta ruta (method not allowed)",
}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts at this path (Starlette's 405 names only the first
    route's, and GET and POST of one path are two routes here)."""
    from linkage_service.api.deps import api_routes

    patterns = getattr(request.app.state, "route_patterns", None)
    if patterns is None:
        patterns = [(compile_path(path)[0], methods) for path, methods, _r in
                    api_routes(request.app)]
        request.app.state.route_patterns = patterns
    found: set[str] = set()
    for regex, methods in patterns:
        if regex.match(request.url.path):
            found |= set(methods)
    return sorted(found)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (unknown path, wrong method, unparsable body) in the one
    error shape, in Spanish first."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = allowed_methods(request)
        if methods:
            headers["Allow"] = ", ".join(methods)
    detail = _HTTP_REASONS.get(exc.status_code, str(exc.detail))
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log_event("database.error", level=logging.ERROR, route=route_label(request),
              error=type(exc).__name__)
    return JSONResponse(
        {"detail": "error de la base de datos; no se guardó nada (database error, nothing "
                   "was stored)"},
        status_code=503,
    )


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VinculoError, _vinculo_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
