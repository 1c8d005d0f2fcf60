"""Reading persons: following lineage, a person's records, records of persons (for reid).

A pseudonym handed out earlier can always be followed: ``resolve_pseudonym`` walks lineage edges
(merge: old → survivor; split: old → each part) until it reaches active persons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.auth import Actor
from linkage_service.bank.pseudonyms import check_pseudonym
from linkage_service.custody import custody_key_for
from linkage_service.custody.records import opened, record_columns
from linkage_service.custody.release import release_policy
from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Membership, Person, PersonLineage
from linkage_service.models.record import CONTENT_COLUMNS
from vinculo_common.errors import NotFound

__all__ = [
    "current_records",
    "person_view",
    "read_person",
    "records_of_persons",
    "resolve_pseudonym",
]

_PERSON: sa.Table = Person.__table__  # type: ignore[attr-defined]
_MEM: sa.Table = Membership.__table__  # type: ignore[attr-defined]
_LIN: sa.Table = PersonLineage.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]
_MAX_STEPS = 10_000


def _get_person(session: Session, pseudonym: str) -> Person:
    person = session.execute(
        sa.select(Person).where(_PERSON.c.pseudonym == check_pseudonym(pseudonym))
    ).scalar_one_or_none()
    if person is None:
        raise NotFound("seudónimo desconocido (unknown pseudonym)")
    return person


def resolve_pseudonym(session: Session, *, pseudonym: str) -> list[str]:
    """The active pseudonyms ``pseudonym`` stands for today (itself if still active).

    Retired persons (all records withdrawn) resolve to nothing. Raises NotFound for a pseudonym
    the bank never issued.

    Example: after a merge of ``P-AAAA…`` into ``P-BBBB…``,
    ``resolve_pseudonym(session, pseudonym="P-AAAA…") == ["P-BBBB…"]``.
    """
    _get_person(session, pseudonym)
    seen: set[str] = set()
    frontier = [pseudonym]
    found: set[str] = set()
    while frontier and len(seen) < _MAX_STEPS:
        batch = [p for p in frontier if p not in seen]
        seen.update(batch)
        if not batch:
            break
        status = dict(session.execute(
            sa.select(_PERSON.c.pseudonym, _PERSON.c.status).where(_PERSON.c.pseudonym.in_(batch))
        ).all())
        found.update(p for p in batch if status.get(p) == "active")
        moved = [p for p in batch if status.get(p) in ("merged", "split")]
        frontier = list(session.execute(
            sa.select(_LIN.c.new_pseudonym).where(_LIN.c.old_pseudonym.in_(moved))
        ).scalars()) if moved else []
    return sorted(found)


def current_records(session: Session, *, person_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Current records of persons: person id, source name, record row, the source's own
    ``record_ref`` and locator (opened), the bank's ``stored_ref`` and content attributes."""
    ids = list(person_ids)
    if not ids:
        return []
    m, r, s = _MEM.c, _REC.c, _SRC.c
    rows = session.execute(
        sa.select(m.person_id, s.name.label("source_name"), *record_columns())
        .join(_REC, r.id == m.record_row_id)
        .join(_SRC, s.id == m.source_id)
        .where(m.current.is_(True), m.person_id.in_(ids), r.is_current.is_(True))
    ).all()
    custody = custody_key_for(session)
    out: list[tuple[tuple[int, str, str, int], dict[str, Any]]] = []
    for row in rows:
        record = opened(custody, row)
        attributes = record.attributes
        out.append(((int(row.person_id), str(row.source_name),
                     attributes.get("event_date") or "", int(row.id)),
                    {"person_id": int(row.person_id), "source": str(row.source_name),
                     "row_id": int(row.id), "record_ref": record.record_ref,
                     "stored_ref": bytes(row.record_ref), "locator": record.locator,
                     "attributes": {c: attributes.get(c) for c in CONTENT_COLUMNS}}))
    out.sort(key=lambda item: item[0])
    return [item for _key, item in out]


def person_view(session: Session, *, pseudonym: str) -> dict[str, Any]:
    """What an operator or analyst may see of a pseudonym: status, lineage, and for each
    active person it resolves to, its records' sources and the coarse, k-anonymous release of
    their content attributes (``custody.release``; no exact values, no references, no
    locators, no identities).
    """
    person = _get_person(session, pseudonym)
    resolved = resolve_pseudonym(session, pseudonym=pseudonym)
    rows = session.execute(
        sa.select(_PERSON.c.id, _PERSON.c.pseudonym).where(_PERSON.c.pseudonym.in_(resolved))
    ).all() if resolved else []
    by_id = {int(i): str(p) for i, p in rows}
    records: dict[int, list[dict[str, Any]]] = {i: [] for i in by_id}
    policy = release_policy(session) if by_id else None
    for rec in current_records(session, person_ids=by_id):
        assert policy is not None
        # A coarse, k-anonymous release, never the exact values (linkage_service.custody.release)
        records[rec["person_id"]].append(
            {"source": rec["source"], **policy.release(rec["source"], rec["attributes"])})
    lineage = [
        {"old_pseudonym": o, "new_pseudonym": n, "kind": k, "job_id": j,
         "at": at.isoformat() if at else None}
        for o, n, k, j, at in session.execute(
            sa.select(_LIN.c.old_pseudonym, _LIN.c.new_pseudonym, _LIN.c.kind, _LIN.c.job_id,
                      _LIN.c.at)
            .where(sa.or_(_LIN.c.old_pseudonym == pseudonym, _LIN.c.new_pseudonym == pseudonym))
            .order_by(_LIN.c.id)
        ).all()
    ]
    return {
        "pseudonym": person.pseudonym,
        "status": person.status,
        "lineage": lineage,
        "current": [
            {"pseudonym": by_id[i], "sources": sorted({r["source"] for r in records[i]}),
             "records": records[i]}
            for i in sorted(by_id, key=lambda i: by_id[i])
        ],
    }


def records_of_persons(
    session: Session, person_ids: Iterable[str]
) -> list[tuple[str, bytes, bytes]]:
    """``(source, record_ref, locator)`` of every current record of the given persons.

    ``person_ids`` are pseudonyms; each is followed through lineage first, so a pseudonym
    handed out before a merge or split still finds its records. Raises NotFound for an unknown
    pseudonym. For re-identification packages (issue 4).

    Example: ``records_of_persons(session, ["P-7KQ2M4XZ3A"])``
    → ``[("reta", b"…32 bytes…", b"…sealed…"), …]``
    """
    active: set[str] = set()
    for p in person_ids:
        active.update(resolve_pseudonym(session, pseudonym=p))
    if not active:
        return []
    ids = list(session.execute(
        sa.select(_PERSON.c.id).where(_PERSON.c.pseudonym.in_(sorted(active)))
    ).scalars())
    return [(r["source"], r["record_ref"], r["locator"])
            for r in current_records(session, person_ids=ids)]


def read_person(session: Session, *, actor: Actor, pseudonym: str) -> dict[str, Any]:
    """``person_view`` for an operator or analyst; ``person.read`` names the pseudonym and the
    persons it stands for today."""
    view = person_view(session, pseudonym=check_pseudonym(pseudonym))
    record(session, actor=actor.label, action="person.read",
           objects=[pseudonym, *[p["pseudonym"] for p in view["current"]]])
    return view
