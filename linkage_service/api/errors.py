"""Exception handlers: every failure becomes ``{"detail": reason}`` with the right status.

- ``VinculoError`` → its ``http_status`` and message (messages never hold identifiers).
- Validation errors → 422 naming the field and the problem, never echoing the input value.
- Database errors → 503 with a generic reason; the class name goes to the log, not the message
  (drivers put SQL parameters in their messages).
- A 401 or 403 is also written to the audit log (``auth.login_failed`` / ``auth.denied``) in its
  own transaction, since the request's transaction is rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from linkage_service.api.deps import record_outside_request
from linkage_service.auth import Actor, parse_token
from linkage_service.logs import log_event
from vinculo_common.errors import AuthError, PermissionDenied, VinculoError

__all__ = ["install_exception_handlers", "route_label", "route_template"]


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


def _audit_refusal(request: Request, exc: VinculoError) -> None:
    if isinstance(exc, AuthError):
        header = request.headers.get("authorization", "")
        parsed = parse_token(header[7:] if header.lower().startswith("bearer ") else "")
        actor = f"token:{parsed[0]}" if parsed else "anonymous"
        action = "auth.login_failed"
    else:
        known = getattr(request.state, "actor", None)
        actor = known.label if isinstance(known, Actor) else "anonymous"
        action = "auth.denied"
    try:
        record_outside_request(
            request.app.state.engine,
            actor=actor,
            action=action,
            objects=[route_label(request)],
            reason=str(exc)[:500],
            outcome="denied",
        )
    except Exception as audit_exc:  # a refusal must still be answered
        log_event("audit.write_failed", level=logging.ERROR, error=type(audit_exc).__name__)


async def _vinculo_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VinculoError)
    headers = {}
    if isinstance(exc, AuthError | PermissionDenied):
        _audit_refusal(request, exc)
        if isinstance(exc, AuthError):
            headers["WWW-Authenticate"] = "Bearer"
    log_event("request.refused", level=logging.INFO, route=route_label(request),
              status=exc.http_status, reason_class=type(exc).__name__)
    return JSONResponse({"detail": str(exc)}, status_code=exc.http_status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'inválido')}")
    return JSONResponse(
        {"detail": "solicitud inválida (invalid request): " + "; ".join(parts)},
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


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
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
