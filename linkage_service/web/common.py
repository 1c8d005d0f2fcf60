"""What every console page shares: the navigation allowed for the caller's role (read from the
pages' own role declarations), the CSRF token of the session, the HTML response, and the
message of a refused call.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from linkage_service.api.deps import api_routes, route_roles
from linkage_service.api.errors import audit_refusal
from linkage_service.auth import Actor
from linkage_service.web.access import session_keys
from linkage_service.web.render import NAV, render
from vinculo_common.errors import AuthError, PermissionDenied, VinculoError

__all__ = ["allowed_links", "page", "redirect", "refusal_message"]

PAGE_PURPOSE = {
    "/consola": "quién es usted y qué puede hacer",
    "/consola/revision": "decidir si dos registros son la misma persona",
    "/consola/trabajos": "iniciar y seguir trabajos de enlace",
    "/consola/reid": "solicitudes de reidentificación y su aprobación",
    "/consola/estadisticas": "tablas publicables con celdas pequeñas suprimidas",
    "/consola/auditoria": "últimas entradas del registro y verificación de la cadena",
}


def _page_roles(request: Request) -> dict[str, frozenset[str] | None]:
    """Roles of each console GET page, from the routes themselves (cached on the app)."""
    cached = getattr(request.app.state, "console_page_roles", None)
    if cached is None:
        cached = {path: route_roles(route) for path, methods, route in api_routes(request.app)
                  if "GET" in methods and path.startswith("/consola")}
        request.app.state.console_page_roles = cached
    assert isinstance(cached, dict)
    return cached


def allowed_links(request: Request, actor: Actor) -> list[dict[str, Any]]:
    """The navigation entries ``actor``'s role may open (Inicio for everyone)."""
    roles = _page_roles(request)
    out = []
    for path, label, english in NAV:
        allowed = roles.get(path)
        if allowed is not None and actor.role in allowed:
            out.append({"path": path, "label": label, "english": english,
                        "what": PAGE_PURPOSE.get(path, ""),
                        "current": request.url.path == path})
    return out


def page(
    request: Request, actor: Actor, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` for ``actor`` with the navigation and the session's CSRF token."""
    console = getattr(request.state, "console_session", None)
    csrf = console.csrf_token(session_keys(request)) if console is not None else None
    return HTMLResponse(
        render(template, actor=actor, nav=allowed_links(request, actor), csrf=csrf, **context),
        status_code=status,
    )


def redirect(url: str) -> RedirectResponse:
    """After a successful form: 303 to a page that only reads (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)


def refusal_message(request: Request, session: Session, exc: VinculoError) -> str:
    """Roll back, audit a 401/403 like the API does, and return the message to show."""
    session.rollback()
    if isinstance(exc, AuthError | PermissionDenied):
        audit_refusal(request, exc)
    return str(exc)
