"""The re-identification workflow in-process, on a real (migrated) SQLite database and real
keys: two-person rule, limits, expiry, release per source, and opening packages locally."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from client_sdk.keys import init_keys, load_box_public, load_record_ref_key
from client_sdk.record_encoder import LOCATOR_CONTEXT, record_ref
from client_sdk.reid import open_package, open_package_records
from linkage_service.audit import verify
from linkage_service.auth import Actor
from linkage_service.bank.pseudonyms import check_pseudonym
from linkage_service.db import make_engine, migrate
from linkage_service.models import SourceCreate
from linkage_service.reid import (
    ReidPolicy,
    approve,
    create_request,
    deny,
    effective_status,
    fetch_package,
    request_public,
)
from linkage_service.store.sources import register_source
from vinculo_common.batch import pad_record_id
from vinculo_common.crypto import Sealer, load_private_key, load_public_key
from vinculo_common.errors import (
    ConfigError,
    Conflict,
    IntegrityError,
    LimitExceeded,
    NotFound,
    PermissionDenied,
)

T0 = datetime(2025, 4, 1, 10, 0, tzinfo=UTC)
SOURCES = ("reta", "sistra", "care")
P1, P2, P3 = "P-AAAAAAAAAA", "P-BBBBBBBBBB", "P-CCCCCCCCCC"
# Synthetic people: which local records each source holds for each pseudonym.
HOLDINGS = {
    P1: [("reta", "RETA-0001"), ("sistra", "SIS-9001"), ("reta", "RETA-0002")],
    P2: [("care", "CARE-77")],
    P3: [("sistra", "SIS-9002")],
}

REQUESTER = Actor(token_id="aaaaaaaaaaaa", role="reid_requester", user_label="ana")
APPROVER = Actor(token_id="bbbbbbbbbbbb", role="reid_approver", user_label="beto")
APPROVER2 = Actor(token_id="cccccccccccc", role="reid_approver", user_label="carla")
# Ana again, with an approver token: the two-person rule looks at the person, not the role.
ANA_AS_APPROVER = Actor(token_id="dddddddddddd", role="reid_approver", user_label="Ana")


def uploader(source: str) -> Actor:
    return Actor(token_id="eeeeeeeeeeee", role="uploader", source=source, source_id=1)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("keys")
    init_keys(keys_dir=root, sources=list(SOURCES))
    return root


@pytest.fixture
def env(tmp_path: Path, keys: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'bank.db'}")
    migrate(engine)
    with Session(engine) as session:
        for s in SOURCES:
            register_source(session, source=SourceCreate(
                name=s, secret_check="ab" * 8,
                signing_public_key_pem=(keys / "sources" / s / "signing.pub").read_text(),
                box_public_key_pem=(keys / "sources" / s / "box.pub").read_text()))
        session.commit()
    signer = load_private_key(keys / "service" / "signing.key")
    table = {}
    for person, held in HOLDINGS.items():
        rows = []
        for source, rid in held:
            ref = record_ref(load_record_ref_key(keys, source), rid)
            loc = Sealer(load_box_public(keys, source), LOCATOR_CONTEXT).seal(
                pad_record_id(rid), aad=ref)
            rows.append((source, ref, loc))
        table[person] = rows

    def records_of(_session: Session, person_ids: list[str]) -> list[tuple[str, bytes, bytes]]:
        return [row for p in person_ids for row in table[p]]

    def check_person(_session: Session, pseudonym: str) -> None:
        check_pseudonym(pseudonym)
        if pseudonym not in table:
            raise NotFound("seudónimo desconocido")

    return engine, signer, records_of, check_person


def make_request(session: Session, env, persons, *, policy=None, sources=None,  # type: ignore[no-untyped-def]
                 who=REQUESTER, now=T0):
    return create_request(
        session, requester=who, persons=persons, sources=sources,
        legal_basis="Ley 28950, art. 7", purpose="Carpeta fiscal 0123-2025 (sintética)",
        policy=policy or ReidPolicy(), now=now, check_person=env[3])


def test_full_flow_packages_open_only_at_their_source(env, keys: Path) -> None:  # type: ignore[no-untyped-def]
    engine, signer, records_of, _ = env
    with Session(engine) as session:
        req = make_request(session, env, [P1, P2])
        approve(session, request_id=req.id, approver=APPROVER, reason="procede",
                signer=signer, now=T0 + timedelta(hours=1), records_of=records_of)
        session.commit()
        view = request_public(session, req, now=T0 + timedelta(hours=2))
        assert view.status == "approved"
        assert {p.source: p.record_count for p in view.packages} == {
            "reta": 2, "sistra": 1, "care": 1}
        pkgs = {s: fetch_package(session, request_id=req.id, source=s, caller=uploader(s),
                                 now=T0 + timedelta(hours=2)).content
                for s in ("reta", "sistra", "care")}
        session.commit()
    assert sorted(open_package(pkgs["reta"], source="reta", keys_dir=keys)) == [
        "RETA-0001", "RETA-0002"]
    assert open_package_records(pkgs["sistra"], source="sistra", keys_dir=keys) == [
        (P1, "SIS-9001")]
    assert open_package(pkgs["care"], source="care", keys_dir=keys) == ["CARE-77"]
    # Another source cannot open it, even claiming to be the right one with its own keys.
    with pytest.raises(IntegrityError):
        open_package(pkgs["reta"], source="sistra", keys_dir=keys)
    wrong = keys.parent / "wrong-keys"
    shutil.copytree(keys, wrong)
    shutil.copy(keys / "sources" / "sistra" / "box.key", wrong / "sources" / "reta" / "box.key")
    with pytest.raises(IntegrityError):
        open_package(pkgs["reta"], source="reta", keys_dir=wrong)
    # Every step is in the (intact) audit log.
    with engine.connect() as conn:
        actions = list(conn.execute(
            sa.text("SELECT action FROM audit_entry ORDER BY seq")).scalars())
    assert actions == ["reid.request.create", "reid.request.approve",
                       *["reid.package.release"] * 3, *["reid.package.fetch"] * 3]
    service_pub = load_public_key(keys / "service" / "signing.pub")
    assert verify(engine, service_pub).ok  # type: ignore[arg-type]


def test_forged_or_altered_package_is_rejected(env, keys: Path) -> None:  # type: ignore[no-untyped-def]
    engine, signer, records_of, _ = env
    with Session(engine) as session:
        req = make_request(session, env, [P1], sources=["reta"])
        approve(session, request_id=req.id, approver=APPROVER, reason=None, signer=signer,
                now=T0, records_of=records_of)
        pkg = fetch_package(session, request_id=req.id, source="reta", caller=uploader("reta"),
                            now=T0).content
        assert [p.source for p in request_public(session, req, now=T0).packages] == ["reta"]
    for i in (20, len(pkg) // 2, len(pkg) - 70, len(pkg) - 1):
        altered = bytearray(pkg)
        altered[i] ^= 0x01
        with pytest.raises(IntegrityError):
            open_package(bytes(altered), source="reta", keys_dir=keys)
    with pytest.raises(IntegrityError):
        open_package(pkg[:-1], source="reta", keys_dir=keys)
    # A package built by anyone else (right recipient, another signing key) is refused.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vinculo_common.reid_package import PackageRecord, build_package

    forged = build_package(
        request_id=req.id, source="reta", records=[PackageRecord(P1, bytes(32), bytes(124))],
        recipient=load_box_public(keys, "reta"), signer=Ed25519PrivateKey.generate(),
        issued_at=T0)
    with pytest.raises(IntegrityError, match="firmado"):
        open_package(forged, source="reta", keys_dir=keys)
    # With no pinned service key, opening is refused rather than trusting the package.
    bare = keys.parent / "bare-keys"
    shutil.copytree(keys, bare)
    (bare / "service" / "signing.pub").unlink()
    with pytest.raises(ConfigError):
        open_package(pkg, source="reta", keys_dir=bare)
    pinned = load_public_key(keys / "service" / "signing.pub")
    assert open_package(pkg, source="reta", keys_dir=bare,
                        service_public_key=pinned) == ["RETA-0001", "RETA-0002"]  # type: ignore[arg-type]


def test_two_person_rule(env) -> None:  # type: ignore[no-untyped-def]
    engine, signer, records_of, _ = env
    with Session(engine) as session:
        req = make_request(session, env, [P1])
        for who in (REQUESTER, ANA_AS_APPROVER):
            with pytest.raises(PermissionDenied, match="two-person"):
                approve(session, request_id=req.id, approver=who, reason=None, signer=signer,
                        now=T0, records_of=records_of)
            with pytest.raises(PermissionDenied):
                deny(session, request_id=req.id, approver=who, reason="no", now=T0)
        assert effective_status(req, now=T0) == "pending"


def test_second_approval_above_n_persons(env) -> None:  # type: ignore[no-untyped-def]
    engine, signer, records_of, _ = env
    policy = ReidPolicy(second_approval_above=1)
    with Session(engine) as session:
        req = make_request(session, env, [P1, P3], policy=policy)
        assert req.approvals_required == 2
        approve(session, request_id=req.id, approver=APPROVER, reason="ok", signer=signer,
                now=T0, records_of=records_of)
        assert req.status == "pending"
        with pytest.raises(Conflict):  # the same person twice is still one approval
            approve(session, request_id=req.id,
                    approver=Actor(token_id="ffffffffffff", role="reid_approver",
                                   user_label="beto"),
                    reason="ok", signer=signer, now=T0, records_of=records_of)
        with pytest.raises(Conflict, match="not approved"):
            fetch_package(session, request_id=req.id, source="sistra",
                          caller=uploader("sistra"), now=T0)
        approve(session, request_id=req.id, approver=APPROVER2, reason="ok", signer=signer,
                now=T0, records_of=records_of)
        assert req.status == "approved"


def test_fetch_refusals(env) -> None:  # type: ignore[no-untyped-def]
    engine, signer, records_of, _ = env
    policy = ReidPolicy(ttl=timedelta(hours=24))
    with Session(engine) as session:
        req = make_request(session, env, [P2], policy=policy)
        with pytest.raises(Conflict):  # before approval nobody can
            fetch_package(session, request_id=req.id, source="care", caller=uploader("care"),
                          now=T0)
        approve(session, request_id=req.id, approver=APPROVER, reason=None, signer=signer,
                now=T0, records_of=records_of)
        with pytest.raises(PermissionDenied):  # another source's token
            fetch_package(session, request_id=req.id, source="care", caller=uploader("reta"),
                          now=T0)
        with pytest.raises(NotFound):  # reta holds none of these persons
            fetch_package(session, request_id=req.id, source="reta", caller=uploader("reta"),
                          now=T0)
        with pytest.raises(Conflict, match="expired"):  # after expiry
            fetch_package(session, request_id=req.id, source="care", caller=uploader("care"),
                          now=T0 + timedelta(hours=25))
        denied = make_request(session, env, [P2], policy=policy)
        deny(session, request_id=denied.id, approver=APPROVER, reason="sin base legal", now=T0)
        with pytest.raises(Conflict, match="denied"):
            fetch_package(session, request_id=denied.id, source="care",
                          caller=uploader("care"), now=T0)
        with pytest.raises(Conflict):  # decided is final
            approve(session, request_id=denied.id, approver=APPROVER2, reason=None,
                    signer=signer, now=T0, records_of=records_of)
        late = make_request(session, env, [P2], policy=policy)
        with pytest.raises(Conflict, match="expired"):
            approve(session, request_id=late.id, approver=APPROVER, reason=None, signer=signer,
                    now=T0 + timedelta(days=2), records_of=records_of)


def test_limits(env) -> None:  # type: ignore[no-untyped-def]
    policy = ReidPolicy(max_persons=2, max_requests_per_day=2)
    engine = env[0]
    with Session(engine) as session:
        with pytest.raises(LimitExceeded):
            make_request(session, env, [P1, P2, P3], policy=policy)
        make_request(session, env, [P1], policy=policy)
        make_request(session, env, [P2], policy=policy, now=T0 + timedelta(hours=1))
        # Another token of the same user counts against the same daily limit.
        other_token = Actor(token_id="999999999999", role="reid_requester", user_label="ana")
        with pytest.raises(LimitExceeded):
            make_request(session, env, [P3], policy=policy, who=other_token,
                         now=T0 + timedelta(hours=2))
        make_request(session, env, [P3], policy=policy, now=T0 + timedelta(days=1, minutes=1))
        with pytest.raises(NotFound):
            make_request(session, env, ["P-ZZZZZZZZZZ"], policy=policy, who=APPROVER)
