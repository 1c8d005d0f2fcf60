"""Changing a bank's linkage schema (``vinculo admin schema-migrate``, bank.migration).

A vinculo-v4 bank built from synthetic registries (``vinculo_lab.synth``, the real encoder and
core) is migrated to vinculo-v3 by the path operators and institutions follow: start, each
source re-encodes its export with ``--schema`` and uploads it, finish (refused while a source is
missing), re-link. Afterwards the persons correspond (same pseudonyms for the same records,
overlap measured), decisions and the audit chain hold, no row of the old schema is readable and
the service accepts only the new schema. The cheap refusals (wrong schema, unknown record,
stale re-encoding, cancel) run on random encodings (``make_batch``). The whole path runs twice:
to vinculo-v3 (a change of parameters) and to vinculo-v5 (the hardened schema, a bank moving to
it is the migration operators will actually run).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from client_sdk.reid import open_package_records
from client_sdk.results import fetch_results, resolve_results, wait_for_job
from linkage_service.logs import JsonFormatter
from tests.conftest import SOURCES, ServiceHarness
from tests.privacy_scan import identifiers_of, scan_database, scan_text
from tests.test_reid_api import client_for
from vinculo_common.crypto import load_public_key
from vinculo_common.errors import SchemaMismatch, ServiceError
from vinculo_common.schemas import DEFAULT_SCHEMA_ID, load_linkage_schema, schema_fingerprint

# The real path: a bank in SOURCE_SCHEMA moved to each of TARGETS.
SOURCE_SCHEMA = "vinculo-v4"
TARGETS = ("vinculo-v3", "vinculo-v5")
# The cheap tests: random encodings under the service's default schema moved to OTHER.
OTHER = "vinculo-v1"


# --------------------------------------------------------------------------- helpers


def _encode(data: Path, keys: Path, out: Path, source: str, schema: str,
            export: Path | None = None) -> Path:
    from client_sdk.encode_export import encode_file

    path = out / f"{source}.{schema}.vnb"
    encode_file(source=source, input_path=export or data / f"{source}.csv", keys_dir=keys,
                output=path, schema_id=schema)
    return path


def _persons(service: ServiceHarness, keys: Path) -> dict[tuple[str, str], str]:
    """(source, record_id) → pseudonym, as each institution reads its results."""
    out = {}
    for source in SOURCES:
        rows = resolve_results(list(fetch_results(service.uploader(source))), keys_dir=keys,
                               source=source)
        out.update({(source, r["record_id"]): r["person_id"] for r in rows})
    return out


def _link(service: ServiceHarness) -> dict[str, Any]:
    operator = service.client(service.token("operator"))
    job = operator.post("/jobs", json={})
    return wait_for_job(operator, int(job["id"]), poll_s=0.1, timeout_s=300, echo=False)


def _opened_rows(service: ServiceHarness) -> list[Any]:
    from linkage_service.custody import custody_key_for
    from linkage_service.custody.records import opened, record_columns
    from linkage_service.models import EncodedRecord

    table = EncodedRecord.__table__  # type: ignore[attr-defined]
    with service.engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.is_current, *record_columns())).all()
    from sqlmodel import Session

    with Session(service.engine) as session:
        key = custody_key_for(session)
    return [(bool(row.is_current), opened(key, row)) for row in rows]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _cli(db_url: str, *args: str) -> Ran:
    """The real ``vinculo admin schema-migrate`` command, in this process (its imports are
    already paid for: a subprocess costs ~10 s here). Not capsys: the service's log handler,
    made when the first app of the session starts, must not bind to a stream that closes."""
    from vinculo_cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["admin", "schema-migrate", *args, "--db", db_url])
    return Ran(code, out.getvalue(), err.getvalue())


# --------------------------------------------------------------------------- the whole path


@pytest.mark.parametrize("target", TARGETS)
def test_v4_bank_migrates_and_keeps_its_history(
    db_url: str, keys_dir: Path, tmp_path: Path, target: str,
) -> None:
    from linkage_service.app import create_app
    from linkage_service.audit import verify
    from linkage_service.settings import Settings
    from vinculo_common.batch import read_batch
    from vinculo_lab.synth import generate, profile, write_dataset

    data = tmp_path / "datos"
    write_dataset(generate(people=150, seed=23, config=profile("default")), data)
    batches = tmp_path / "lotes"
    batches.mkdir()
    old = {s: _encode(data, keys_dir, batches, s, SOURCE_SCHEMA) for s in SOURCES}
    new = {s: _encode(data, keys_dir, batches, s, target) for s in SOURCES}

    service = ServiceHarness(db_url, keys_dir, linkage_schema=SOURCE_SCHEMA)
    log = io.StringIO()  # the service's log (JSON lines), scanned for identifiers at the end
    handler = logging.StreamHandler(log)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("vinculo").addHandler(handler)
    try:
        for source in SOURCES:
            service.uploader(source).upload(old[source])
        first = _link(service)
        assert first["status"] == "done"
        reviewer = service.client(service.token("reviewer"))
        queue = reviewer.get("/review", params={"limit": 2})["pairs"]
        assert queue, "the synthetic bank has no review pair to decide"
        decided = reviewer.post(f"/review/{queue[0]['id']}",
                                json={"decision": "not_link", "reason": "otra persona",
                                      "expected_votes": queue[0].get("votes", 0)})
        assert decided["status"] == "not_linked"
        before = _persons(service, keys_dir)
        # A re-identification request made before the migration, approved after it.
        pseudonym = Counter(p for (src, _), p in before.items()
                            if src == "reta").most_common(1)[0][0]
        requester = client_for(service, "reid_requester", user="ana.requester")
        request = requester.create_reid_request(persons=[pseudonym], legal_basis="Ley 28950",
                                                purpose="Carpeta fiscal 0001-2026 (sintética)")
        # Connections closed at once: one left open holds a lock on encoded_record, and the
        # migration's VACUUM FULL would wait for it (on PostgreSQL) until the timeout.
        with service.engine.connect() as conn:
            decisions = conn.execute(sa.text(
                "SELECT kind, source_a, ref_a, source_b, ref_b FROM link_decision")).all()
            old_sealed = {bytes(r[0]) for r in conn.execute(
                sa.text("SELECT sealed FROM encoded_record")).all()}
        old_clks = {bytes(c.tobytes()) for s in SOURCES
                    for c in read_batch(old[s].read_bytes()).clks}

        # A target-schema batch before any migration: refused, nothing stored.
        uploads = service.count("upload")
        with pytest.raises(ServiceError, match="esquema de enlace desconocido"):
            service.uploader("reta").upload(new["reta"])
        assert service.count("upload") == uploads

        started = _cli(db_url, "start", "--to", target)
        assert started.returncode == 0, started.stderr
        assert f"{SOURCE_SCHEMA} → {target}" in started.stdout

        # Another schema than the bank's or the target: refused.
        stray = _encode(data, keys_dir, batches, "reta", "vinculo-v1")
        with pytest.raises(ServiceError, match="esquema de enlace desconocido"):
            service.uploader("reta").upload(stray)
        # A record the bank does not hold: the whole migration batch is refused.
        export = tmp_path / "reta-mas.csv"
        lines = (data / "reta.csv").read_text(encoding="utf-8").splitlines()
        row = next(csv.reader([lines[1]]))
        row[0] = "RETA9999999"
        export.write_text("\n".join([*lines, ",".join(row)]) + "\n", encoding="utf-8")
        extra = _encode(data, keys_dir, tmp_path, "reta", target, export=export)
        with pytest.raises(ServiceError, match="no tiene como actuales") as refused:
            service.uploader("reta").upload(extra)
        assert refused.value.status == 422 and "RETA9999999" not in str(refused.value)
        assert service.count("upload") == uploads
        assert service.count("schema_migration_record") == 0

        for source in ("reta", "sistra"):
            service.uploader(source).upload(new[source])
        denied = _cli(db_url, "finish")
        assert denied.returncode == 8, denied.stderr
        assert len(denied.stderr.strip().splitlines()) == 1
        assert "care" in denied.stderr and "reta" not in denied.stderr.split("faltan", 1)[1]
        status = json.loads(_cli(db_url, "status", "--json").stdout)
        assert status["ready"] is False
        assert {s["source"]: s["missing"] for s in status["sources"]}["reta"] == 0

        service.uploader("care").upload(new["care"])
        done = _cli(db_url, "finish")
        assert done.returncode == 0 and "personas intactas" in done.stdout, done.stderr

        # Persons: each institution's results, resolved with its keys (locators of the new
        # batches), give the same pseudonyms for the same records.
        after = _persons(service, keys_dir)
        assert set(after) == set(before)
        same = sum(1 for k in before if before[k] == after[k])
        with service.engine.connect() as conn:
            report = conn.execute(sa.text("SELECT report FROM schema_migration")).scalar_one()
        report = json.loads(report) if isinstance(report, str) else report
        overlap = report["overlap"]
        assert overlap["records"] == len(before) and overlap["records_same_person"] == same
        assert same / len(before) >= 0.9
        assert overlap["pair_recall"] >= 0.9 and overlap["pair_precision"] >= 0.9

        # The request made before is approved now: its package is sealed from the new
        # schema's rows, and reta opens it with its keys to the same records.
        approved = client_for(service, "reid_approver", user="beto.approver").approve_reid(
            request["id"], reason="procede")
        assert approved["status"] == "approved"
        reta = service.uploader("reta")
        pinned = load_public_key(reta.get("/service/public-key")["public_key_pem"].encode())
        opened = open_package_records(reta.fetch_reid_package(request["id"], source="reta"),
                                      source="reta", keys_dir=keys_dir,
                                      service_public_key=pinned)  # type: ignore[arg-type]
        expected = {r for (src, r), p in before.items() if src == "reta" and p == pseudonym}
        assert {record_id for _, record_id in opened} == expected and len(expected) >= 1

        # Decisions survive (named by stored reference) and hold: not linked stays apart.
        with service.engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT kind, source_a, ref_a, source_b, ref_b FROM link_decision")).all() \
                == decisions
            pair = conn.execute(sa.text(
                "SELECT source_a, ref_a, source_b, ref_b FROM review_pair WHERE status = "
                "'not_linked'")).one()
            people = {(int(s), bytes(r)): p for s, r, p in conn.execute(sa.text(
                "SELECT source_id, record_ref, person_id FROM membership WHERE current"))}
        assert people[(pair[0], bytes(pair[1]))] != people[(pair[2], bytes(pair[3]))]

        # Nothing of the old schema stays readable: no CLK of a v4 batch opens from any row,
        # old rows open empty, no old ciphertext is left in the database file.
        rows = _opened_rows(service)
        assert not any(r.clk in old_clks for _, r in rows)
        assert all(r.clk == b"" and r.attributes == {} for current, r in rows if not current)
        assert sum(1 for current, _ in rows if current) == len(before)
        assert service.count("schema_migration_record") == 0
        if db_url.startswith("sqlite"):
            path = Path(db_url.removeprefix("sqlite:///"))
            raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
            assert not [blob for blob in old_sealed if blob[13:45] in raw]
            ids = identifiers_of(sorted(data.glob("*.csv")))
            assert scan_database([p for p in (path, Path(f"{path}-wal")) if p.exists()], ids,
                                 tmp_path / "scan") == []
            outputs = "".join(r.stdout + r.stderr for r in (started, denied, done))
            assert "link.job.done" in log.getvalue() and "upload.stored" in log.getvalue()
            assert scan_text((outputs + log.getvalue()).encode(), ids, "log and CLI") == []

        # The audit chain verifies and tells the story.
        assert verify(service.engine, service.app.state.service_key.public_key()).ok
        with service.engine.connect() as conn:
            actions = [(a, o) for a, o in conn.execute(sa.text(
                "SELECT action, outcome FROM audit_entry WHERE action LIKE 'schema.%' OR "
                "action = 'upload.migration' ORDER BY seq"))]
        assert actions == [("schema.migrate.start", "ok"), ("upload.migration", "ok"),
                           ("upload.migration", "ok"), ("schema.migrate.finish", "denied"),
                           ("upload.migration", "ok"), ("schema.migrate.switch", "ok"),
                           ("schema.migrate.finish", "ok")]

        # The bank now takes only the new schema, whatever the running service was told.
        with pytest.raises(ServiceError, match="esquema de enlace desconocido"):
            service.uploader("reta").upload(_encode(data, keys_dir, tmp_path, "reta",
                                                    SOURCE_SCHEMA))
        assert _link(service)["parameters"]["linkage_schema"] == target
        with pytest.raises(SchemaMismatch, match=f"VINCULO_LINKAGE_SCHEMA={target}"):
            create_app(Settings(database_url=db_url, **_data_dir(db_url, tmp_path)))
        create_app(Settings(database_url=db_url, linkage_schema=target,
                            **_data_dir(db_url, tmp_path))).state.engine.dispose()
    finally:
        logging.getLogger("vinculo").removeHandler(handler)
        service.close()


def _data_dir(db_url: str, tmp_path: Path) -> dict[str, Any]:
    return {} if db_url.startswith("sqlite") else {"data_dir": tmp_path}


# --------------------------------------------------------------------------- refusals, cheap


OTHER_FP = schema_fingerprint(load_linkage_schema(OTHER))


def _refs(prefix: bytes, n: int) -> list[bytes]:
    return [(prefix * 32)[:31] + bytes([i]) for i in range(n)]


def _migrated_to_other(service: ServiceHarness) -> dict[str, Any]:
    """The migration of a bank already switched to OTHER (open-switched or done)."""
    from linkage_service.bank.migration import migration_state

    state = migration_state(service.engine)
    assert state.bank_schema == OTHER and state.migration is not None
    return state.migration


def test_stale_reencoding_cancel_and_no_relink(
    service: ServiceHarness, make_batch: Callable[..., Path],
) -> None:
    from linkage_service.bank.migration import (
        cancel_migration,
        finish_migration,
        migration_state,
        start_migration,
    )
    from vinculo_common.errors import Conflict, InputError

    refs = _refs(b"a", 6)
    service.uploader("reta").upload(make_batch("reta", refs))
    assert _link(service)["status"] == "done"
    with pytest.raises(InputError, match="ya está en el esquema"):
        start_migration(service.engine, target=DEFAULT_SCHEMA_ID, actor="test:op")
    with pytest.raises(InputError, match="esquema de enlace desconocido"):
        start_migration(service.engine, target="vinculo-v9", actor="test:op")
    start_migration(service.engine, target=OTHER, actor="test:op")
    with pytest.raises(Conflict, match="ya hay una migración"):
        start_migration(service.engine, target=OTHER, actor="test:op")

    uploader = service.uploader("reta")
    assert uploader.upload(make_batch("reta", refs, fingerprint=OTHER_FP))["status"] \
        == "migration"
    # The record changes after its re-encoding: finish is refused until it is re-encoded.
    uploader.upload(make_batch("reta", refs[:1]))
    state = migration_state(service.engine)
    reta = next(c for c in state.coverage if c.source == "reta")
    assert (reta.current, reta.reencoded, reta.stale, reta.missing) == (6, 5, 1, 1)
    with pytest.raises(Conflict, match=r"reta \(1 de 6 registros, 1 cambiados"):
        finish_migration(service.engine, actor="test:op")
    shown = _cli(service.db_url, "status")
    assert shown.returncode == 0
    assert f"{DEFAULT_SCHEMA_ID} → {OTHER}" in shown.stdout
    assert "faltan fuentes: reta" in shown.stdout
    assert [line.split() for line in shown.stdout.splitlines() if line.startswith("reta")] == \
        [["reta", "6", "5", "1", "1", "falta"]]
    assert service.count("link_job", "status = 'queued'") == 0

    # Cancel drops every held re-encoding; the bank stays in its schema.
    assert cancel_migration(service.engine, actor="test:op") == 6
    assert service.count("schema_migration_record") == 0
    with pytest.raises(ServiceError, match="esquema de enlace desconocido"):
        uploader.upload(make_batch("reta", refs, fingerprint=OTHER_FP))
    assert _link(service)["status"] == "done"  # the changed record is linked as it is now

    # Again, and finish without re-linking: the persons are exactly those of before.
    start_migration(service.engine, target=OTHER, actor="test:op")
    uploader.upload(make_batch("reta", refs, fingerprint=OTHER_FP))
    with service.engine.connect() as conn:
        persons = conn.execute(sa.text(
            "SELECT record_ref, person_id FROM membership WHERE current ORDER BY record_ref"
        )).all()
    migration = finish_migration(service.engine, actor="test:op", relink=False)
    assert migration["status"] == "done"
    assert migration["report"]["overlap"]["persons_kept_share"] == 1.0
    with service.engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT record_ref, person_id FROM membership WHERE current ORDER BY record_ref"
        )).all() == persons
    assert migration_state(service.engine).bank_schema == OTHER


@pytest.mark.parametrize(("round_", "delay"), [(0, 0.0), (1, 0.05), (2, 0.3)])
def test_uploads_racing_finish_never_mix_schemas(
    service: ServiceHarness, make_batch: Callable[..., Path], round_: int, delay: float,
) -> None:
    """Old-schema uploads of new records sent at the moment ``finish`` switches the bank: each
    lands before the switch (and then finish is refused, that record has no re-encoding) or is
    refused after it (422, or 409 when the switch happened during the upload); never an
    old-schema record current in a switched bank, never a 500. ``delay`` staggers finish so the
    rounds see both winners (measured: no delay, finish wins; 0.3 s, the uploads win)."""
    import threading
    import time

    from linkage_service.bank.migration import finish_migration, migration_state, start_migration
    from vinculo_common.errors import Conflict

    refs = _refs(bytes([0x40 + round_]), 4)
    uploader = service.uploader("sistra")
    uploader.upload(make_batch("sistra", refs))
    assert _link(service)["status"] == "done"
    start_migration(service.engine, target=OTHER, actor="test:op")
    uploader.upload(make_batch("sistra", refs, fingerprint=OTHER_FP))
    late = [make_batch("sistra", _refs(bytes([0x50 + round_ * 8 + i]), 1)) for i in range(4)]
    clients = [service.uploader("sistra") for _ in late]  # tokens made before the race
    gate = threading.Barrier(len(late) + 1)
    answers: list[Any] = [None] * len(late)
    finished: list[Any] = []

    def upload(i: int) -> None:
        gate.wait()
        try:
            answers[i] = clients[i].upload(late[i])["status"]
        except ServiceError as exc:
            answers[i] = exc.status

    def finish() -> None:
        gate.wait()
        time.sleep(delay)
        try:
            finished.append(finish_migration(service.engine, actor="test:op", relink=False))
        except Conflict as exc:
            finished.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(late))]
    threads.append(threading.Thread(target=finish))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(a in ("stored", 409, 422) for a in answers), answers
    stored = answers.count("stored")
    with service.engine.connect() as conn:
        schemas = Counter(str(fp) for (fp,) in conn.execute(sa.text(
            "SELECT u.schema_fingerprint FROM encoded_record r JOIN upload u "
            "ON u.id = r.upload_id WHERE r.is_current")))
    state = migration_state(service.engine)
    if isinstance(finished[0], dict):  # switched: only the target schema is current
        assert state.bank_schema == OTHER and stored == 0
        assert schemas == Counter({OTHER_FP: len(refs)})
    else:  # refused: a late record has no re-encoding (or one was stored while finish ran,
        # "run finish again"); either way the bank stays as it was
        why = str(finished[0])
        assert ("sistra" in why or "repita finish" in why) and stored >= 1, why
        assert state.bank_schema is None and state.migration is not None
        assert OTHER_FP not in schemas and sum(schemas.values()) == len(refs) + stored


def test_failed_relink_leaves_a_consistent_bank_and_finish_resumes(
    service: ServiceHarness, make_batch: Callable[..., Path],
) -> None:
    from linkage_service.bank.migration import finish_migration, start_migration
    from vinculo_common.errors import Conflict

    refs = _refs(b"b", 5)
    service.uploader("care").upload(make_batch("care", refs))
    assert _link(service)["status"] == "done"
    with service.engine.connect() as conn:
        persons = conn.execute(sa.text(
            "SELECT record_ref, person_id FROM membership WHERE current ORDER BY record_ref"
        )).all()
    start_migration(service.engine, target=OTHER, actor="test:op")
    service.uploader("care").upload(make_batch("care", refs, fingerprint=OTHER_FP))

    def broken(**_: Any) -> Any:
        raise SchemaMismatch("núcleo roto a propósito (test)")

    with pytest.raises(Conflict, match="repita vinculo admin schema-migrate finish"):
        finish_migration(service.engine, actor="test:op", linker=broken)
    migration = _migrated_to_other(service)
    assert migration["status"] == "switched"
    # Switched but not re-linked: every person still has its records, in the new schema.
    with service.engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT record_ref, person_id FROM membership WHERE current ORDER BY record_ref"
        )).all() == persons
        assert conn.execute(sa.text(
            "SELECT count(*) FROM membership m JOIN encoded_record r ON r.id = m.record_row_id "
            "WHERE m.current AND r.is_current")).scalar_one() == len(refs)
    done = finish_migration(service.engine, actor="test:op")
    assert done["status"] == "done" and done["relink_job_id"] != migration["relink_job_id"]
    assert done["report"]["overlap"]["records"] == len(refs)


def test_a_lock_held_elsewhere_stops_the_rewrite_in_time_and_finish_resumes(
    service: ServiceHarness, make_batch: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another connection's open transaction (a reader left idle in ``vinculo serve``, a psql
    session) must not hold finish forever, nor queue the service's readers behind its rewrite:
    the rewrite gives up after its lock timeout with one line saying what to repeat, the switch
    it follows stands, and finish run again rewrites the file and re-links."""
    from linkage_service.bank.migration import finish_migration, start_migration
    from linkage_service.custody import records
    from vinculo_common.errors import Conflict

    monkeypatch.setattr(records, "SCRUB_LOCK_TIMEOUT_S", 1.0)
    refs = _refs(b"c", 4)
    service.uploader("sistra").upload(make_batch("sistra", refs))
    assert _link(service)["status"] == "done"
    start_migration(service.engine, target=OTHER, actor="test:op")
    service.uploader("sistra").upload(make_batch("sistra", refs, fingerprint=OTHER_FP))

    # An open read transaction on the bank's records, as an idle session leaves it (pysqlite
    # begins none for a SELECT by itself: the raw connection begins it).
    reader = service.engine.raw_connection()
    try:
        cursor = reader.cursor()
        if service.engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")
        cursor.execute("SELECT count(*) FROM encoded_record")
        assert cursor.fetchone()[0] > 0
        with pytest.raises(Conflict, match="repita vinculo admin schema-migrate finish") as got:
            finish_migration(service.engine, actor="test:op")
        assert "no se pudo reescribir el archivo de la base en 1 s" in str(got.value)
        assert "\n" not in str(got.value)
        assert _migrated_to_other(service)["status"] == "switched"
    finally:
        reader.close()
    done = finish_migration(service.engine, actor="test:op")
    assert done["status"] == "done"
    assert done["report"]["overlap"]["records"] == len(refs)
    if service.engine.dialect.name == "sqlite":  # the rewrite reached the file this time
        with service.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0] == 0


def test_two_finishes_at_once_finish_once_and_the_other_says_why(
    service: ServiceHarness, make_batch: Callable[..., Path],
) -> None:
    """Two operators run finish at the same moment: one migrates and re-links; the other is
    refused with what is happening (a re-link running, or done), never told that the re-link
    failed and should be repeated."""
    import threading

    from linkage_service.bank.migration import finish_migration, start_migration
    from vinculo_common.errors import Conflict

    refs = _refs(b"d", 6)
    service.uploader("reta").upload(make_batch("reta", refs))
    assert _link(service)["status"] == "done"
    start_migration(service.engine, target=OTHER, actor="test:op")
    service.uploader("reta").upload(make_batch("reta", refs, fingerprint=OTHER_FP))
    outcomes: list[Any] = []
    barrier = threading.Barrier(2)

    def finish() -> None:
        barrier.wait()
        try:
            outcomes.append(finish_migration(service.engine, actor="test:op")["status"])
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("done") == 1, outcomes
    refused = next(o for o in outcomes if isinstance(o, Conflict))
    assert "repita" not in str(refused) and "did not finish" not in str(refused), refused
    assert _migrated_to_other(service)["status"] == "done"
    with service.engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM membership m JOIN encoded_record r ON r.id = m.record_row_id "
            "WHERE m.current AND r.is_current")).scalar_one() == len(refs)
        assert conn.execute(sa.text(
            "SELECT count(*) FROM link_job WHERE status <> 'done'")).scalar_one() == 0


def test_a_service_configured_for_another_schema_refuses_the_bank(
    db_url: str, keys_dir: Path, make_batch: Callable[..., Path], tmp_path: Path,
) -> None:
    """A new default schema never silently takes over a bank encoded under the previous one."""
    from linkage_service.app import create_app
    from linkage_service.settings import Settings

    service = ServiceHarness(db_url, keys_dir)
    try:
        service.uploader("sistra").upload(make_batch("sistra", _refs(b"c", 2)))
    finally:
        service.close()
    with pytest.raises(SchemaMismatch, match=f"VINCULO_LINKAGE_SCHEMA={DEFAULT_SCHEMA_ID}"):
        create_app(Settings(database_url=db_url, linkage_schema=OTHER,
                            **_data_dir(db_url, tmp_path)))
