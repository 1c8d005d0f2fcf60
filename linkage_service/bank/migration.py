"""Changing the bank's linkage schema (``vinculo admin schema-migrate``; docs/operations.md).

A bank links encodings of one schema only: encodings of two schemas cannot be compared. To move
a bank to another schema (a hardened ``vinculo-v5``, say) without losing its history:

1. **start** (operator): the target schema is declared; the bank keeps working in its schema
   (uploads, jobs, review, re-identification) meanwhile.
2. **migration batches** (each institution): the source re-encodes its current export under
   the target schema with the same keys (``vinculo encode --schema TARGET``) and uploads it as
   usual (``vinculo upload``). A batch of the target schema is a *migration batch*: each record
   is matched to the record the bank holds by its stored reference (the custody-keyed HMAC of
   the source's ``record_ref``, never by content) and held beside it, sealed under the custody
   key, pinned to the version it re-encodes (store.migration_batches). A reference the bank
   does not hold as current refuses the whole batch; nothing is written.
3. **finish** (operator): refused, naming the sources, while a current record of any source
   lacks its re-encoding (never uploaded, or the record changed after its migration batch).
   Otherwise, in ONE transaction with its audit entry and holding the job lane: every current
   record gets a new version carrying its target encodings; memberships that pointed at the
   replaced version follow it (persons unchanged); every row of the old schema is emptied (its
   sealed value replaced by an empty record), the held re-encodings are dropped, the bank's
   schema becomes the target. The file is then rewritten (VACUUM) so no old ciphertext stays on
   disk. Then a re-link under the target schema (a normal job, ``relink_all``: every record
   linked afresh with every review decision as a constraint) whose clusters the bank's own
   rules map to the old persons (``bank.plan``: a group that still holds a whole old person
   keeps its pseudonym; merges keep the larger; a split gives each part a new pseudonym with
   lineage, so no pseudonym silently changes meaning). The overlap between the persons before
   and after is measured and kept (``schema_migration.report``). ``--no-relink`` keeps the old
   clustering as it is (only later records are linked under the target schema).

Person ids, review pairs, votes and decisions (all named by stored reference), re-identification
requests and the audit chain are untouched by the swap; the re-link appends to them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.audit.log import record_alone
from linkage_service.bank.jobs import create_job, forget_job, get_job, run_job
from linkage_service.bank.linking import Linker
from linkage_service.custody import CustodyKey, custody_key_for, open_record, seal_record
from linkage_service.custody.records import ScrubBlocked, scrub_free_space, seal_row
from linkage_service.models import EncodedRecord, Source, Upload
from linkage_service.models.bank import Membership, Person
from linkage_service.models.common import utcnow
from linkage_service.models.migration import (
    OPEN_MIGRATION_STATUSES,
    MigrationRecord,
    SchemaMigration,
)
from linkage_service.models.record import CONTENT_COLUMNS
from linkage_service.store.migration_batches import bank_schema, open_migration
from linkage_service.store.uploads import in_chunks, insert_rows
from vinculo_common.batch import RECORD_SECTIONS
from vinculo_common.errors import Conflict, InputError, SchemaMismatch, VinculoError
from vinculo_common.schemas import known_fingerprints, load_linkage_schema, schema_fingerprint

__all__ = [
    "MigrationState",
    "SourceCoverage",
    "cancel_migration",
    "check_bank_schema",
    "finish_migration",
    "migration_state",
    "overlap_report",
    "start_migration",
]

_MIG: sa.Table = SchemaMigration.__table__  # type: ignore[attr-defined]
_HELD: sa.Table = MigrationRecord.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_UP: sa.Table = Upload.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]
_MEM: sa.Table = Membership.__table__  # type: ignore[attr-defined]
_PERSON: sa.Table = Person.__table__  # type: ignore[attr-defined]
_OPEN = _MIG.c.status.in_(OPEN_MIGRATION_STATUSES)
RecordKey = tuple[int, bytes]


# ----------------------------------------------------------------------------- state


def check_bank_schema(engine: Engine, configured: str, *, extra: Iterable[str] = ()) -> None:
    """At start: refuse a service configured for another schema than its bank's (its uploads
    and jobs would mix schemas): the one a migration switched it to or, never migrated, the one
    its current records carry (``extra``: fingerprints also accepted, development only). So a
    new default schema never silently takes over a bank encoded under the previous one."""
    with Session(engine) as session:
        current = bank_schema(session)
        if current is None:
            r, u = _REC.c, _UP.c
            found = {str(fp) for fp in session.execute(
                sa.select(u.schema_fingerprint).distinct()
                .select_from(_REC.join(_UP, u.id == r.upload_id))
                .where(r.is_current.is_(True))).scalars()}
    if current is not None:
        if current[0] != configured:
            raise SchemaMismatch(
                f"este banco está en el esquema de enlace {current[0]} (migrado con vinculo "
                f"admin schema-migrate); arranque con VINCULO_LINKAGE_SCHEMA={current[0]} (the "
                f"bank's schema is {current[0]}, not {configured})"
            )
        return
    accepted = {schema_fingerprint(load_linkage_schema(configured)), *extra}
    other = sorted(found - accepted)
    if other:
        names = known_fingerprints()
        held = ", ".join(names.get(fp, "desconocido") for fp in other)
        raise SchemaMismatch(
            f"este banco tiene registros del esquema de enlace {held} y el servicio está "
            f"configurado con {configured}: arranque con VINCULO_LINKAGE_SCHEMA={held} o migre "
            f"el banco con vinculo admin schema-migrate (the bank holds {held} records)"
        )


# ----------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class SourceCoverage:
    """A source's current records and how many of them have a valid re-encoding held."""

    source: str
    current: int
    reencoded: int
    stale: int  # re-encoded, but the record got a new version after its migration batch

    @property
    def missing(self) -> int:
        return self.current - self.reencoded

    def describe(self) -> str:
        if self.reencoded == 0:
            return f"{self.source} (ninguno de sus {self.current} registros)"
        extra = f", {self.stale} cambiados después de su carga de migración" if self.stale else ""
        return f"{self.source} ({self.missing} de {self.current} registros{extra})"


def _coverage(session: Session, migration_id: int) -> list[SourceCoverage]:
    r, h = _REC.c, _HELD.c
    names = {int(i): str(n) for i, n in session.execute(sa.select(_SRC.c.id, _SRC.c.name))}
    current: dict[int, int] = dict.fromkeys(names, 0)
    valid: Counter[int] = Counter()
    stale: Counter[int] = Counter()
    for sid, count in session.execute(
        sa.select(r.source_id, sa.func.count()).where(r.is_current.is_(True))
        .group_by(r.source_id)
    ).all():
        current[int(sid)] = int(count)
    rows = session.execute(
        sa.select(h.source_id, r.id.is_not(None))
        .select_from(_HELD.outerjoin(_REC, sa.and_(r.id == h.record_row_id,
                                                  r.is_current.is_(True))))
        .where(h.migration_id == migration_id)
    ).all()
    for sid, ok in rows:
        (valid if ok else stale)[int(sid)] += 1
    return [SourceCoverage(source=names[sid], current=current[sid], reencoded=valid[sid],
                           stale=stale[sid]) for sid in sorted(names, key=lambda i: names[i])]


@dataclass(frozen=True)
class MigrationState:
    """What ``vinculo admin schema-migrate status`` prints."""

    bank_schema: str | None  # None: never migrated (the configured schema)
    migration: dict[str, Any] | None  # the latest migration, any status
    coverage: list[SourceCoverage] = field(default_factory=list)  # for an open migration

    def missing(self) -> list[SourceCoverage]:
        return [c for c in self.coverage if c.current and c.missing]


def _public(m: SchemaMigration) -> dict[str, Any]:
    return {"id": m.id, "status": m.status, "from_schema": m.from_schema,
            "to_schema": m.to_schema, "started_at": m.started_at.isoformat(),
            "started_by": m.started_by,
            "switched_at": m.switched_at.isoformat() if m.switched_at else None,
            "finished_at": m.finished_at.isoformat() if m.finished_at else None,
            "relink_job_id": m.relink_job_id, "report": dict(m.report or {})}


def migration_state(engine: Engine) -> MigrationState:
    with Session(engine) as session:
        schema = bank_schema(session)
        latest = session.execute(
            sa.select(SchemaMigration).order_by(_MIG.c.id.desc()).limit(1)).scalars().first()
        coverage = _coverage(session, int(latest.id)) \
            if latest is not None and latest.status == "open" and latest.id is not None else []
        return MigrationState(bank_schema=schema[0] if schema else None,
                              migration=_public(latest) if latest is not None else None,
                              coverage=coverage)


# ----------------------------------------------------------------------------- start / cancel


def _schema_of_bank(session: Session) -> tuple[str, str]:
    """(id, fingerprint) of the schema the bank's current records are encoded under."""
    migrated = bank_schema(session)
    if migrated is not None:
        return migrated
    r, u = _REC.c, _UP.c
    found = session.execute(
        sa.select(u.schema_fingerprint, sa.func.min(u.schema_id))
        .select_from(_REC.join(_UP, u.id == r.upload_id))
        .where(r.is_current.is_(True)).group_by(u.schema_fingerprint)
    ).all()
    if not found:
        raise Conflict("el banco no tiene registros: no hay nada que migrar; arranque el "
                       "servicio con el esquema nuevo (VINCULO_LINKAGE_SCHEMA) y cargue "
                       "(empty bank: nothing to migrate)")
    if len(found) > 1:
        raise Conflict("el banco tiene registros de varios esquemas de enlace: no se puede "
                       "migrar (the bank mixes linkage schemas)")
    fingerprint, schema_id = str(found[0][0]), str(found[0][1])
    return known_fingerprints().get(fingerprint, schema_id), fingerprint


def start_migration(engine: Engine, *, target: str, actor: str,
                    now: datetime | None = None) -> dict[str, Any]:
    """Declare the target schema (``schemas/linkage/<target>.json``); audited
    (``schema.migrate.start``). Conflict while another migration is open or the bank is empty;
    InputError for an unknown schema or the bank's own."""
    fingerprint = schema_fingerprint(load_linkage_schema(target))  # InputError when unknown
    now = now or utcnow()
    with Session(engine) as session:
        if open_migration(session) is not None:
            raise Conflict("ya hay una migración de esquema abierta: termínela o cancélela "
                           "(a schema migration is already open)")
        from_id, from_fp = _schema_of_bank(session)
        if from_fp == fingerprint:
            raise InputError(f"el banco ya está en el esquema {target} (already in {target})")
        migration = SchemaMigration(status="open", from_schema=from_id[:100],
                                    from_fingerprint=from_fp[:100], to_schema=target[:100],
                                    to_fingerprint=fingerprint, started_by=actor[:200],
                                    started_at=now)
        session.add(migration)
        try:
            session.flush()
        except DBIntegrityError:
            session.rollback()
            raise Conflict("ya hay una migración de esquema abierta (a schema migration is "
                           "already open)") from None
        record(session, actor=actor, action="schema.migrate.start",
               objects=[f"schema_migration:{migration.id}", f"schema:{from_id}",
                        f"schema:{target}"], now=now)
        session.commit()
        return _public(migration)


def cancel_migration(engine: Engine, *, actor: str, now: datetime | None = None) -> int:
    """Cancel the open migration: its held re-encodings are deleted (and the file rewritten);
    the bank stays in its schema. Not once switched. Returns the records dropped; audited."""
    now = now or utcnow()
    with Session(engine) as session:
        migration = open_migration(session, lock=True)
        if migration is None or migration.status != "open":
            raise Conflict("no hay una migración de esquema abierta que cancelar" + (
                " (la migración ya cambió el banco de esquema: termínela con finish)"
                if migration is not None else "") + " (no open schema migration to cancel)")
        dropped = session.execute(sa.delete(_HELD).where(_HELD.c.migration_id == migration.id))
        migration.status, migration.finished_at = "cancelled", now
        record(session, actor=actor, action="schema.migrate.cancel",
               objects=[f"schema_migration:{migration.id}",
                        f"count:{int(dropped.rowcount or 0)}"],  # type: ignore[attr-defined]
               now=now)
        session.commit()
        count = int(dropped.rowcount or 0)  # type: ignore[attr-defined]
    _scrub(engine, then="la migración quedó cancelada y sus recodificaciones borradas, pero sus "
           "páginas siguen en el archivo: reescríbalo con vinculo admin custody encrypt")
    return count


def _scrub(engine: Engine, *, then: str) -> None:
    """Rewrite the file (old ciphertexts' pages leave it); ``then``: what the operator repeats
    when another connection's lock stops the rewrite (what was committed stands)."""
    try:
        scrub_free_space(engine, tables=("encoded_record", "schema_migration_record"))
    except ScrubBlocked as exc:
        raise ScrubBlocked(f"{then}; {exc}") from None


# ----------------------------------------------------------------------------- finish


def _empty_row(key: CustodyKey, *, source_id: int, stored: bytes, version: int) -> bytes:
    """What an old-schema row keeps: an empty record sealed to it (no CLK, sections, attributes,
    reference or locator), so no reader finds a value and the row's history stays."""
    return seal_record(key, source_id=source_id, record_ref=stored, version=version, clk=b"",
                       sections={}, attributes={})


def _switch(session: Session, *, migration: SchemaMigration, job_id: int,
            now: datetime) -> dict[str, int]:
    """The cut-over's writes (the caller's transaction): new versions under the target schema,
    memberships follow, old-schema rows emptied, held re-encodings dropped."""
    assert migration.id is not None
    custody = custody_key_for(session)
    r, h, m = _REC.c, _HELD.c, _MEM.c
    held = {(int(row.source_id), bytes(row.record_ref)): row for row in session.execute(
        sa.select(h.source_id, h.record_ref, h.record_row_id, h.upload_id, h.sealed)
        .where(h.migration_id == migration.id)).all()}
    current = session.execute(
        sa.select(r.id, r.source_id, r.record_ref, r.version).where(r.is_current.is_(True))
        .order_by(r.id)).all()
    rows: list[dict[str, Any]] = []
    replaced: dict[int, RecordKey] = {}
    for row in current:
        key = (int(row.source_id), bytes(row.record_ref))
        item = held.get(key)
        if item is None or int(item.record_row_id) != int(row.id):
            raise Conflict("un registro cambió durante la migración: repita finish "
                           "(a record changed meanwhile; run finish again)")
        opened = open_record(custody, bytes(item.sealed), source_id=key[0], record_ref=key[1],
                             version=-int(migration.id))
        rows.append(seal_row(custody, {
            "source_id": key[0], "record_ref": opened.record_ref,
            "version": int(row.version) + 1, "clk": opened.clk, "locator": opened.locator,
            **{n: opened.sections.get(n) for n in RECORD_SECTIONS},
            **{n: opened.attributes.get(n) for n in CONTENT_COLUMNS},
            "upload_id": int(item.upload_id), "created_at": now, "is_current": True,
            "withdrawn_at": None,
        }))
        if rows[-1]["record_ref"] != key[1]:
            raise VinculoError("una recodificación no corresponde a su registro "
                               "(a held re-encoding does not match its record)")
        replaced[int(row.id)] = key
    old_ids = list(replaced)
    for chunk in in_chunks(old_ids):
        session.execute(sa.update(_REC).where(r.id.in_(chunk)).values(is_current=False))
    insert_rows(session, _REC, rows)
    new_id = {(int(s), bytes(ref)): int(i) for i, s, ref in session.execute(
        sa.select(r.id, r.source_id, r.record_ref).where(r.is_current.is_(True))).all()}
    # A membership that pointed at the replaced version points at its re-encoding: the person
    # is unchanged. One that pointed at an older version (the record changed since the last
    # job) is left as is, so the next job links the record again, as it would have.
    repoint = [{"mid": int(mid), "row": new_id[replaced[int(row_id)]]}
               for mid, row_id in session.execute(
                   sa.select(m.id, m.record_row_id).where(m.current.is_(True))).all()
               if int(row_id) in replaced]
    if repoint:
        session.execute(sa.update(_MEM).where(m.id == sa.bindparam("mid"))
                        .values(record_row_id=sa.bindparam("row")), repoint)
    # Every row not encoded under the target schema is emptied: superseded versions, withdrawn
    # records and the versions just replaced alike.
    old_uploads = [int(i) for i in session.execute(
        sa.select(_UP.c.id).where(_UP.c.schema_fingerprint != migration.to_fingerprint)
    ).scalars()]
    emptied = 0
    empty = sa.update(_REC).where(r.id == sa.bindparam("rid")).values(
        sealed=sa.bindparam("blob"), clk=b"", locator=b"", **dict.fromkeys(RECORD_SECTIONS),
        **dict.fromkeys(CONTENT_COLUMNS))
    for chunk in in_chunks(old_uploads):
        batch = [{"rid": int(row.id),
                  "blob": _empty_row(custody, source_id=int(row.source_id),
                                     stored=bytes(row.record_ref), version=int(row.version))}
                 for row in session.execute(sa.select(r.id, r.source_id, r.record_ref, r.version)
                                            .where(r.upload_id.in_(chunk))).all()]
        if batch:
            session.execute(empty, batch)
        emptied += len(batch)
    session.execute(sa.delete(_HELD).where(h.migration_id == migration.id))
    migration.status, migration.switched_at, migration.relink_job_id = "switched", now, job_id
    return {"records": len(rows), "rows_emptied": emptied, "memberships_kept": len(repoint)}


def _persons_now(session: Session) -> dict[RecordKey, str]:
    m, p = _MEM.c, _PERSON.c
    return {(int(s), bytes(ref)): str(pseudonym) for s, ref, pseudonym in session.execute(
        sa.select(m.source_id, m.record_ref, p.pseudonym).join(_PERSON, p.id == m.person_id)
        .where(m.current.is_(True))).all()}


def _pairs(sizes: Iterable[int]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes)


def overlap_report(before: dict[Any, str], after: dict[Any, str]) -> dict[str, Any]:
    """How the persons after a re-link correspond to those before, over the records in both.

    ``persons_kept``: persons before whose pseudonym now names exactly the same records;
    ``records_same_person``: records whose pseudonym did not change; ``pair_recall`` /
    ``pair_precision``: of the record pairs in one person before, the share still together /
    of those together after, the share together before.

    >>> r = overlap_report({1: "P-A", 2: "P-A", 3: "P-B"}, {1: "P-A", 2: "P-A", 3: "P-C"})
    >>> r["persons_kept"], r["records_same_person"], r["pair_recall"]
    (1, 2, 1.0)
    """
    keys = [k for k in before if k in after]
    groups_before: dict[str, set[Any]] = defaultdict(set)
    groups_after: dict[str, set[Any]] = defaultdict(set)
    cells: Counter[tuple[str, str]] = Counter()
    for k in keys:
        groups_before[before[k]].add(k)
        groups_after[after[k]].add(k)
        cells[(before[k], after[k])] += 1
    kept = sum(1 for p, ks in groups_before.items() if groups_after.get(p) == ks)
    pairs_before = _pairs(len(v) for v in groups_before.values())
    pairs_after = _pairs(len(v) for v in groups_after.values())
    pairs_both = _pairs(cells.values())
    return {
        "records": len(keys),
        "persons_before": len(groups_before),
        "persons_after": len(groups_after),
        "persons_kept": kept,
        "persons_kept_share": round(kept / len(groups_before), 4) if groups_before else 1.0,
        "records_same_person": sum(1 for k in keys if before[k] == after[k]),
        "pairs_before": pairs_before,
        "pairs_after": pairs_after,
        "pair_recall": round(pairs_both / pairs_before, 4) if pairs_before else 1.0,
        "pair_precision": round(pairs_both / pairs_after, 4) if pairs_after else 1.0,
    }


def _relink_parameters(migration: SchemaMigration, *, relink: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"linkage_schema": migration.to_schema,
                           "schema_migration": migration.id}
    if relink:
        out["relink_all"] = True
    return out


def finish_migration(
    engine: Engine, *, actor: str, relink: bool = True, linker: Linker | None = None,
    lease_s: float = 120.0, now: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    """Cut over to the target schema and re-link; return the migration (with its report).

    Refused (Conflict, audited ``schema.migrate.finish`` denied) while a source lacks
    re-encodings, listing them; a linkage job that is running refuses it too. A migration left
    ``switched`` (its re-link failed or was interrupted, or another connection's lock stopped
    the file's rewrite) is resumed: the rewrite (idempotent) and the re-link run again.
    """
    with Session(engine) as session:
        migration = open_migration(session, lock=True)
        if migration is None:
            raise Conflict("no hay una migración de esquema abierta: iníciela con "
                           "vinculo admin schema-migrate start (no open schema migration)")
        assert migration.id is not None
        mid = int(migration.id)
        to_schema = migration.to_schema
        objects = [f"schema_migration:{mid}", f"schema:{to_schema}"]
        if migration.status == "open":
            if schema_fingerprint(load_linkage_schema(migration.to_schema)) != \
                    migration.to_fingerprint:
                raise SchemaMismatch(f"el archivo del esquema {migration.to_schema} cambió desde "
                                     "que empezó la migración (schema file changed)")
            missing = [c for c in _coverage(session, mid) if c.current and c.missing]
            if missing:
                reason = (f"no se puede pasar al esquema {migration.to_schema}: faltan "
                          "recodificaciones de " + "; ".join(c.describe() for c in missing)
                          + f". Cada fuente debe codificar su exportación actual con --schema "
                          f"{migration.to_schema} y cargarla (sources missing: "
                          + ", ".join(c.source for c in missing) + ")")
                session.rollback()
                record_alone(engine, actor=actor, action="schema.migrate.finish",
                             objects=objects, reason=reason[:500], outcome="denied")
                raise Conflict(reason)
            stamp = now()
            job = create_job(session, requested_by=actor,
                             parameters=_relink_parameters(migration, relink=relink),
                             now=stamp, lease_s=lease_s)
            assert job.id is not None
            job_id = int(job.id)
            try:
                counts = _switch(session, migration=migration, job_id=job_id, now=stamp)
                migration.report = {"switch": counts, "relink": relink}
                record(session, actor=actor, action="schema.migrate.switch",
                       objects=[*objects, f"job:{job_id}", f"count:{counts['records']}"],
                       now=stamp)
                session.commit()
            except BaseException:
                session.rollback()
                forget_job(engine, job_id)
                raise
        else:  # switched: resume the re-link
            assert migration.relink_job_id is not None
            previous = get_job(session, job_id=int(migration.relink_job_id))
            job_id = int(previous.id or 0) if previous.status == "queued" else -1
            if job_id < 0:
                if previous.status in ("running",):
                    raise Conflict(f"el re-enlace de la migración (job {previous.id}) sigue en "
                                   "curso (the migration's re-link is running)")
                job = create_job(session, requested_by=actor,
                                 parameters={**dict(previous.parameters or {})},
                                 now=now(), lease_s=lease_s)
                assert job.id is not None
                job_id = int(job.id)
                migration.relink_job_id = job_id
                session.commit()
    # The old ciphertexts' pages leave the file (no session of ours still open); resumed too,
    # in case a lock stopped it the first time.
    _scrub(engine, then=f"el banco ya está en el esquema {to_schema}; repita vinculo admin "
                        "schema-migrate finish para reescribir el archivo y re-enlazar")
    with Session(engine) as session:
        before = _persons_now(session)
    status = run_job(engine, job_id=job_id, linker=linker, lease_s=lease_s)
    with Session(engine) as session:
        job_row = get_job(session, job_id=job_id)
        if status != "done" and job_row.status in ("running", "done"):
            # Not ours to run: another finish started at the same moment claimed the re-link.
            raise Conflict(
                f"otra ejecución de finish ya re-enlaza la migración (job {job_id}, "
                f"{'terminado' if job_row.status == 'done' else 'en curso'}): vea vinculo admin "
                "schema-migrate status (another finish is running the re-link)")
        if status != "done":
            raise Conflict(
                f"el re-enlace bajo el nuevo esquema (job {job_id}) terminó {status}: "
                f"{job_row.error or ''}; el banco ya está en el nuevo esquema con sus personas de "
                "antes: repita vinculo admin schema-migrate finish (re-link did not finish)")
        migration_row = session.get(SchemaMigration, mid)
        assert migration_row is not None
        report = {**dict(migration_row.report or {}),
                  "overlap": overlap_report(before, _persons_now(session)),
                  "job_counts": {k: v for k, v in dict(job_row.counts or {}).items()
                                 if k.startswith("persons_") or k in ("records",
                                                                     "review_pairs_new")}}
        migration_row.report = report
        migration_row.status, migration_row.finished_at = "done", now()
        record(session, actor=actor, action="schema.migrate.finish",
               objects=[f"schema_migration:{mid}", f"schema:{migration_row.to_schema}",
                        f"job:{job_id}"])
        session.commit()
        return _public(migration_row)
