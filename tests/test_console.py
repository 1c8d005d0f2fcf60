"""The web console in-process (real app, real SQLite database; the review page also on
PostgreSQL): login and sessions, CSRF,
role denial as a Spanish page, security headers, and each page doing what its JSON endpoint
does (the same decision, the same tables, the same two-person rule, the same audit entries).

The bank helpers here are shared with test_console_browser.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlmodel import Session

from linkage_service.bank.records import load_current_records
from linkage_service.bank.writer import ClusterOutcome, ReviewCandidate, write_outcome
from linkage_service.models.bank import LinkJob
from linkage_service.models.common import utcnow
from linkage_service.web.session import (
    SessionKeys,
    end_session,
    issue_session,
    read_session,
)

HTML = {"Accept": "text/html,application/xhtml+xml"}
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def refs(n: int, seed: int) -> list[bytes]:
    return [bytes([seed]) + i.to_bytes(31, "big") for i in range(n)]


RETA, CARE = refs(12, 1), refs(3, 2)
MALE = {"sex": "M", "birth_year_min": 1985, "birth_year_max": 1986, "nationality": "VEN",
        "ubigeo_birth": "150101", "event_date": "2022-11", "exploitation": ["laboral"]}


def build_bank(service: Any, make_batch: Any) -> dict[str, Any]:
    """12 RETA records (women) and 3 care records (men), each its own person, and two review
    pairs RETA×care, written with the bank's real writer as a linkage job would."""
    service.uploader("reta").upload(make_batch("reta", RETA))
    service.uploader("care").upload(make_batch("care", CARE, attributes=MALE))
    with Session(service.engine) as s:
        job = LinkJob(status="done", progress=1.0)
        s.add(job)
        s.flush()
        records = load_current_records(s)
        # The bank names records by their stored reference (custody): index by the sources'.
        from linkage_service.custody import custody_key_for

        key = custody_key_for(s)
        row = {ref: i for i, stored in enumerate(records.record_refs)
               for ref in (*RETA, *CARE)
               if key.stored_ref(int(records.source_ids[i]), ref) == stored}
        review = [
            ReviewCandidate(left=row[RETA[1]], right=row[CARE[1]], score=0.81,
                            evidence={"dice": 0.81, "comparisons": {"sex": "disagree"}}),
            ReviewCandidate(left=row[RETA[2]], right=row[CARE[2]], score=0.77,
                            evidence={"dice": 0.77}),
        ]
        write_outcome(s, records=records, job_id=job.id, now=utcnow(),
                      outcome=ClusterOutcome(labels=np.arange(len(records)), review=review))
        s.commit()
    results = service.uploader("reta").get("/results")["results"]
    return {"pseudonyms": sorted({r["person_id"] for r in results})}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def login(service: Any, token: str) -> TestClient:
    """A browser-like client with a console session for ``token``."""
    client = TestClient(service.app, follow_redirects=False, headers=HTML)
    form = client.get("/consola/ingresar")
    answer = client.post("/consola/ingresar", data={"token": token, "csrf": csrf_of(form.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/consola", answer.text
    return client


@pytest.fixture
def bank(service: Any, make_batch: Any) -> dict[str, Any]:
    return build_bank(service, make_batch)


# --------------------------------------------------------------------------- sessions


def test_session_values_are_signed_expire_and_end() -> None:
    keys = SessionKeys.from_service_key(Ed25519PrivateKey.generate())
    other = SessionKeys.from_service_key(Ed25519PrivateKey.generate())
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    value, session = issue_session(keys, token_id="0123456789ab", now=now)
    assert read_session(keys, value, now=now) == session
    assert read_session(other, value, now=now) is None  # another service's key
    forged = value.replace(".0123456789ab.", ".ba9876543210.")
    assert read_session(keys, forged, now=now) is None
    assert read_session(keys, value, now=now + timedelta(hours=8)) is None  # expired
    assert session.csrf_ok(keys, session.csrf_token(keys))
    assert not session.csrf_ok(keys, "")
    assert not session.csrf_ok(other, session.csrf_token(keys))
    _, second = issue_session(keys, token_id="0123456789ab", now=now)
    assert second.csrf_token(keys) != session.csrf_token(keys)  # tied to the session
    end_session(session, now=now)
    assert read_session(keys, value, now=now + timedelta(minutes=1)) is None


@SQLITE
def test_login_sets_a_strict_httponly_cookie_without_the_token(service: Any) -> None:
    token = service.token("reviewer")
    client = TestClient(service.app, follow_redirects=False, headers=HTML)
    form = client.get("/consola/ingresar")
    assert form.status_code == 200 and "Pegue su token" in form.text
    answer = client.post("/consola/ingresar", data={"token": token, "csrf": csrf_of(form.text)})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/consola" in cookie
    secret = token.split("_", 2)[2]  # vnc_<hex id>_<urlsafe secret, which may hold "_">
    assert secret not in cookie and token not in cookie
    home = client.get("/consola")
    assert home.status_code == 200
    assert "revisión de pares" in home.text and 'href="/consola/revision"' in home.text
    assert 'href="/consola/estadisticas"' not in home.text  # not the reviewer's page
    assert service.count("audit_entry", "action = 'console.login'") == 1


@SQLITE
def test_wrong_token_is_refused_with_a_message_and_audited(service: Any) -> None:
    client = TestClient(service.app, follow_redirects=False, headers=HTML)
    form = client.get("/consola/ingresar")
    wrong = "vnc_0123456789ab_" + "A" * 43
    answer = client.post("/consola/ingresar", data={"token": wrong, "csrf": csrf_of(form.text)})
    assert answer.status_code == 401
    assert "token inválido o revocado" in answer.text
    assert "A" * 43 not in answer.text
    assert service.count("audit_entry", "action = 'auth.login_failed' AND "
                                        "actor = 'token:0123456789ab'") == 1
    assert client.get("/consola").status_code == 401  # still no session


@SQLITE
def test_login_without_the_form_token_opens_no_session(service: Any) -> None:
    client = TestClient(service.app, follow_redirects=False, headers=HTML)
    answer = client.post("/consola/ingresar", data={"token": service.token("analyst")})
    assert answer.status_code == 400 and "código de seguridad" in answer.text
    assert client.get("/consola").status_code == 401


@SQLITE
def test_logout_ends_the_session_and_a_revoked_token_ends_it_too(service: Any) -> None:
    client = login(service, service.token("auditor"))
    stolen = dict(client.cookies)
    page = client.get("/consola")
    out = client.post("/consola/salir", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/consola/ingresar?salio=1"
    replay = TestClient(service.app, follow_redirects=False, headers=HTML, cookies=stolen)
    assert replay.get("/consola").status_code == 401

    token = service.token("analyst")
    other = login(service, token)
    assert other.get("/consola").status_code == 200
    with Session(service.engine) as s:
        from linkage_service.auth import revoke_token

        revoke_token(s, token_id=token.split("_")[1])
        s.commit()
    assert other.get("/consola").status_code == 401


# --------------------------------------------------------------------------- access


@SQLITE
def test_pages_refuse_other_roles_with_a_spanish_page_and_audit_it(service: Any) -> None:
    client = login(service, service.token("reviewer"))
    for path in ("/consola/estadisticas", "/consola/auditoria", "/consola/trabajos",
                 "/consola/reid"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "Acceso denegado" in answer.text and "no puede usar esta operación" in answer.text
    assert service.count("audit_entry", "action = 'auth.denied'") == 4
    anonymous = TestClient(service.app, follow_redirects=False, headers=HTML)
    answer = anonymous.get("/consola/revision")
    assert answer.status_code == 401 and 'href="/consola/ingresar"' in answer.text
    # A script (no text/html) gets the API's JSON answer.
    script = TestClient(service.app, follow_redirects=False)
    denied = script.get("/consola/auditoria",
                        headers={"Authorization": f"Bearer {service.token('analyst')}"})
    assert denied.status_code == 403 and "no puede usar" in denied.json()["detail"]


@SQLITE
def test_every_console_response_sets_the_security_headers(service: Any) -> None:
    client = login(service, service.token("reviewer"))
    answers = [client.get("/consola"), client.get("/consola/estilo.css"),
               client.get("/consola/ingresar"), client.get("/consola/auditoria"),
               TestClient(service.app, headers=HTML).get("/consola/revision"),
               client.post("/consola/revision/1", data={"decision": "link"})]
    for answer in answers:
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
    assert answers[1].headers["content-type"].startswith("text/css")
    assert "<script" not in answers[0].text and "style=" not in answers[0].text


@SQLITE
def test_a_post_without_the_form_token_is_refused(service: Any, bank: Any) -> None:
    client = login(service, service.token("reviewer"))
    pair_id = service.client(service.token("reviewer")).get("/review")["pairs"][0]["id"]
    for data in ({"decision": "link"}, {"decision": "link", "csrf": "x" * 43}):
        answer = client.post(f"/consola/revision/{pair_id}", data=data)
        assert answer.status_code == 403 and "código de seguridad" in answer.text
    assert service.count("review_pair", "status = 'pending'") == 2
    # Another session's token does not fit this session either.
    other = login(service, service.token("reviewer"))
    foreign = csrf_of(other.get("/consola/revision").text)
    assert client.post(f"/consola/revision/{pair_id}",
                       data={"decision": "link", "csrf": foreign}).status_code == 403
    assert service.count("review_pair", "status = 'pending'") == 2


# --------------------------------------------------------------------------- pages


def test_review_page_shows_evidence_and_records_the_decision_like_the_api(
    service: Any, bank: Any
) -> None:
    client = login(service, service.token("reviewer"))
    page = client.get("/consola/revision")
    assert page.status_code == 200
    assert "Es la misma persona" in page.text and "No es la misma persona" in page.text
    assert "similitud 0.81" in page.text and "Sexo" in page.text and "difiere" in page.text
    assert "Similitud de las codificaciones (Dice): 0.81" in page.text  # the evidence in Spanish
    for ref in RETA + CARE:
        assert ref.hex() not in page.text
    api = service.client(service.token("reviewer"))
    first, second = (p["id"] for p in api.get("/review")["pairs"])
    done = client.post(f"/consola/revision/{first}",
                       data={"decision": "link", "csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert done.headers["location"] == (f"/consola/revision?cola=pending&tras={first}"
                                        f"&hecho=linked&decidido={first}")
    after = client.get(done.headers["location"]).text
    assert f"el par {first} es la misma persona" in after and f"Par {second}" in after
    assert [p["id"] for p in api.get("/review")["pairs"]] == [second]
    assert service.count("link_decision", "kind = 'must'") == 1
    assert service.count("audit_entry", "action = 'review.link'") == 1
    bad = client.post("/consola/revision/999", data={"decision": "link",
                                                     "csrf": csrf_of(page.text)})
    assert bad.status_code == 404 and "desconocido" in bad.text


@SQLITE
def test_statistics_page_shows_the_api_tables_with_suppressed_cells(
    service: Any, bank: Any
) -> None:
    client = login(service, service.token("analyst"))
    page = client.get("/consola/estadisticas")
    assert page.status_code == 200
    api = service.client(service.token("analyst")).get("/stats/tables")
    for table in api["tables"].values():
        assert f'id="{table["name"]}"' in page.text
    by_sex = api["tables"]["personas_por_sexo"]["rows"]
    assert [r[1] for r in by_sex if r[0] in ("Mujer", "Hombre")] == [None, None]
    assert 'class="suprimida"' in page.text and "celda suprimida" in page.text
    assert service.count("audit_entry", "action = 'stats.tables'") == 2
    low = client.get("/consola/estadisticas?min_cell=2")
    assert low.status_code == 422 and "por debajo del mínimo" in low.text


@SQLITE
def test_reid_page_keeps_the_two_person_rule(service: Any, bank: Any) -> None:
    from linkage_service.auth import create_token

    def token(role: str, user: str) -> str:
        with Session(service.engine) as s:
            clear, _row = create_token(s, role=role, user_label=user)
            s.commit()
        return clear

    requester = login(service, token("reid_requester", "ana.quispe"))
    page = requester.get("/consola/reid")
    assert page.status_code == 200 and "Nueva solicitud" in page.text
    created = requester.post("/consola/reid", data={
        "persons": bank["pseudonyms"][0], "legal_basis": "Ley 28950, art. 7",
        "purpose": "Carpeta fiscal 123-2025", "csrf": csrf_of(page.text)})
    assert created.status_code == 303
    request_id = created.headers["location"].rsplit("=", 1)[1]
    assert request_id in requester.get(created.headers["location"]).text

    same = login(service, token("reid_approver", "ana.quispe"))  # the same person
    listed = same.get("/consola/reid")
    assert "Esta solicitud es suya" in listed.text
    refused = same.post(f"/consola/reid/{request_id}/aprobar",
                        data={"reason": "procede", "csrf": csrf_of(listed.text)})
    assert refused.status_code == 403
    assert "no puede aprobar ni denegar su propia solicitud" in refused.text
    assert service.count("audit_entry", "action = 'auth.denied'") == 1

    other = login(service, token("reid_approver", "luis.flores"))
    listed = other.get("/consola/reid")
    approved = other.post(f"/consola/reid/{request_id}/aprobar",
                          data={"reason": "procede", "csrf": csrf_of(listed.text)})
    assert approved.status_code == 303
    state = service.client(token("auditor", "aud")).get(f"/reid/requests/{request_id}")
    assert state["status"] == "approved"
    assert state["approvals"][0]["reason"] == "procede"
    empty = other.post(f"/consola/reid/{request_id}/denegar",
                       data={"reason": "", "csrf": csrf_of(listed.text)})
    assert empty.status_code == 422 and "motivo" in empty.text


@SQLITE
def test_audit_page_shows_the_verified_chain_and_latest_entries(service: Any) -> None:
    client = login(service, service.token("auditor"))
    page = client.get("/consola/auditoria")
    assert page.status_code == 200 and "Cadena íntegra" in page.text
    assert "console.login" in page.text and "audit.verify" in page.text


@SQLITE
def test_jobs_page_starts_a_job_and_follows_it(service: Any, bank: Any) -> None:
    client = login(service, service.token("operator"))
    page = client.get("/consola/trabajos")
    assert page.status_code == 200 and "Iniciar trabajo de enlace" in page.text
    started = client.post("/consola/trabajos", data={"csrf": csrf_of(page.text)})
    assert started.status_code == 303
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    status = client.get(f"/consola/trabajos/{job_id}")
    assert status.status_code == 200 and f"Trabajo {job_id}" in status.text
    api = service.client(service.token("operator"))
    import time

    for _ in range(300):  # wait for the background job (no timing is asserted)
        if api.get(f"/jobs/{job_id}")["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert api.get(f"/jobs/{job_id}")["status"] == "done"
    assert "terminado" in client.get(f"/consola/trabajos/{job_id}").text
    assert client.get("/consola/trabajos/999").status_code == 404
    assert client.get("/consola/trabajos?id=3").headers["location"] == "/consola/trabajos/3"


@SQLITE
def test_a_bearer_token_reaches_pages_without_a_form_token(service: Any, bank: Any) -> None:
    script = TestClient(service.app, follow_redirects=False,
                        headers={"Authorization": f"Bearer {service.token('reviewer')}"})
    pair_id = service.client(service.token("reviewer")).get("/review")["pairs"][0]["id"]
    assert script.get("/consola/revision").status_code == 200
    assert script.post(f"/consola/revision/{pair_id}",
                       data={"decision": "not_link"}).status_code == 303
    assert service.count("link_decision", "kind = 'cannot'") == 1


def test_every_comparison_and_level_the_model_can_show_reads_in_spanish() -> None:
    """A comparison added to the model without its Spanish label would reach reviewers raw."""
    from linkage_service.linkage.comparisons import COMPARISONS
    from linkage_service.web.render import EVIDENCE_LABELS, LEVEL_LABELS

    missing = [f"comparisons.{name}" for name in COMPARISONS
               if f"comparisons.{name}" not in EVIDENCE_LABELS and name != "dice"]
    missing += [label for name, labels in COMPARISONS.items() if name != "dice"
                for label in labels if label not in LEVEL_LABELS]
    assert not missing, missing
