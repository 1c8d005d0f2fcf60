"""Walk every route of the app with a token of every role and check allow/deny against the
table in docs/api.md. Routes added later are covered automatically: a route missing from the
table, or declaring other roles than the table says, fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from linkage_service.api.deps import api_routes, route_roles
from linkage_service.models import ROLES

API_DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
_ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|\s*$")
_ROLE_DENIED = "no puede usar esta operación"


def documented_roles() -> dict[tuple[str, str], frozenset[str] | None]:
    table: dict[tuple[str, str], frozenset[str] | None] = {}
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line.strip())
        if match:
            method, path, roles = match.groups()
            key = (method, path)
            assert key not in table, f"docs/api.md lists {method} {path} twice"
            table[key] = None if roles.strip() == "público" else frozenset(
                r.strip() for r in roles.split(",")
            )
    return table


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_route_matches_the_documented_roles(service: Any) -> None:
    table = documented_roles()
    declared = {}
    for path, methods, route in api_routes(service.app):
        for method in methods - {"HEAD", "OPTIONS"}:
            declared[(method, path)] = route_roles(route)
    missing = sorted(set(declared) - set(table))
    stale = sorted(set(table) - set(declared))
    assert not missing, f"routes missing from docs/api.md: {missing}"
    assert not stale, f"docs/api.md lists routes the app does not have: {stale}"
    for key, roles in declared.items():
        assert roles == table[key], f"{key}: declared {roles}, documented {table[key]}"
        assert roles is None or roles <= set(ROLES)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_role_is_allowed_or_denied_as_documented(service: Any) -> None:
    tokens = {role: service.token(role, "reta" if role == "uploader" else None) for role in ROLES}
    http = service.http
    checked = 0
    for (method, path), roles in documented_roles().items():
        url = re.sub(r"\{[^}]+\}", "1", path)

        def call(token: str | None, url: str = url, method: str = method) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if method == "GET":
                return http.request(method, url, headers=headers)
            return http.request(method, url, headers=headers, json={})

        anonymous = call(None)
        if roles is None:
            assert anonymous.status_code not in (401, 403), (method, path)
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        for role, token in tokens.items():
            answer = call(token)
            checked += 1
            if role in roles:
                assert answer.status_code != 401, (method, path, role)
                assert not (answer.status_code == 403 and _ROLE_DENIED in answer.text), (
                    method, path, role, "allowed by the table but denied")
            else:
                assert answer.status_code == 403, (method, path, role, answer.status_code)
                assert _ROLE_DENIED in answer.json()["detail"]
    assert checked >= len(ROLES) * 5
