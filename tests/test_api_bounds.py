"""Every integer in a path or query is bounded to what the database holds, on SQLite and
PostgreSQL: beyond the bound a 422 that names the field (never the value), at the bound the
database answers (404 for an unknown id, an empty page for an offset), never a 5xx. The
console's job and review pages included.

Also: the OpenAPI document declares the same bounds and the errors each route returns, in the
one error shape.
"""

from __future__ import annotations

from typing import Any

import pytest

from linkage_service.api.openapi import DB_INT_MAX, ID_MAX
from tests.conftest import ServiceHarness

HUGE = (2**63, 2**64, 10**30)


def _call(service: ServiceHarness, token: str, method: str, url: str, **kw: Any) -> Any:
    return service.http.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kw)


def _refused_without_echo(answer: Any, value: int) -> None:
    assert answer.status_code == 422, (answer.status_code, answer.text)
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "solicitud inválida" in detail
    assert str(value) not in detail


# (role, method, url with {} for the id, extra request arguments)
ID_ROUTES = [
    ("operator", "GET", "/api/v1/jobs/{}", {}),
    ("operator", "GET", "/api/v1/uploads/{}", {}),
    ("reviewer", "POST", "/api/v1/review/{}", {"json": {"decision": "link"}}),
    ("operator", "GET", "/consola/trabajos/{}", {}),
    ("reviewer", "POST", "/consola/revision/{}", {"data": {"decision": "link"}}),
]
# (role, url with {} for the value, the largest value the database holds)
QUERY_ROUTES = [
    ("reviewer", "/api/v1/review?offset={}", DB_INT_MAX),
    ("uploader", "/api/v1/results?offset={}", DB_INT_MAX),
    ("auditor", "/api/v1/audit/entries?after_seq={}", DB_INT_MAX),
    ("analyst", "/api/v1/stats/tables?min_cell={}", DB_INT_MAX),
    ("operator", "/consola/trabajos?id={}", ID_MAX),
    ("reviewer", "/consola/revision?hecho=linked&par={}", ID_MAX),
]


def test_ids_beyond_the_database_are_422_and_at_its_edge_404(service: ServiceHarness) -> None:
    tokens = {role: service.token(role, "reta" if role == "uploader" else None)
              for role in {r for r, *_ in ID_ROUTES}}
    for role, method, url, extra in ID_ROUTES:
        for value in (ID_MAX + 1, *HUGE, -1, 0):
            _refused_without_echo(_call(service, tokens[role], method, url.format(value),
                                        **extra), value)
        edge = _call(service, tokens[role], method, url.format(ID_MAX), **extra)
        assert edge.status_code == 404, (url, edge.status_code, edge.text)


def test_offsets_and_sequences_beyond_the_database_are_422(service: ServiceHarness) -> None:
    tokens = {role: service.token(role, "reta" if role == "uploader" else None)
              for role in {r for r, *_ in QUERY_ROUTES}}
    for role, url, edge in QUERY_ROUTES:
        for value in (edge + 1, *HUGE[1:], -1):
            _refused_without_echo(_call(service, tokens[role], "GET", url.format(value)), value)
        answer = _call(service, tokens[role], "GET", url.format(edge), follow_redirects=False)
        # at the edge the value is accepted: an answer, or "no such pair" for the console's
        # one-pair page, never a refusal of the value itself
        assert answer.status_code in (200, 303, 404), (url, answer.status_code, answer.text)
    for url in ("/api/v1/review?limit=1001", f"/api/v1/results?limit={2**63}",
                "/api/v1/audit/entries?limit=0", "/api/v1/reid/requests?limit=5000"):
        role = {"review": "reviewer", "results": "uploader", "audit": "auditor",
                "reid": "auditor"}[url.split("/")[3].split("?")[0]]
        answer = _call(service, service.token(role, "reta" if role == "uploader" else None),
                       "GET", url)
        assert answer.status_code == 422, (url, answer.text)


def test_console_shows_a_spanish_page_for_a_bad_id(service: ServiceHarness) -> None:
    token = service.token("operator")
    page = service.http.get(f"/consola/trabajos/{2**63}",
                            headers={"Authorization": f"Bearer {token}", "Accept": "text/html"})
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert "No se pudo completar" in page.text and str(2**63) not in page.text


def test_client_values_are_never_echoed(service: ServiceHarness) -> None:
    """A pseudonym, request id, source, format or action that a client typed may hold personal
    data: the refusal names the field, not the value."""
    synthetic = "JUANA-QUISPE-MAMANI-44556677"
    tokens = {role: service.token(role, "reta" if role == "uploader" else None)
              for role in ("operator", "auditor", "uploader", "reid_requester")}
    cases = [
        ("operator", "GET", f"/api/v1/persons/{synthetic}", {}),
        ("auditor", "GET", f"/api/v1/reid/requests/{synthetic}", {}),
        ("uploader", "GET", f"/api/v1/reid/requests/rq-0123456789abcdef/packages/{synthetic}",
         {}),
        ("auditor", "GET", f"/api/v1/audit/export?format={synthetic}", {}),
        ("auditor", "GET", f"/api/v1/audit/entries?action={synthetic}", {}),
        ("uploader", "POST", "/api/v1/records/withdraw", {"json": {"record_refs": [synthetic]}}),
        ("reid_requester", "POST", "/api/v1/reid/requests", {"json": {
            "persons": [synthetic], "legal_basis": "Ley 28950", "purpose": "carpeta 1"}}),
        ("reid_requester", "POST", "/api/v1/reid/requests", {"json": {
            "persons": ["P-AAAAAAAAAA"], "legal_basis": "Ley 28950", "purpose": "carpeta 1",
            synthetic: 1, "sources": [synthetic]}}),
    ]
    for role, method, url, extra in cases:
        answer = _call(service, tokens[role], method, url, **extra)
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
        assert set(answer.json()) == {"detail"}
        for part in ("JUANA", "QUISPE", "44556677"):
            assert part not in answer.text, (url, answer.text)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_openapi_declares_bounds_errors_and_one_error_shape(service: ServiceHarness) -> None:
    doc = service.http.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ErrorResponse" not in schemas
    assert schemas["Error"]["required"] == ["detail"]
    assert schemas["Error"]["properties"]["detail"]["type"] == "string"

    def param(path: str, method: str, name: str) -> dict[str, Any]:
        for p in doc["paths"][path][method]["parameters"]:
            if p["name"] == name:
                schema = p["schema"]
                return next((o for o in schema.get("anyOf", []) if o.get("type") == "integer"),
                            schema)
        raise AssertionError(name)

    assert param("/api/v1/jobs/{job_id}", "get", "job_id")["maximum"] == ID_MAX
    assert param("/api/v1/review", "get", "offset")["maximum"] == DB_INT_MAX
    assert param("/api/v1/review", "get", "limit")["maximum"] == 1000
    assert param("/api/v1/audit/entries", "get", "after_seq")["maximum"] == DB_INT_MAX
    assert param("/api/v1/stats/tables", "get", "min_cell")["minimum"] == \
        service.settings.stats_min_cell_floor
    assert param("/api/v1/persons/{pseudonym}", "get", "pseudonym")["pattern"] == \
        "^P-[A-Z2-7]{10}$"
    withdraw = schemas["WithdrawRequest"]["properties"]["record_refs"]["items"]
    assert withdraw["pattern"] == "^[0-9a-fA-F]{64}$"
    assert schemas["ReidRequestCreate"]["properties"]["persons"]["maxItems"] == \
        service.settings.reid_max_persons

    from linkage_service.api.deps import api_routes, route_roles

    for path, methods, route in api_routes(service.app):
        if not route.include_in_schema:
            continue
        for method in methods:
            responses = doc["paths"][path][method.lower()]["responses"]
            errors = {int(c) for c in responses if int(c) >= 400}
            if route_roles(route) is not None:
                assert {401, 403} <= errors, (method, path)
            for code in errors:
                content = responses[str(code)]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (method, path, code)
    assert {"404"} <= set(doc["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"])
    assert {"409", "404"} <= set(doc["paths"]["/api/v1/review/{pair_id}"]["post"]["responses"])
    assert {"413"} <= set(doc["paths"]["/api/v1/uploads"]["post"]["responses"])
    assert {"413", "429"} <= set(doc["paths"]["/api/v1/reid/requests"]["post"]["responses"])


def test_an_unexpected_error_is_a_500_in_the_error_shape(
    service: ServiceHarness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug answers 500 ``{"detail": …}`` (the message holds nothing of the request)."""
    from fastapi.testclient import TestClient

    from linkage_service.bank import jobs

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("JUANA QUISPE")

    monkeypatch.setattr(jobs, "list_jobs", broken)
    client = TestClient(service.app, raise_server_exceptions=False)
    answer = client.get("/api/v1/jobs",
                        headers={"Authorization": f"Bearer {service.token('operator')}"})
    assert answer.status_code == 500 and set(answer.json()) == {"detail"}
    assert "JUANA" not in answer.text
