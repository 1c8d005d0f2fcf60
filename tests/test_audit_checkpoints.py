"""A signed checkpoint every N audit entries, whatever writes them: refused calls (written in
their own transaction), linkage jobs (their own sessions) and ordinary requests alike."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from linkage_service.audit import verify


def test_checkpoint_every_n_entries_even_when_refusals_write_them(service_factory: Any) -> None:
    service = service_factory(audit_checkpoint_every=10)
    operator = service.token("operator")
    for i in range(95):  # refused: no token, a bad token, a role that may not
        token = (None, "vnc_bad.bad", service.token("analyst") if i % 30 == 0 else None)[i % 3]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert service.http.get("/api/v1/jobs", headers=headers).status_code in (401, 403)
    for _ in range(5):  # accepted
        assert service.http.get("/api/v1/jobs", headers={
            "Authorization": f"Bearer {operator}"}).status_code == 200
    with service.engine.connect() as conn:
        last = conn.execute(sa.text("SELECT max(seq) FROM audit_entry")).scalar_one()
        refused = conn.execute(sa.text(
            "SELECT count(*) FROM audit_entry WHERE outcome = 'denied'")).scalar_one()
        seqs = [int(s) for s in conn.execute(sa.text(
            "SELECT seq FROM audit_checkpoint ORDER BY seq")).scalars()]
    assert refused >= 95 and last >= 100
    assert seqs == list(range(10, last + 1, 10)), f"{len(seqs)} checkpoints for {last} entries"
    report = verify(service.engine, service.app.state.service_key.public_key())
    assert report.ok, report.summary()


def test_entries_written_without_the_key_get_their_checkpoints_later(service_factory: Any) -> None:
    """A CLI command on another machine (no service key there) appends entries without
    checkpoints; the service signs the multiples it skipped the next time it writes one."""
    from sqlmodel import Session

    from linkage_service.audit import record
    from linkage_service.db import make_engine

    service = service_factory(audit_checkpoint_every=5)
    elsewhere = make_engine(service.db_url)  # no policy registered for this engine
    try:
        with Session(elsewhere) as session:
            for i in range(12):
                record(session, actor="cli:admin", action="token.create",
                       objects=[f"token:{i:012x}"])
            session.commit()
    finally:
        elsewhere.dispose()
    with service.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM audit_checkpoint")).scalar_one()
    service.http.get("/api/v1/jobs")  # a refused call: one entry, written by the service
    with service.engine.connect() as conn:
        last = conn.execute(sa.text("SELECT max(seq) FROM audit_entry")).scalar_one()
        seqs = [int(s) for s in conn.execute(sa.text(
            "SELECT seq FROM audit_checkpoint ORDER BY seq")).scalars()]
    assert before < len(seqs)
    assert seqs == list(range(5, last + 1, 5))
    assert verify(service.engine, service.app.state.service_key.public_key()).ok
