"""The audit log's hash chain and signed checkpoints, attacked with plain SQL as an intruder
would (UPDATE, DELETE, INSERT, swapped seqs, truncated tail, forged checkpoint)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from linkage_service.audit import (
    GENESIS,
    Anchor,
    CheckpointPolicy,
    EntryFields,
    checkpoint,
    entry_hash,
    record,
    verify,
)
from linkage_service.db import make_engine, migrate
from vinculo_common.errors import InputError, IntegrityError

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SERVICE_KEY = Ed25519PrivateKey.generate()
PUB = SERVICE_KEY.public_key()


@pytest.fixture
def engine(tmp_path: Path) -> sa.engine.Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    migrate(eng)
    return eng


def fill(engine: sa.engine.Engine, n: int, *, every: int = 5) -> None:
    policy = CheckpointPolicy(signer=SERVICE_KEY, every=every)
    with Session(engine) as session:
        for i in range(n):
            record(session, actor=f"reid_requester:{i:012x}:ana", action="reid.request.create",
                   objects=[f"rq-{i}", "P-7XK2"], reason="Oficio N° 12-2025",
                   now=T0 + timedelta(minutes=i), policy=policy)
        session.commit()


def sql(engine: sa.engine.Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_intact_log_verifies(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    report = verify(engine, PUB)
    assert report.ok, report.problem
    assert (report.entries, report.checkpoints, report.last_checkpoint_seq) == (12, 2, 10)
    assert report.notes  # entries 11..12 not yet covered by a checkpoint
    report.raise_if_bad()


def test_hash_encoding_is_documented_one(engine: sa.engine.Engine) -> None:
    fill(engine, 1)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT entry_hash, objects FROM audit_entry")).one()
    fields = EntryFields(seq=1, at=T0, actor="reid_requester:000000000000:ana",
                         action="reid.request.create", objects=("rq-0", "P-7XK2"),
                         reason="Oficio N° 12-2025", outcome="ok", prev_hash=GENESIS)
    assert row.objects == '["rq-0","P-7XK2"]'
    assert row.entry_hash == entry_hash(fields)


def test_update_a_field(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    sql(engine, "UPDATE audit_entry SET actor = 'auditor:intruso' WHERE seq = 7")
    report = verify(engine, PUB)
    assert report.first_bad_seq == 7
    with pytest.raises(IntegrityError, match="seq=7"):
        report.raise_if_bad()


def test_update_objects_or_reason(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    sql(engine, "UPDATE audit_entry SET reason = NULL WHERE seq = 3")
    assert verify(engine, PUB).first_bad_seq == 3


def test_delete_a_row(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    sql(engine, "DELETE FROM audit_entry WHERE seq = 4")
    report = verify(engine, PUB)
    assert report.first_bad_seq == 4
    assert "deleted" in (report.problem or "")


def test_insert_a_forged_row_at_the_end(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    sql(engine, "INSERT INTO audit_entry (seq, at, actor, action, objects, reason, outcome,"
        " prev_hash, entry_hash) VALUES (13, '2025-03-01 10:00:00.000000', 'admin:x', 'noop',"
        " '[]', NULL, 'ok', :p, :h)", p="f" * 64, h="e" * 64)
    assert verify(engine, PUB).first_bad_seq == 13


def test_insert_in_the_middle_renumbering(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    # Make room at 6 (two steps, to avoid primary-key clashes), then insert a forged row.
    sql(engine, "UPDATE audit_entry SET seq = seq + 100 WHERE seq >= 6")
    sql(engine, "UPDATE audit_entry SET seq = seq - 99 WHERE seq >= 106")
    with engine.connect() as conn:
        prev = conn.execute(sa.text("SELECT entry_hash FROM audit_entry WHERE seq = 5")).scalar()
    forged = EntryFields(seq=6, at=T0 + timedelta(seconds=330), actor="admin:x", action="noop",
                         objects=(), reason=None, outcome="ok", prev_hash=str(prev))
    sql(engine, "INSERT INTO audit_entry VALUES (6, '2025-03-01 09:05:30.000000', 'admin:x',"
        " 'noop', '[]', NULL, 'ok', :p, :h)", p=prev, h=entry_hash(forged))
    assert verify(engine, PUB).first_bad_seq == 7


def test_swap_two_seqs(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    sql(engine, "UPDATE audit_entry SET seq = -1 WHERE seq = 3")
    sql(engine, "UPDATE audit_entry SET seq = 3 WHERE seq = 8")
    sql(engine, "UPDATE audit_entry SET seq = 8 WHERE seq = -1")
    assert verify(engine, PUB).first_bad_seq == 3


def test_truncated_tail_after_last_checkpoint(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    # The intruder deletes the tail back to before the last checkpoint (seq 10).
    sql(engine, "DELETE FROM audit_entry WHERE seq >= 9")
    report = verify(engine, PUB)
    assert report.first_bad_seq == 9
    assert "truncated" in (report.problem or "")


def test_tail_beyond_checkpoint_needs_an_external_anchor(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    with engine.connect() as conn:
        h12 = conn.execute(sa.text("SELECT entry_hash FROM audit_entry WHERE seq = 12")).scalar()
    sql(engine, "DELETE FROM audit_entry WHERE seq >= 11")
    assert verify(engine, PUB).ok  # the database alone cannot tell (documented limit)
    assert verify(engine, PUB, anchor=Anchor(seq=12, entry_hash=str(h12))).first_bad_seq == 11


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    # A knowledgeable intruder edits entry 7 and recomputes every later hash.
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM audit_entry ORDER BY seq")).mappings().all()
    prev = rows[5]["entry_hash"]
    for row in rows[6:]:
        actor = "auditor:intruso" if row["seq"] == 7 else row["actor"]
        fields = EntryFields(seq=row["seq"], at=datetime.fromisoformat(row["at"]), actor=actor,
                             action=row["action"], objects=tuple(eval(row["objects"])),  # noqa: S307
                             reason=row["reason"], outcome=row["outcome"], prev_hash=prev)
        prev = entry_hash(fields)
        sql(engine, "UPDATE audit_entry SET actor = :a, prev_hash = :p, entry_hash = :h"
            " WHERE seq = :s", a=actor, p=fields.prev_hash, h=prev, s=row["seq"])
    report = verify(engine, PUB)
    assert report.first_bad_seq == 6  # somewhere after checkpoint 1 (seq 5), up to seq 10
    assert "rewritten" in (report.problem or "")


def test_forged_checkpoint_signature(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    sql(engine, "UPDATE audit_checkpoint SET signature = :s WHERE number = 2", s="00" * 64)
    report = verify(engine, PUB)
    assert report.first_bad_seq == 10
    assert "forged" in (report.problem or "")


def test_checkpoint_signed_by_another_key(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    assert verify(engine, Ed25519PrivateKey.generate().public_key()).first_bad_seq == 5


def test_deleted_checkpoint(engine: sa.engine.Engine) -> None:
    fill(engine, 12)
    sql(engine, "DELETE FROM audit_checkpoint WHERE number = 1")
    assert verify(engine, PUB).first_bad_seq == 1


def test_without_key_chain_still_checked(engine: sa.engine.Engine) -> None:
    fill(engine, 6)
    report = verify(engine, None)
    assert report.ok and not report.signatures_checked
    assert "NO VERIFICADAS" in report.summary()
    sql(engine, "UPDATE audit_entry SET outcome = 'denied' WHERE seq = 2")
    assert verify(engine, None).first_bad_seq == 2


def test_on_demand_checkpoint(engine: sa.engine.Engine) -> None:
    fill(engine, 3, every=0)
    with Session(engine) as session:
        cp = checkpoint(session, signer=SERVICE_KEY, now=T0)
        assert cp is not None and cp.seq == 3 and cp.number == 1
        again = checkpoint(session, signer=SERVICE_KEY, now=T0)
        assert again is not None and again.number == 1
        session.commit()
    sql(engine, "DELETE FROM audit_entry WHERE seq = 3")
    assert verify(engine, PUB).first_bad_seq == 3


def test_rollback_leaves_no_entry(engine: sa.engine.Engine) -> None:
    with Session(engine) as session:
        record(session, actor="operator:1", action="link.start", objects=[])
        session.rollback()
    with Session(engine) as session:
        assert record(session, actor="operator:1", action="link.start", objects=[]).seq == 1


def test_refuses_identifier_like_objects(engine: sa.engine.Engine) -> None:
    with Session(engine) as session, pytest.raises(InputError):
        record(session, actor="operator:1", action="x", objects=["Rosa Quispe Mamani"])
    with Session(engine) as session, pytest.raises(InputError):
        record(session, actor="operator:1", action="x", objects=["rq"], outcome="maybe")


def test_concurrent_appenders_keep_one_chain(engine: sa.engine.Engine) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(10):
                with Session(engine) as session:
                    record(session, actor=f"operator:{k}", action="link.start", objects=[i])
                    session.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = verify(engine, PUB)
    assert report.ok and report.entries == 40
