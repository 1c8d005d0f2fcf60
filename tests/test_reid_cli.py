"""The whole re-identification workflow with the real ``vinculo`` commands against a real
``vinculo serve`` on SQLite, then ``vinculo audit verify`` on that server's database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import run_vinculo
from sqlmodel import Session
from test_reid_api import write_real_batch

from client_sdk.keys import load_record_ref_key
from client_sdk.record_encoder import record_ref
from linkage_service.db import make_engine
from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Membership, Person

HOLD = {"reta": ["RETA-2020-0042", "RETA-2024-0310"], "sistra": ["SIS-0007-2021"]}
PERSON = "P-QQQQQQQQQQ"


def token(db: str, role: str, *, user: str, source: str | None = None) -> str:
    args = ["admin", "token", "create", "--db", db, "--role", role, "--user", user]
    if source:
        args += ["--source", source]
    return run_vinculo(*args).stdout.split()[-1]


@pytest.mark.slow
def test_reid_with_the_cli_against_a_real_server(
    start_server: Any, keys_dir: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'bank.db'}"
    server = start_server(db)
    url = server.url
    for source in ("reta", "sistra", "care"):
        run_vinculo("admin", "source", "add", "--db", db, "--source", source,
                    "--keys", str(keys_dir))
    for source, ids in HOLD.items():
        batch = write_real_batch(keys_dir, tmp_path, source, ids)
        run_vinculo("upload", str(batch), "--server", url, "--token",
                    token(db, "uploader", user=f"{source}.it", source=source))
    # The bank as a linkage job leaves it: one person holding the three records.
    engine = make_engine(db)
    with Session(engine) as session:
        person = Person(pseudonym=PERSON)
        session.add(person)
        session.flush()
        for source, ids in HOLD.items():
            src = session.execute(sa.select(Source).where(Source.name == source)).scalar_one()
            for rid in ids:
                from linkage_service.custody import custody_key_for

                ref = custody_key_for(session).stored_ref(  # the bank's name for it
                    src.id, record_ref(load_record_ref_key(keys_dir, source), rid))
                row = session.execute(sa.select(EncodedRecord).where(
                    EncodedRecord.record_ref == ref)).scalar_one()  # type: ignore[arg-type]
                session.add(Membership(person_id=person.id, source_id=src.id, record_ref=ref,
                                       record_row_id=row.id))
        session.commit()
    engine.dispose()

    requester = token(db, "reid_requester", user="ana.fiscal")
    same_person = token(db, "reid_approver", user="ana.fiscal")
    approver = token(db, "reid_approver", user="beto.jefe")
    reta = token(db, "uploader", user="reta.reid", source="reta")
    sistra = token(db, "uploader", user="sistra.reid", source="sistra")

    rid = run_vinculo("reid", "request", "--server", url, "--token", requester,
                      "--person", PERSON, "--basis", "Ley 28950, art. 7",
                      "--purpose", "Carpeta fiscal 0501-2025 (sintética)").stdout.strip()
    assert rid.startswith("rq-")
    pkg = tmp_path / "rq.reta.vrp"
    early = run_vinculo("reid", "fetch", rid, "--source", "reta", "--server", url, "--token",
                        reta, "--output", str(pkg), check=False)
    assert early.returncode != 0 and "aprobada" in early.stderr and not pkg.exists()
    own = run_vinculo("reid", "approve", rid, "--server", url, "--token", same_person,
                      check=False)
    assert own.returncode != 0 and "two-person" in own.stderr
    ok = run_vinculo("reid", "approve", rid, "--server", url, "--token", approver,
                     "--reason", "procede")
    assert ok.stdout.strip() == "approved"
    other = run_vinculo("reid", "fetch", rid, "--source", "reta", "--server", url, "--token",
                        sistra, "--output", str(pkg), check=False)
    assert other.returncode != 0 and not pkg.exists()
    run_vinculo("reid", "fetch", rid, "--source", "reta", "--server", url, "--token", reta,
                "--output", str(pkg))
    assert pkg.stat().st_mode & 0o777 == 0o600

    # The institution pins the service key it was told about, then opens the package locally.
    pub = tmp_path / "service.pub"
    pub.write_text(httpx.get(url + "/api/v1/service/public-key").json()["public_key_pem"])
    opened = run_vinculo("reid", "open", str(pkg), "--source", "reta", "--keys", str(keys_dir),
                         "--service-key", str(pub))
    assert sorted(opened.stdout.split()) == sorted(HOLD["reta"])
    wrong = run_vinculo("reid", "open", str(pkg), "--source", "sistra", "--keys",
                        str(keys_dir), "--service-key", str(pub), check=False)
    assert wrong.returncode == 5 and "RETA" not in wrong.stdout + wrong.stderr
    unpinned = run_vinculo("reid", "open", str(pkg), "--source", "reta", "--keys",
                           str(keys_dir), check=False)
    assert unpinned.returncode == 5  # keys/service/signing.pub is another key: refused

    # The server's log is intact, with every step; an intruder's edit is then caught.
    verified = run_vinculo("audit", "verify", "--db", db, "--service-key", str(pub))
    assert "íntegra" in verified.stdout
    eng = make_engine(db)
    with eng.begin() as conn:
        actions = list(conn.execute(sa.text("SELECT action FROM audit_entry ORDER BY seq"))
                       .scalars())
        for action in ("reid.request.create", "reid.request.approve", "reid.package.release",
                       "reid.package.fetch", "auth.denied"):
            assert action in actions
        seq = conn.execute(sa.text("SELECT seq FROM audit_entry WHERE action = "
                                   "'reid.request.approve'")).scalar_one()
        conn.execute(sa.text("UPDATE audit_entry SET actor = 'otro' WHERE seq = :s"), {"s": seq})
    eng.dispose()
    broken = run_vinculo("audit", "verify", "--db", db, "--service-key", str(pub), check=False)
    assert broken.returncode == 5 and f"seq={seq}:" in broken.stderr
