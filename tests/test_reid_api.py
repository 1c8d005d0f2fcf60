"""Re-identification and audit over HTTP against the real app (SQLite and PostgreSQL): the
two-person rule, fetch refusals, limits, packages that open only at their source, and one
audit entry for every endpoint call."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from client_sdk.api_client import ServiceClient
from client_sdk.keys import load_box_public, load_linkage_kcv, load_record_ref_key, load_signing_key
from client_sdk.record_encoder import LOCATOR_CONTEXT, record_ref
from client_sdk.reid import open_package, open_package_records
from linkage_service.audit import verify
from linkage_service.auth import create_token
from linkage_service.custody import custody_key_for
from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Membership, Person
from vinculo_common.batch import BatchWriter, pad_record_id
from vinculo_common.crypto import Sealer, load_public_key
from vinculo_common.errors import IntegrityError, ServiceError
from vinculo_common.schemas import DEFAULT_SCHEMA_ID, known_fingerprints

# Synthetic persons and the local record ids each source holds for them.
BANK = {
    "P-AAAAAAAAAA": [("reta", "RETA-2021-0007"), ("sistra", "SIS-44-2022"),
                     ("reta", "RETA-2023-0101")],
    "P-BBBBBBBBBB": [("care", "CAR-0009")],
}


def write_real_batch(keys: Path, folder: Path, source: str, record_ids: list[str]) -> Path:
    """A batch with real record refs and locators sealed to the source's own key."""
    ref_key = load_record_ref_key(keys, source)
    sealer = Sealer(load_box_public(keys, source), LOCATOR_CONTEXT)
    path = folder / f"{source}.vnb"
    fingerprint = {v: k for k, v in known_fingerprints().items()}[DEFAULT_SCHEMA_ID]
    writer = BatchWriter(path, source=source, schema_id=DEFAULT_SCHEMA_ID,
                         schema_fingerprint=fingerprint,
                         secret_check=load_linkage_kcv(keys), clk_bits=1024,
                         signing_key=load_signing_key(keys, source))
    for rid in record_ids:
        ref = record_ref(ref_key, rid)
        writer.add(record_ref=ref, clk=os.urandom(128),
                   locator=sealer.seal(pad_record_id(rid), aad=ref),
                   attributes={"sex": "F", "nationality": "PER"})
    writer.close()
    return path


@pytest.fixture
def bank(service: Any, tmp_path: Path) -> Any:
    """Upload the synthetic records, then place them in the bank as the linkage job would."""
    for source in ("reta", "sistra", "care"):
        ids = [rid for held in BANK.values() for s, rid in held if s == source]
        service.uploader(source).upload(write_real_batch(service.keys, tmp_path, source, ids))
    with Session(service.engine) as session:
        for pseudonym, held in BANK.items():
            person = Person(pseudonym=pseudonym)
            session.add(person)
            session.flush()
            for source, rid in held:
                src = session.execute(sa.select(Source).where(Source.name == source)).scalar_one()
                ref = custody_key_for(session).stored_ref(  # the bank's name for it
                    src.id, record_ref(load_record_ref_key(service.keys, source), rid))
                row = session.execute(sa.select(EncodedRecord).where(
                    EncodedRecord.record_ref == ref)).scalar_one()  # type: ignore[arg-type]
                session.add(Membership(person_id=person.id, source_id=src.id, record_ref=ref,
                                       record_row_id=row.id))
        session.commit()
    return service


def client_for(service: Any, role: str, *, user: str, source: str | None = None) -> ServiceClient:
    with Session(service.engine) as session:
        token, _ = create_token(session, role=role, source=source, user_label=user)
        session.commit()
    client: ServiceClient = service.client(token)
    return client


def audit_actions(service: Any, after: int = 0) -> list[tuple[str, str]]:
    with service.engine.connect() as conn:
        return [(a, o) for a, o in conn.execute(sa.text(
            "SELECT action, outcome FROM audit_entry WHERE seq > :s ORDER BY seq"), {"s": after})]


def last_seq(service: Any) -> int:
    with service.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM audit_entry"))
                   .scalar_one())


def status_of(call: Any) -> int:
    with pytest.raises(ServiceError) as err:
        call()
    return err.value.status


def test_reid_flow_over_http(bank: Any) -> None:
    ana = client_for(bank, "reid_requester", user="ana.requester")
    ana_approver = client_for(bank, "reid_approver", user="ana.requester")
    beto = client_for(bank, "reid_approver", user="beto.approver")
    reta = client_for(bank, "uploader", user="reta.it", source="reta")
    sistra = client_for(bank, "uploader", user="sistra.it", source="sistra")

    req = ana.create_reid_request(persons=["P-AAAAAAAAAA"], legal_basis="Ley 28950, art. 7",
                             purpose="Carpeta fiscal 0099-2025 (sintética)")
    rid = req["id"]
    assert req["status"] == "pending" and req["approvals_required"] == 1
    # Before approval nobody can fetch.
    assert status_of(lambda: reta.fetch_reid_package(rid, source="reta")) == 409
    # The requester cannot approve, not even with an approver token of her own.
    assert status_of(lambda: ana_approver.approve_reid(rid, reason="yo misma")) == 403
    assert status_of(lambda: ana.approve_reid(rid)) == 403  # wrong role altogether
    done = beto.approve_reid(rid, reason="procede")
    assert done["status"] == "approved"
    assert {p["source"]: p["record_count"] for p in done["packages"]} == {"reta": 2, "sistra": 1}
    # Another source's token cannot fetch reta's package; care holds nothing.
    assert status_of(lambda: sistra.fetch_reid_package(rid, source="reta")) == 403
    care = client_for(bank, "uploader", user="care.it", source="care")
    assert status_of(lambda: care.fetch_reid_package(rid, source="care")) == 404
    assert [p["request_id"] for p in reta.reid_packages()] == [rid]
    pkg = reta.fetch_reid_package(rid, source="reta")
    # The institution pins the key the service publishes (after checking its key id).
    pem = reta.get("/service/public-key")["public_key_pem"].encode()
    pinned = load_public_key(pem)
    assert sorted(open_package(pkg, source="reta", keys_dir=bank.keys,
                               service_public_key=pinned)) == [  # type: ignore[arg-type]
        "RETA-2021-0007", "RETA-2023-0101"]
    assert open_package_records(sistra.fetch_reid_package(rid, source="sistra"), source="sistra",
                                keys_dir=bank.keys, service_public_key=pinned  # type: ignore[arg-type]
                                ) == [("P-AAAAAAAAAA", "SIS-44-2022")]
    with pytest.raises(IntegrityError):
        open_package(pkg, source="sistra", keys_dir=bank.keys,
                     service_public_key=pinned)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):  # keys/service/signing.pub is not this service's key
        open_package(pkg, source="reta", keys_dir=bank.keys)
    altered = bytearray(pkg)
    altered[len(pkg) // 2] ^= 0x80
    with pytest.raises(IntegrityError):
        open_package(bytes(altered), source="reta", keys_dir=bank.keys,
                     service_public_key=pinned)  # type: ignore[arg-type]
    # After expiry the package is refused.
    with bank.engine.begin() as conn:
        conn.execute(sa.text("UPDATE reid_request SET expires_at = :t WHERE id = :i"),
                     {"t": "2000-01-01 00:00:00+00:00", "i": rid})
    assert status_of(lambda: reta.fetch_reid_package(rid, source="reta")) == 409
    # The service signs its packages with the key it publishes.
    assert verify(bank.engine, bank.app.state.service_key.public_key()).ok


def test_deny_and_visibility(bank: Any) -> None:
    ana = client_for(bank, "reid_requester", user="ana.requester")
    other = client_for(bank, "reid_requester", user="otro.requester")
    beto = client_for(bank, "reid_approver", user="beto.approver")
    auditor = client_for(bank, "auditor", user="aud.itor")
    rid = ana.create_reid_request(persons=["P-BBBBBBBBBB"], legal_basis="Ley 28950",
                             purpose="Atención a víctima (sintética)")["id"]
    assert status_of(lambda: beto.deny_reid(rid, reason="")) == 422
    assert beto.deny_reid(rid, reason="sin base legal suficiente")["status"] == "denied"
    assert status_of(lambda: beto.approve_reid(rid)) == 409
    assert [r["id"] for r in ana.list_reid_requests()] == [rid]
    assert other.list_reid_requests() == []
    assert status_of(lambda: other.get_reid_request(rid)) == 404
    assert auditor.get_reid_request(rid)["approvals"][0]["decision"] == "deny"
    assert status_of(lambda: ana.create_reid_request(
        persons=["P-ZZZZZZZZZZ"], legal_basis="Ley 28950", purpose="x" * 10)) == 404
    assert status_of(lambda: ana.create_reid_request(
        persons=["no es un seudónimo"], legal_basis="Ley 28950", purpose="x" * 10)) == 422


def test_limits_over_http(service_factory: Any) -> None:
    service = service_factory()
    ana = client_for(service, "reid_requester", user="ana.requester")
    many = [f"P-{'A' * 9}{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    assert status_of(lambda: ana.create_reid_request(
        persons=many[:21], legal_basis="Ley 28950", purpose="demasiadas")) == 413
    with Session(service.engine) as session:
        session.add_all([Person(pseudonym=p) for p in many[:11]])
        session.commit()
    for i in range(10):
        ana.create_reid_request(persons=[many[i]], legal_basis="Ley 28950", purpose=f"caso {i}")
    assert status_of(lambda: ana.create_reid_request(
        persons=[many[10]], legal_basis="Ley 28950", purpose="once")) == 429  # per day
    assert ("reid.request.create", "denied") in audit_actions(service)


def test_every_endpoint_writes_its_audit_entry(bank: Any) -> None:
    ana = client_for(bank, "reid_requester", user="ana.requester")
    beto = client_for(bank, "reid_approver", user="beto.approver")
    reta = client_for(bank, "uploader", user="reta.it", source="reta")
    auditor = client_for(bank, "auditor", user="aud.itor")
    admin = client_for(bank, "admin", user="adm.in")
    rid = ""

    def create() -> None:
        nonlocal rid
        rid = ana.create_reid_request(persons=["P-AAAAAAAAAA"], legal_basis="Ley 28950",
                                 purpose="prueba de bitácora")["id"]

    calls: list[tuple[Any, list[tuple[str, str]]]] = [
        (create, [("reid.request.create", "ok")]),
        (lambda: ana.list_reid_requests(), [("reid.request.list", "ok")]),
        (lambda: ana.get_reid_request(rid), [("reid.request.read", "ok")]),
        (lambda: reta.fetch_reid_package(rid, source="reta"), [("reid.package.fetch", "denied")]),
        (lambda: beto.approve_reid(rid, reason="procede"),
         [("reid.request.approve", "ok"), ("reid.package.release", "ok"),
          ("reid.package.release", "ok")]),
        (lambda: reta.reid_packages(), [("reid.package.list", "ok")]),
        (lambda: reta.fetch_reid_package(rid, source="reta"), [("reid.package.fetch", "ok")]),
        (lambda: beto.deny_reid(rid, reason="tarde"), [("reid.request.deny", "denied")]),
        (lambda: reta.fetch_reid_package(rid, source="sistra"), [("auth.denied", "denied")]),
        (lambda: auditor.get("/audit/entries"), [("audit.read", "ok")]),
        (lambda: auditor.get("/audit/checkpoints"), [("audit.checkpoints.read", "ok")]),
        (lambda: auditor.audit_export(fmt="csv"), [("audit.export", "ok")]),
        (lambda: auditor.audit_verify(), [("audit.verify", "ok")]),
        (lambda: admin.audit_checkpoint(), [("audit.checkpoint", "ok")]),
        (lambda: ana.audit_export(), [("auth.denied", "denied")]),
    ]
    for call, expected in calls:
        before = last_seq(bank)
        with contextlib.suppress(ServiceError):
            call()
        assert audit_actions(bank, before) == expected, expected[0][0]
    report = auditor.audit_verify()
    assert report["ok"] and report["checkpoints"] >= 1


def test_audit_export_formats(bank: Any) -> None:
    auditor = client_for(bank, "auditor", user="aud.itor")
    ana = client_for(bank, "reid_requester", user="ana.requester")
    ana.create_reid_request(persons=["P-BBBBBBBBBB"], legal_basis="Ley 28950", purpose="exportar")
    lines = auditor.audit_export(fmt="jsonl").splitlines()
    assert len(lines) == last_seq(bank)  # including the export's own entry
    assert '"action":"reid.request.create"' in "".join(lines)
    csv_text = auditor.audit_export(fmt="csv")
    assert csv_text.splitlines()[0].startswith("seq,at,actor,action,objects")
    assert status_of(lambda: auditor.audit_export(fmt="xml")) == 422
