"""``vinculo admin backup`` / ``restore``: a round trip into a fresh database (SQLite and
PostgreSQL, and across them) gives the same persons, memberships, results and a verifying audit
log; a damaged or altered backup is refused and the target stays empty."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ServiceHarness
from cryptography.hazmat.primitives import serialization
from sqlmodel import Session
from test_job_concurrency import people_batch

from linkage_service.bank.jobs import create_job, run_job
from linkage_service.models.common import utcnow
from vinculo_cli.main import main


def bank_state(engine: Any) -> dict[str, Any]:
    """What must survive: persons, memberships by pseudonym, decisions, jobs, audit log."""
    with engine.connect() as conn:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                          for r in conn.execute(sa.text(sql)))
        return {
            "persons": rows("SELECT pseudonym, status FROM person"),
            "members": rows("SELECT p.pseudonym, s.name, m.record_ref, m.current FROM membership "
                            "m JOIN person p ON p.id = m.person_id JOIN source s ON "
                            "s.id = m.source_id"),
            "records": rows("SELECT record_ref, clk, is_current FROM encoded_record"),
            "jobs": [(i, st, json.loads(c) if isinstance(c, str) else c)
                     for i, st, c in rows("SELECT id, status, counts FROM link_job")],
            "audit": rows("SELECT seq, entry_hash FROM audit_entry"),
            "tokens": rows("SELECT id, secret_hash FROM api_token"),
        }


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def new_url(kind: str, tmp_path: Path, request: Any, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name}.db"
    return str(request.getfixturevalue("postgres_server").new_database())


def tables_in(url: str) -> set[str]:
    from linkage_service.db import make_engine

    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def linked(db_url: str, keys_dir: Path, tmp_path: Path) -> Any:
    harness = ServiceHarness(db_url, keys_dir)
    harness.uploader("reta").upload(people_batch(tmp_path / "r.vnb", keys=keys_dir,
                                                 source="reta", people=range(0, 300)))
    harness.uploader("care").upload(people_batch(tmp_path / "c.vnb", keys=keys_dir,
                                                 source="care", people=range(200, 400)))
    with Session(harness.engine) as s:
        job_id = create_job(s, requested_by="operator:test", parameters={}, now=utcnow()).id
        s.commit()
    assert job_id is not None and run_job(harness.engine, job_id=job_id) == "done"
    harness.uploader("care").withdraw([b"c" + (390).to_bytes(31, "big")])
    pub = tmp_path / "service.pub"
    pub.write_bytes(harness.app.state.service_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    yield harness, pub
    harness.close()


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_backup_restore_round_trip(
    linked: Any, target: str, tmp_path: Path, request: Any, capsys: Any,
) -> None:
    from fastapi.testclient import TestClient

    from linkage_service.app import create_app
    from linkage_service.settings import Settings

    harness, pub = linked
    reta_token = harness.token("uploader", "reta")
    operator = harness.token("operator")
    before_results = harness.client(reta_token).get("/results")
    backup_file = tmp_path / "banco.vnbak"
    code, out, err = cli(capsys, "admin", "backup", "--db", harness.db_url,
                         "--output", str(backup_file))
    assert code == 0, err
    assert "copia escrita" in out
    before = bank_state(harness.engine)
    assert len(before["persons"]) == 400 and len(before["members"]) == 500

    url = new_url(target, tmp_path, request, "restored")
    code, out, err = cli(capsys, "admin", "restore", "--db", url, "--input", str(backup_file),
                         "--service-key", str(pub))
    assert code == 0, err
    assert "copia restaurada" in out
    from linkage_service.db import make_engine

    engine = make_engine(url)
    try:
        after = bank_state(engine)
        # Same bank. The source's last entry is admin.backup (written after the snapshot),
        # the restored log's last one admin.restore.
        assert {k: v for k, v in after.items() if k != "audit"} == {
            k: v for k, v in before.items() if k != "audit"}
        assert after["audit"][:-1] == before["audit"][:-1]
    finally:
        engine.dispose()
    code, out, err = cli(capsys, "audit", "verify", "--db", url, "--service-key", str(pub))
    assert code == 0, err + out
    # The restored bank serves the same results to the same token.
    settings = Settings(database_url=url, data_dir=tmp_path / f"data-{target}")
    (tmp_path / f"data-{target}").mkdir()
    app = create_app(settings)
    with TestClient(app) as http:
        answer = http.get("/api/v1/results", headers={"Authorization": f"Bearer {reta_token}"})
        assert answer.status_code == 200
        assert answer.json()["results"] == before_results["results"]
        # New rows continue after the restored ids (PostgreSQL sequences were reset).
        assert http.post("/api/v1/jobs", json={}, headers={
            "Authorization": f"Bearer {operator}"}).status_code == 202
    app.state.engine.dispose()

    # Restoring again into the now full database is refused and changes nothing.
    code, _out, err = cli(capsys, "admin", "restore", "--db", url, "--input", str(backup_file))
    assert code != 0 and "vacía" in err and len(err.strip().splitlines()) == 1


def rewrite(src: Path, dst: Path, change: Any) -> None:
    """Copy a backup, letting ``change(members)`` edit its files, with checksums recomputed
    (what someone altering it on purpose would do)."""
    with tarfile.open(src, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    change(members)
    manifest = json.loads(members["manifest.json"])
    for name, entry in manifest["tables"].items():
        entry["sha256"] = hashlib.sha256(members[f"tables/{name}.jsonl"]).hexdigest()
        entry["rows"] = len(members[f"tables/{name}.jsonl"].splitlines())
    members["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    members["manifest.sha256"] = hashlib.sha256(members["manifest.json"]).hexdigest().encode()
    with tarfile.open(dst, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_damaged_or_altered_backups_are_refused_and_the_target_stays_empty(
    linked: Any, tmp_path: Path, request: Any, capsys: Any,
) -> None:
    harness, pub = linked
    good = tmp_path / "good.vnbak"
    assert cli(capsys, "admin", "backup", "--db", harness.db_url, "--output", str(good))[0] == 0
    data = good.read_bytes()
    bad: dict[str, Path] = {}
    for where in (len(data) // 3, len(data) // 2, len(data) - 20):  # gzip body and trailer
        flipped = bytearray(data)
        flipped[where] ^= 0x01
        bad[f"flipped byte at {where}"] = tmp_path / f"flip-{where}.vnbak"
        bad[f"flipped byte at {where}"].write_bytes(bytes(flipped))

    def edit_audit(members: dict[str, bytes]) -> None:
        columns = json.loads(members["manifest.json"])["tables"]["audit_entry"]["columns"]
        lines = members["tables/audit_entry.jsonl"].splitlines()
        row = json.loads(lines[1])
        row[columns.index("actor")] = "operator:someone-else"
        lines[1] = json.dumps(row).encode()
        members["tables/audit_entry.jsonl"] = b"\n".join(lines) + b"\n"

    def drop_entry(members: dict[str, bytes]) -> None:
        lines = members["tables/audit_entry.jsonl"].splitlines()
        members["tables/audit_entry.jsonl"] = b"\n".join(lines[:2] + lines[3:]) + b"\n"

    def edit_rows_only(members: dict[str, bytes]) -> None:  # checksum of the table not redone
        members["tables/person.jsonl"] = members["tables/person.jsonl"].replace(b"P-", b"Q-", 1)

    for name, change in (("audit entry edited", edit_audit), ("audit entry removed", drop_entry)):
        bad[name] = tmp_path / f"{name.replace(' ', '-')}.vnbak"
        rewrite(good, bad[name], change)
    with tarfile.open(good, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    edit_rows_only(members)
    bad["table changed, checksum kept"] = tmp_path / "rows.vnbak"
    with tarfile.open(bad["table changed, checksum kept"], "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))

    for kind in ("sqlite", "postgres"):
        if kind == "postgres" and "postgres" not in harness.db_url:
            continue  # one PostgreSQL target per PostgreSQL run is enough
        for what, path in bad.items():
            url = new_url(kind, tmp_path, request, f"t-{abs(hash(what))}")
            code, _out, err = cli(capsys, "admin", "restore", "--db", url, "--input", str(path),
                                  "--service-key", str(pub))
            assert code != 0, what
            assert "dañada o alterada" in err and len(err.strip().splitlines()) == 1, (what, err)
            if kind == "sqlite":
                assert not Path(url.removeprefix("sqlite:///")).exists(), what
            assert tables_in(url) - {"alembic_version"} == set(), what
