"""Dependencies every route uses, as typed aliases (after FastAPI's full-stack template).

- ``SessionDep``: a database session; the route commits what it wants kept.
- ``CurrentActor``: the caller, from ``Authorization: Bearer vnc_…``; 401 otherwise.
- ``RequireRole("operator", "admin")``: the caller if their role is listed; 403 otherwise.
  The checker keeps the roles in ``allowed_roles`` so tests and docs can read them back
  (:func:`route_roles`). Routes open to anyone declare ``dependencies=[PublicRoute]``.
- ``ServiceKeyDep``: the service's Ed25519 signing key.

Every route must declare exactly one of ``RequireRole(...)`` or ``PublicRoute``;
``tests/test_service_roles.py`` fails for a route that does not, or whose roles differ from the
table in ``docs/api.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from linkage_service.auth import Actor, authenticate
from linkage_service.db import session_scope
from linkage_service.models import ROLES
from linkage_service.settings import Settings
from vinculo_common.errors import ConfigError, PermissionDenied

__all__ = [
    "CurrentActor",
    "PublicRoute",
    "RequireRole",
    "RoleChecker",
    "ServiceKeyDep",
    "SessionDep",
    "SettingsDep",
    "api_routes",
    "get_current_actor",
    "get_service_key",
    "get_session",
    "get_settings",
    "route_roles",
]

_bearer = HTTPBearer(auto_error=False, description="Token de API: vnc_<id>_<secreto>")


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, with the app's session info (audit checkpoint policy)."""
    for session in session_scope(request.app.state.engine):
        session.info.update(getattr(request.app.state, "session_info", {}))
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_service_key(request: Request) -> Ed25519PrivateKey:
    key: Ed25519PrivateKey = request.app.state.service_key
    return key


ServiceKeyDep = Annotated[Ed25519PrivateKey, Depends(get_service_key)]


def get_current_actor(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Authenticate the bearer token (401, same answer for every kind of failure)."""
    token = credentials.credentials if credentials is not None else None
    actor = authenticate(session, token)
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(get_current_actor)]


class RoleChecker:
    """Dependency that lets through only the listed roles; ``allowed_roles`` is readable."""

    def __init__(self, roles: Iterable[str]) -> None:
        roles = tuple(roles)
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ConfigError(f"roles desconocidos o vacíos en una ruta: {sorted(unknown)}")
        self.allowed_roles: frozenset[str] = frozenset(roles)

    def __call__(self, request: Request, actor: CurrentActor) -> Actor:
        if actor.role not in self.allowed_roles:
            raise PermissionDenied(
                f"el rol {actor.role} no puede usar esta operación (role not allowed)"
            )
        return actor


class _PublicAccess:
    """Marker dependency of routes open without a token (health, service public key)."""

    allowed_roles = None
    public = True

    def __call__(self) -> None:
        return None


PublicRoute: Any = Depends(_PublicAccess())


def RequireRole(*roles: str) -> Any:
    """``actor: Actor = RequireRole("operator", "admin")`` in a route signature.

    >>> RequireRole("auditor").dependency.allowed_roles
    frozenset({'auditor'})
    """
    return Depends(RoleChecker(roles))


def route_roles(route: APIRoute) -> frozenset[str] | None:
    """Roles a route admits: None for a public route; raises if it declares none or two."""
    found: list[Any] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, RoleChecker | _PublicAccess):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    if len(found) != 1:
        raise ConfigError(
            f"la ruta {sorted(route.methods or ())} {route.path} declara {len(found)} políticas de "
            "roles; se espera exactamente una (RequireRole o PublicRoute)"
        )
    allowed: frozenset[str] | None = found[0].allowed_roles
    return allowed


def api_routes(app: Any) -> list[tuple[str, frozenset[str], APIRoute]]:
    """Every API route of ``app`` as (full path template, methods, route).

    FastAPI ≥ 0.13x keeps included routers nested; ``iter_route_contexts`` flattens them.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: routes are already flat
        return [
            (r.path, frozenset(r.methods or ()), r) for r in app.routes if isinstance(r, APIRoute)
        ]
    out = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path:
            methods = frozenset(context.methods or route.methods or ())
            out.append((str(context.path), methods, route))
    return out
