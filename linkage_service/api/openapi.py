"""The API's contract as published in ``/openapi.json``: one error shape, the errors each route
really returns, and the bounds of every parameter.

- **One error shape.** Every error answers ``{"detail": "motivo"}`` (:class:`ErrorResponse`),
  validation errors (422) included: FastAPI's list-shaped ``HTTPValidationError`` is replaced
  in the document, as it is in the answers (``linkage_service.api.errors``).
- **Declared errors.** A route names its own errors with ``responses=errors(404, 409)``; the
  ones every route of a kind returns are added here from what the route depends on: 401 and
  403 for a route with a role policy, 422 for a route with parameters or a body, 503 for a
  route that uses the database.
- **Bounds.** Integer parameters use :data:`IdPath`, :data:`OffsetQuery`, :func:`limit_query`
  … bounded to what the database holds (ids: INTEGER columns, 2**31-1 on PostgreSQL; offsets
  and audit sequence numbers: 2**63-1), so an id or offset beyond is a 422 with a reason,
  never a 500. Bounds that are settings (the statistics floor, persons per
  re-identification request) are written into the document of the app that has them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from linkage_service.settings import Settings

__all__ = [
    "DB_INT_MAX",
    "ERROR_DESCRIPTIONS",
    "HEX64_PATTERN",
    "ID_MAX",
    "PSEUDONYM_PATTERN",
    "REQUEST_ID_PATTERN",
    "SOURCE_PATTERN",
    "ErrorResponse",
    "IdPath",
    "OffsetQuery",
    "custom_openapi",
    "errors",
    "id_query",
    "limit_query",
]

# The largest value a BIGINT (and SQLite's INTEGER) holds: offsets and audit sequence numbers.
DB_INT_MAX = 2**63 - 1
# Row ids are INTEGER columns: 32 bits on PostgreSQL, so that is the range both databases hold.
ID_MAX = 2**31 - 1
HEX64_PATTERN = r"^[0-9a-fA-F]{64}$"
REQUEST_ID_PATTERN = r"^rq-[0-9a-f]{16}$"
SOURCE_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
PSEUDONYM_PATTERN = r"^P-[A-Z2-7]{10}$"

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Solicitud mal formada (bad request)",
    401: "Token ausente, inválido o revocado (missing, invalid or revoked token)",
    403: "El rol o la fuente del token no permiten esta operación (role or source not allowed)",
    404: "Objeto desconocido (unknown object)",
    409: "El estado actual no permite la operación (conflict with the current state)",
    413: "Supera un límite configurado (a configured limit was exceeded)",
    422: "Datos inválidos: el motivo nombra el campo, nunca repite el valor (invalid input)",
    429: "Límite de solicitudes por día alcanzado (rate limit reached)",
    503: "Error de la base de datos; no se guardó nada (database error, nothing stored)",
}


class ErrorResponse(BaseModel):
    """The one error shape of the API."""

    model_config = {"title": "Error"}

    detail: str = Field(description="motivo, en español primero (reason, Spanish first)")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route's own errors, all with the one error shape.

    >>> sorted(errors(404, 409))
    [404, 409]
    """
    return {code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]}
            for code in codes}


IdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="id numérico (1 … 2**31-1)")]
OffsetQuery = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="posición de inicio")]


def limit_query(default: int, maximum: int) -> Any:
    """``limit: int = limit_query(100, 1000)``: a page size between 1 and ``maximum``."""
    return Query(default=default, ge=1, le=maximum,
                 description=f"tamaño de la página (1 … {maximum})")


def id_query(description: str) -> Any:
    """An optional id in the query string, bounded like :data:`IdPath`."""
    return Query(default=None, ge=1, le=ID_MAX, description=description)


# --------------------------------------------------------------------------- the document


def _uses(route: APIRoute, predicate: Any) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if predicate(dep.call):
            return True
        stack.extend(dep.dependencies)
    return False


def _has_inputs(route: APIRoute) -> bool:
    """Whether FastAPI validates anything of the request for this route (→ 422 possible)."""
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if dep.path_params or dep.query_params or dep.body_params or dep.header_params \
                or dep.cookie_params:
            return True
        stack.extend(dep.dependencies)
    return bool(route.openapi_extra and "requestBody" in route.openapi_extra)


def implied_errors(route: APIRoute) -> set[int]:
    """Errors every route of this kind returns (see the module docstring)."""
    from linkage_service.api.deps import RoleChecker, get_session

    codes: set[int] = set()
    if route.body_field is not None:
        codes.add(400)  # a JSON body that cannot even be parsed (not UTF-8, …)
    if _uses(route, lambda call: isinstance(call, RoleChecker)):
        codes |= {401, 403}
    if _has_inputs(route):
        codes.add(422)
    if _uses(route, lambda call: call is get_session):
        codes.add(503)
    return codes


def _error_response(code: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _set_bound(operation: dict[str, Any], name: str, **bounds: Any) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == name:
            schema = parameter.setdefault("schema", {})
            options = schema.get("anyOf")
            target = next((o for o in options if o.get("type") == "integer"), schema) \
                if isinstance(options, list) else schema
            target.update(bounds)


def build_openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of ``app`` with the rules above applied."""
    from linkage_service.api.deps import api_routes

    document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                           description=app.description, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.pop("ErrorResponse", None)  # declared errors are rewritten to #/.../Error below
    schemas["Error"] = ErrorResponse.model_json_schema()
    for path, methods, route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in methods:
            operation = document.get("paths", {}).get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if str(code).isdigit()}
            for code in sorted(implied_errors(route) | {c for c in declared if c >= 400}):
                responses[str(code)] = _error_response(code)
    # Bounds that are settings of this service.
    stats = document.get("paths", {}).get("/api/v1/stats/tables", {}).get("get")
    if stats is not None:
        _set_bound(stats, "min_cell", minimum=settings.stats_min_cell_floor)
    create = document.get("paths", {}).get("/api/v1/reid/requests", {}).get("post")
    reid_schema = schemas.get("ReidRequestCreate", {}).get("properties", {}).get("persons")
    if create is not None and isinstance(reid_schema, dict):
        reid_schema["maxItems"] = settings.reid_max_persons
    return document


def custom_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve :func:`build_openapi`'s document (built once) at ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
