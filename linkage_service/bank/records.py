"""Reading the bank's current records into arrays for the linkage job.

One row per *current* record (``encoded_record.is_current``: withdrawn records and superseded
versions are out), in a stable order (source id, record reference), with the person each record
belonged to after the last job (``-1``: new, or re-uploaded with a new version since).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.custody import custody_key_for
from linkage_service.custody.records import opened, record_columns
from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Decision, LinkJob, Membership
from linkage_service.models.record import CONTENT_COLUMNS
from vinculo_common.batch import RECORD_SECTIONS

__all__ = ["BankRecords", "DecisionPairs", "load_current_records", "load_decisions"]

RecordKey = tuple[int, bytes]


@dataclass
class BankRecords:
    """Current records as parallel arrays; ``index`` maps (source_id, record_ref) → row."""

    row_ids: np.ndarray  # int64, encoded_record.id of the current version
    source_ids: np.ndarray  # int64
    record_refs: list[bytes]
    clks: np.ndarray  # uint8 (n, clk bytes)
    # Per schema section (vinculo_common.batch.RECORD_SECTIONS: doc_hash, family, doc_near),
    # each record's bytes; None where the record's schema has no such section.
    sections: dict[str, list[bytes | None]]
    attributes: list[dict[str, Any]]
    old_person: np.ndarray  # int64, -1 when not (or no longer) linked as this version
    linked_person: np.ndarray  # int64, person of the record whatever its version, -1 if none
    source_names: dict[int, str]
    index: dict[RecordKey, int] = field(default_factory=dict)
    # The Fellegi–Sunter model the last done job recorded (its parameters["model"]), so a
    # small incremental job can reuse it instead of re-estimating on its few new pairs.
    last_model: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.record_refs)

    def key(self, i: int) -> RecordKey:
        return int(self.source_ids[i]), self.record_refs[i]


_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_MEM: sa.Table = Membership.__table__  # type: ignore[attr-defined]


def load_current_records(session: Session, *, clk_bytes: int | None = None) -> BankRecords:
    """Load every current record with its CLK, attributes and previous person.

    ``clk_bytes`` (optional) checks that all CLKs have that length.
    """
    r = _REC.c
    rows = session.execute(
        sa.select(*record_columns()).where(r.is_current.is_(True)).order_by(r.id)
    ).all()
    custody = custody_key_for(session)
    m = _MEM.c
    members = {
        (int(s), bytes(ref)): (int(p), int(row))
        for s, ref, p, row in session.execute(
            sa.select(m.source_id, m.record_ref, m.person_id, m.record_row_id)
            .where(m.current.is_(True))
        ).all()
    }
    job: sa.Table = LinkJob.__table__  # type: ignore[attr-defined]
    last_model = next(  # a job that skipped the core (nothing new) recorded no model
        (p["model"] for p in session.execute(
            sa.select(job.c.parameters).where(job.c.status == "done")
            .order_by(job.c.id.desc()).limit(20)
        ).scalars() if isinstance(p, dict) and isinstance(p.get("model"), dict)),
        None,
    )
    src: sa.Table = Source.__table__  # type: ignore[attr-defined]
    names = {int(i): str(n) for i, n in session.execute(sa.select(src.c.id, src.c.name)).all()}
    n = len(rows)
    opened_rows = [opened(custody, row) for row in rows]  # decrypted in memory only
    width = clk_bytes or (len(opened_rows[0].clk) if rows else 128)
    clks = np.zeros((n, width), dtype=np.uint8)
    row_ids = np.empty(n, dtype=np.int64)
    source_ids = np.empty(n, dtype=np.int64)
    old_person = np.full(n, -1, dtype=np.int64)
    linked_person = np.full(n, -1, dtype=np.int64)
    refs: list[bytes] = []
    sections: dict[str, list[bytes | None]] = {name: [] for name in RECORD_SECTIONS}
    attributes: list[dict[str, Any]] = []
    index: dict[RecordKey, int] = {}
    for i, (row, record) in enumerate(zip(rows, opened_rows, strict=True)):
        clk = record.clk
        if len(clk) != width:
            from vinculo_common.errors import SchemaMismatch

            raise SchemaMismatch(
                f"CLKs de distinto largo en el banco ({len(clk)} y {width} bytes): "
                "no se pueden enlazar juntos (mixed CLK sizes)"
            )
        clks[i] = np.frombuffer(clk, dtype=np.uint8)
        row_ids[i] = int(row.id)
        source_ids[i] = int(row.source_id)
        ref = bytes(row.record_ref)
        refs.append(ref)
        for name, values in sections.items():
            values.append(record.sections.get(name))
        attributes.append({name: record.attributes.get(name) for name in CONTENT_COLUMNS})
        key = (int(row.source_id), ref)
        index[key] = i
        member = members.get(key)
        if member is not None:
            linked_person[i] = member[0]
            if member[1] == int(row.id):
                old_person[i] = member[0]
    return BankRecords(
        row_ids=row_ids, source_ids=source_ids, record_refs=refs, clks=clks,
        sections=sections, attributes=attributes, old_person=old_person,
        linked_person=linked_person, source_names=names, index=index,
        last_model=last_model,
    )


@dataclass(frozen=True)
class DecisionPairs:
    """Reviewers' decisions between current records, as row indices into BankRecords."""

    must_link: np.ndarray  # int64 (k, 2)
    cannot_link: np.ndarray  # int64 (k, 2)
    # Fingerprint of every decision (id, kind, time): a job whose records and decisions are
    # unchanged since the last one need not run the core again.
    version: str = ""


def load_decisions(session: Session, *, records: BankRecords) -> DecisionPairs:
    """Every decision whose two records are both current (others wait for their return)."""
    must: list[tuple[int, int]] = []
    cannot: list[tuple[int, int]] = []
    digest = hashlib.sha256()
    for d in session.execute(sa.select(Decision).order_by(Decision.id)).scalars():  # type: ignore[arg-type]
        digest.update(f"{d.id}:{d.kind}:{d.decided_at.isoformat()};".encode())
        a = records.index.get((d.source_a, bytes(d.ref_a)))
        b = records.index.get((d.source_b, bytes(d.ref_b)))
        if a is None or b is None:
            continue
        (must if d.kind == "must" else cannot).append((a, b))
    return DecisionPairs(
        must_link=np.array(must, dtype=np.int64).reshape(-1, 2),
        cannot_link=np.array(cannot, dtype=np.int64).reshape(-1, 2),
        version=digest.hexdigest()[:16],
    )
