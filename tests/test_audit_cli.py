"""``vinculo audit verify`` offline, after an intruder edits the database with plain SQL: it
exits non-zero and names the first bad entry, for each kind of tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import run_vinculo
from sqlmodel import Session

from client_sdk.keys import load_service_signing_key
from linkage_service.audit import CheckpointPolicy, record
from linkage_service.db import make_engine, migrate

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

TAMPERING = {
    "update-field": (["UPDATE audit_entry SET reason = 'nada que ver' WHERE seq = 6"], 6),
    "delete-row": (["DELETE FROM audit_entry WHERE seq = 4"], 4),
    "insert-forged": ([
        "INSERT INTO audit_entry (seq, at, actor, action, objects, reason, outcome, prev_hash,"
        " entry_hash) VALUES (13, '2025-06-01 09:00:00.000000', 'admin:x', 'noop', '[]', NULL,"
        " 'ok', '" + "a" * 64 + "', '" + "b" * 64 + "')"], 13),
    "swap-seqs": ([
        "UPDATE audit_entry SET seq = -1 WHERE seq = 2",
        "UPDATE audit_entry SET seq = 2 WHERE seq = 9",
        "UPDATE audit_entry SET seq = 9 WHERE seq = -1"], 2),
    "truncate-tail": (["DELETE FROM audit_entry WHERE seq >= 8"], 8),
    "forge-checkpoint": (["UPDATE audit_checkpoint SET entry_hash = '" + "c" * 64 + "'"
                          " WHERE number = 1"], 5),
}


@pytest.fixture
def filled_db(tmp_path: Path, keys_dir: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    engine = make_engine(url)
    migrate(engine)
    policy = CheckpointPolicy(signer=load_service_signing_key(keys_dir), every=5)
    with Session(engine) as session:
        for i in range(12):
            record(session, actor="reid_approver:0123456789ab:beto", action="reid.request.approve",
                   objects=[f"rq-{i:016x}"], reason="procede", now=T0 + timedelta(minutes=i),
                   policy=policy)
        session.commit()
    engine.dispose()
    return url


def test_intact_log_passes(filled_db: str, keys_dir: Path) -> None:
    result = run_vinculo("audit", "verify", "--db", filled_db, "--keys", str(keys_dir))
    assert "íntegra" in result.stdout and "12 entradas" in result.stdout


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_caught(filled_db: str, keys_dir: Path, kind: str) -> None:
    statements, first_bad = TAMPERING[kind]
    engine = make_engine(filled_db)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()
    result = run_vinculo("audit", "verify", "--db", filled_db, "--keys", str(keys_dir),
                         check=False)
    assert result.returncode == 5, result.stderr
    assert f"seq={first_bad}:" in result.stderr, result.stderr


def test_export_then_anchor_catches_a_later_truncation(
    filled_db: str, keys_dir: Path, tmp_path: Path
) -> None:
    export = tmp_path / "bitacora.jsonl"
    run_vinculo("audit", "export", "--db", filled_db, "--output", str(export))
    assert len(export.read_text().splitlines()) == 12
    engine = make_engine(filled_db)
    with engine.begin() as conn:  # beyond the last checkpoint (10): invisible without an anchor
        conn.execute(sa.text("DELETE FROM audit_entry WHERE seq >= 11"))
    engine.dispose()
    run_vinculo("audit", "verify", "--db", filled_db, "--keys", str(keys_dir))
    result = run_vinculo("audit", "verify", "--db", filled_db, "--keys", str(keys_dir),
                         "--anchor", str(export), check=False)
    assert result.returncode == 5 and "seq=11:" in result.stderr
