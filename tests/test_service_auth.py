"""Tokens, refusals and what the service lets out (answers, logs)."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import sqlalchemy as sa

from linkage_service import auth
from linkage_service.logs import JsonFormatter

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_every_bad_token_gets_the_same_answer_through_the_same_path(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = service.token("operator")
    token_id = good.split("_")[1]
    revoked = service.token("operator")
    from sqlmodel import Session

    with Session(service.engine) as session:
        auth.revoke_token(session, token_id=revoked.split("_")[1])
        session.commit()
    compared: list[int] = []
    real = auth.hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        compared.append(1)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    candidates = {
        "unknown id": "vnc_000000000000_" + good.split("_", 2)[2],
        "wrong secret": f"vnc_{token_id}_" + "A" * 43,
        "revoked": revoked,
        "malformed": "hola",
    }
    answers = []
    for name, token in candidates.items():
        before = len(compared)
        response = service.http.get("/api/v1/sources", headers={"Authorization": f"Bearer {token}"})
        answers.append((response.status_code, response.json()))
        assert len(compared) == before + 1, f"{name}: no constant-time comparison"
    none = service.http.get("/api/v1/sources")
    answers.append((none.status_code, none.json()))
    assert len(set(map(str, answers))) == 1 and answers[0][0] == 401
    ok = service.http.get("/api/v1/sources", headers={"Authorization": f"Bearer {good}"})
    assert ok.status_code == 200 and {s["name"] for s in ok.json()} == {"reta", "sistra", "care"}
    assert "secret_hash" not in ok.text and "PUBLIC KEY" not in ok.text


def test_refusals_are_audited(service: Any) -> None:
    service.http.get("/api/v1/sources", headers={"Authorization": "Bearer vnc_000000000000_" +
                                                 "B" * 43})
    analyst = service.token("analyst")
    service.http.get("/api/v1/sources", headers={"Authorization": f"Bearer {analyst}"})
    with service.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, action, objects FROM audit_entry")).all()
    actions = {(actor.split(":")[0], action) for actor, action, _objects in rows}
    assert ("token", "auth.login_failed") in actions
    assert ("analyst", "auth.denied") in actions
    assert any("/api/v1/sources" in objects for _a, _b, objects in rows)


def test_validation_errors_do_not_echo_input(service: Any) -> None:
    token = service.token("uploader", "reta")
    marker = "QUISPE-MAMANI-12345678"
    response = service.http.post(
        "/api/v1/records/withdraw", headers={"Authorization": f"Bearer {token}"},
        json={"record_refs": "no-list " + marker, "reason": ["x", marker]},
    )
    assert response.status_code == 422
    assert marker not in response.text
    assert "record_refs" in response.json()["detail"]


def test_logs_hold_no_attribute_values_or_bodies(service: Any, make_batch: Any) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("vinculo").addHandler(handler)
    try:
        batch = make_batch("reta", [bytes([7]) * 32], attributes={
            "sex": "M", "nationality": "VEN", "ubigeo_birth": "080901",
            "event_date": "2021-11-03"})
        client = service.uploader("reta")
        client.upload(batch)
        client.upload(batch)
        client.withdraw([bytes([7]) * 32], reason="motivo-privado-xyz")
        service.http.post("/api/v1/uploads", content=b"garbage-body-abc")
    finally:
        logging.getLogger("vinculo").removeHandler(handler)
    logs = stream.getvalue()
    assert '"event": "upload.stored"' in logs and '"event": "http.request"' in logs
    for value in ("VEN", "080901", "2021-11-03", "motivo-privado-xyz", "garbage-body-abc"):
        assert value not in logs


def test_token_rules(service: Any) -> None:
    from sqlmodel import Session

    from vinculo_common.errors import InputError, NotFound

    with Session(service.engine) as session:
        with pytest.raises(InputError, match="uploader"):
            auth.create_token(session, role="uploader")
        with pytest.raises(InputError, match="solo el rol uploader"):
            auth.create_token(session, role="operator", source="reta")
        with pytest.raises(InputError, match="rol desconocido"):
            auth.create_token(session, role="root")
        with pytest.raises(NotFound):
            auth.create_token(session, role="uploader", source="nadie")
        token, row = auth.create_token(session, role="auditor", user_label="ana.p")
        assert row.secret_hash == auth.hash_secret(token.split("_", 2)[2])
        assert token.split("_", 2)[2] not in str(row.model_dump())
