"""Writing a job's clustering into the bank, in the caller's transaction.

Persons keep stable pseudonyms (rules in ``bank.plan``), memberships follow records (a withdrawn
record leaves its person; a record that moved closes its old membership and opens a new one),
lineage records every merge and split, and review-band pairs join the review queue once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.bank.plan import plan_persons
from linkage_service.bank.pseudonyms import new_pseudonym
from linkage_service.bank.records import BankRecords, RecordKey
from linkage_service.models.bank import Membership, Person, PersonLineage, ReviewPair
from vinculo_common.errors import InputError

__all__ = ["ClusterOutcome", "ReviewCandidate", "write_outcome"]

_PERSON: sa.Table = Person.__table__  # type: ignore[attr-defined]
_MEM: sa.Table = Membership.__table__  # type: ignore[attr-defined]
_LIN: sa.Table = PersonLineage.__table__  # type: ignore[attr-defined]
_REV: sa.Table = ReviewPair.__table__  # type: ignore[attr-defined]
_CHUNK = 5000


@dataclass(frozen=True)
class ReviewCandidate:
    """A pair of records (row indices into BankRecords) in the review band."""

    left: int
    right: int
    score: float
    evidence: dict[str, Any]


@dataclass(frozen=True)
class ClusterOutcome:
    """What the writer needs from a linkage run: a cluster label per record, review pairs."""

    labels: np.ndarray
    review: Sequence[ReviewCandidate] = ()
    timings: dict[str, float] = field(default_factory=dict)  # the executor's stages, seconds


def _ordered(a: RecordKey, b: RecordKey) -> tuple[RecordKey, RecordKey]:
    return (a, b) if a <= b else (b, a)


def _current_memberships(session: Session) -> dict[RecordKey, tuple[int, int, int]]:
    m = _MEM.c
    rows = session.execute(
        sa.select(m.id, m.source_id, m.record_ref, m.person_id, m.record_row_id)
        .where(m.current.is_(True))
    ).all()
    return {(int(s), bytes(ref)): (int(i), int(p), int(r)) for i, s, ref, p, r in rows}


def _create_persons(
    session: Session, *, count: int, job_id: int, now: datetime,
    random_bytes: Callable[[int], bytes],
) -> list[int]:
    taken = set(session.execute(sa.select(_PERSON.c.pseudonym)).scalars())
    pseudonyms: list[str] = []
    while len(pseudonyms) < count:
        p = new_pseudonym(random_bytes=random_bytes)
        if p not in taken:
            taken.add(p)
            pseudonyms.append(p)
    ids: dict[str, int] = {}
    for start in range(0, count, _CHUNK):
        chunk = pseudonyms[start:start + _CHUNK]
        rows = [{"pseudonym": p, "status": "active", "created_job_id": job_id,
                 "created_at": now, "updated_at": now} for p in chunk]
        session.execute(sa.insert(_PERSON), rows)
        ids.update(
            (str(p), int(i)) for i, p in session.execute(
                sa.select(_PERSON.c.id, _PERSON.c.pseudonym).where(_PERSON.c.pseudonym.in_(chunk))
            ).all()
        )
    return [ids[p] for p in pseudonyms]


def write_outcome(
    session: Session,
    *,
    records: BankRecords,
    outcome: ClusterOutcome,
    job_id: int,
    now: datetime,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> dict[str, int]:
    """Apply ``outcome`` to the bank (flushes, does not commit); return counts of what changed.

    Example: ``write_outcome(session, records=recs, outcome=ClusterOutcome(labels=labels),
    job_id=job.id, now=utcnow())``
    """
    labels = np.asarray(outcome.labels, dtype=np.int64)
    if labels.shape != (len(records),):
        raise InputError(f"labels has shape {labels.shape}, expected ({len(records)},)")
    members = _current_memberships(session)
    live = {p for _, p, _ in members.values()}
    linked = np.array(
        [members[records.key(i)][1] if records.key(i) in members else -1
         for i in range(len(records))], dtype=np.int64,
    )
    plan = plan_persons(old_person=linked, new_label=labels, live_persons=live)

    fresh = [c for c, p in plan.cluster_person.items() if p is None]
    new_ids = _create_persons(session, count=len(fresh), job_id=job_id, now=now,
                              random_bytes=random_bytes)
    person_of: dict[int, int] = {c: p for c, p in plan.cluster_person.items() if p is not None}
    person_of.update(zip(fresh, new_ids, strict=True))

    involved = set(person_of.values()) | set(plan.merged) | set(plan.split) | set(plan.retired)
    pseudonym = {
        int(i): str(p) for i, p in session.execute(
            sa.select(_PERSON.c.id, _PERSON.c.pseudonym).where(_PERSON.c.id.in_(involved))
        ).all()
    } if involved else {}

    lineage: list[dict[str, Any]] = []
    for old, c in plan.merged.items():
        lineage.append({"old_pseudonym": pseudonym[old], "new_pseudonym": pseudonym[person_of[c]],
                        "kind": "merge", "job_id": job_id, "at": now})
    for old, cs in plan.split.items():
        lineage.extend({"old_pseudonym": pseudonym[old], "new_pseudonym": pseudonym[person_of[c]],
                        "kind": "split", "job_id": job_id, "at": now} for c in cs)
    if lineage:
        session.execute(sa.insert(_LIN), lineage)
    for status, ids in (("merged", list(plan.merged)), ("split", list(plan.split)),
                        ("retired", plan.retired)):
        if ids:
            session.execute(sa.update(_PERSON).where(_PERSON.c.id.in_(ids))
                            .values(status=status, updated_at=now))

    to_close: list[int] = []
    to_repoint: list[dict[str, Any]] = []
    to_open: list[dict[str, Any]] = []
    touched: set[int] = set()
    for i in range(len(records)):
        key = records.key(i)
        target = person_of[int(labels[i])]
        row_id = int(records.row_ids[i])
        member = members.get(key)
        if member is not None and member[1] == target:
            if member[2] != row_id:
                to_repoint.append({"mid": member[0], "row": row_id})
            continue
        if member is not None:
            to_close.append(member[0])
            touched.add(member[1])
        touched.add(target)
        to_open.append({"person_id": target, "source_id": key[0], "record_ref": key[1],
                        "record_row_id": row_id, "job_id": job_id, "current": True,
                        "since": now, "until": None})
    withdrawn = [mid for key, (mid, p, _) in members.items() if key not in records.index]
    touched.update(members[key][1] for key in members if key not in records.index)
    to_close.extend(withdrawn)
    for start in range(0, len(to_close), _CHUNK):
        session.execute(sa.update(_MEM).where(_MEM.c.id.in_(to_close[start:start + _CHUNK]))
                        .values(current=False, until=now))
    if to_repoint:
        session.execute(
            sa.update(_MEM).where(_MEM.c.id == sa.bindparam("mid"))
            .values(record_row_id=sa.bindparam("row")),
            to_repoint,
        )
    for start in range(0, len(to_open), _CHUNK):
        session.execute(sa.insert(_MEM), to_open[start:start + _CHUNK])
    active = set(person_of.values())
    kept = [p for p in touched if p in active]
    for start in range(0, len(kept), _CHUNK):
        session.execute(sa.update(_PERSON).where(_PERSON.c.id.in_(kept[start:start + _CHUNK]))
                        .values(updated_at=now))

    queued, superseded = _write_review(session, records=records, labels=labels,
                                       review=outcome.review, job_id=job_id, now=now)
    session.flush()
    return {
        "records": len(records),
        "persons_active": len(person_of),
        "persons_created": len(fresh),
        "persons_merged": len(plan.merged),
        "persons_split": len(plan.split),
        "persons_retired": len(plan.retired),
        "memberships_opened": len(to_open),
        "memberships_closed": len(to_close),
        "records_withdrawn_from_persons": len(withdrawn),
        "review_pairs_new": queued,
        "review_pairs_superseded": superseded,
    }


def _write_review(
    session: Session, *, records: BankRecords, labels: np.ndarray,
    review: Sequence[ReviewCandidate], job_id: int, now: datetime,
) -> tuple[int, int]:
    """Queue new review-band pairs; retire pending ones that no longer need a decision."""
    r = _REV.c
    existing: dict[tuple[RecordKey, RecordKey], tuple[int, str]] = {
        ((int(sa_), bytes(ra)), (int(sb), bytes(rb))): (int(i), str(st))
        for i, sa_, ra, sb, rb, st in session.execute(
            sa.select(r.id, r.source_a, r.ref_a, r.source_b, r.ref_b, r.status)
        ).all()
    }
    superseded: list[int] = []
    for (ka, kb), (pid, status) in existing.items():
        if status != "pending":
            continue
        a, b = records.index.get(ka), records.index.get(kb)
        if a is None or b is None or labels[a] == labels[b]:
            superseded.append(pid)
    if superseded:
        # Only pairs still pending: a reviewer may have decided one since it was read
        # (PostgreSQL re-checks the condition on the row's latest version).
        session.execute(sa.update(_REV).where(r.id.in_(superseded), r.status == "pending")
                        .values(status="superseded"))
    rows: list[dict[str, Any]] = []
    seen: set[tuple[RecordKey, RecordKey]] = set(existing)
    for cand in review:
        if labels[cand.left] == labels[cand.right]:
            continue
        ka, kb = _ordered(records.key(cand.left), records.key(cand.right))
        if (ka, kb) in seen:
            continue
        seen.add((ka, kb))
        rows.append({"job_id": job_id, "source_a": ka[0], "ref_a": ka[1], "source_b": kb[0],
                     "ref_b": kb[1], "score": float(cand.score), "evidence": cand.evidence,
                     "status": "pending", "decided_by": None, "decided_at": None,
                     "created_at": now})
    for start in range(0, len(rows), _CHUNK):
        session.execute(sa.insert(_REV), rows[start:start + _CHUNK])
    return len(rows), len(superseded)
