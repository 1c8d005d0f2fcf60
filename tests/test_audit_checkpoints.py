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
