"""Results for a source: for each of ITS OWN current records, the person pseudonym and where
else that person appears (other registries, with the event's month and province), never
identities.

The record is named by its reference (hex) and its sealed locator (base64) exactly as the source
uploaded it; only the source's own private key opens the locator into its local record id.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.auth import Actor
from linkage_service.custody import custody_key_for
from linkage_service.custody.records import opened, record_columns
from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Membership, Person
from vinculo_common.errors import InputError, PermissionDenied

__all__ = ["MAX_PAGE", "read_results", "results_for_source"]

MAX_PAGE = 50_000
_PERSON: sa.Table = Person.__table__  # type: ignore[attr-defined]
_MEM: sa.Table = Membership.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]


def _cut(value: str | None, width: int) -> str | None:
    """``value`` cut to ``width`` characters (a month, a province).

    >>> _cut("2023-02-10", 7), _cut("170101", 4), _cut(None, 4)
    ('2023-02', '1701', None)
    """
    return str(value)[:width] if value else None


def results_for_source(
    session: Session, *, source_id: int, offset: int = 0, limit: int = 10_000
) -> dict[str, Any]:
    """One page of results for ``source_id``, in the order of the stored references.

    Returns ``{"source", "total", "offset", "next_offset", "results": [...]}``; each result has
    ``record_ref`` (hex), ``locator`` (base64), ``person_id`` (pseudonym or None before the
    first job), ``same_source_refs`` (the person's other records in this source, hex) and
    ``other_sources`` (``[{"source", "event_date", "ubigeo_event", "ubigeo_residence"}]``: the
    event's month and the provinces, never another institution's exact values).

    Example: ``results_for_source(session, source_id=1, limit=100)["results"][0]["person_id"]``
    → ``"P-7KQ2M4XZ3A"``
    """
    if offset < 0:
        raise InputError("offset debe ser ≥ 0")
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit debe estar entre 1 y {MAX_PAGE}")
    r, m, p, s = _REC.c, _MEM.c, _PERSON.c, _SRC.c
    name = session.execute(sa.select(s.name).where(s.id == source_id)).scalar_one()
    own = sa.and_(r.source_id == source_id, r.is_current.is_(True))
    total = int(session.execute(sa.select(sa.func.count()).select_from(_REC).where(own))
                .scalar_one())
    rows = session.execute(
        sa.select(*record_columns(), m.person_id, p.pseudonym)
        .select_from(_REC)
        .outerjoin(_MEM, sa.and_(m.source_id == r.source_id, m.record_ref == r.record_ref,
                                 m.current.is_(True)))
        .outerjoin(_PERSON, p.id == m.person_id)
        .where(own)
        .order_by(r.record_ref)
        .offset(offset).limit(limit)
    ).all()
    custody = custody_key_for(session)
    # The source's own references and locators are sealed with the rest of the record.
    own_records = [opened(custody, row) for row in rows]
    person_ids = sorted({int(row.person_id) for row in rows if row.person_id is not None})
    others: dict[int, list[dict[str, Any]]] = defaultdict(list)
    same: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(person_ids), 5000):
        chunk = person_ids[start:start + 5000]
        appearances = []
        for row in session.execute(
            sa.select(m.person_id, s.name.label("source_name"), *record_columns())
            .join(_REC, r.id == m.record_row_id)
            .join(_SRC, s.id == m.source_id)
            .where(m.current.is_(True), r.is_current.is_(True), m.person_id.in_(chunk))
        ).all():
            record = opened(custody, row)
            attributes = record.attributes
            appearances.append((int(row.person_id), str(row.source_name),
                                attributes.get("event_date") or "", int(row.id), row,
                                attributes, record.record_ref))
        appearances.sort(key=lambda a: a[:4])
        for pid, source_name, _date, _id, appearance, attributes, own_ref in appearances:
            if int(appearance.source_id) == source_id:
                same[pid].append(own_ref.hex())
            else:
                # Another institution's record: month and province only (enough to follow
                # the person up; the exact values stay sealed).
                others[pid].append({"source": source_name,
                                    "event_date": _cut(attributes.get("event_date"), 7),
                                    "ubigeo_event": _cut(attributes.get("ubigeo_event"), 4),
                                    "ubigeo_residence": _cut(attributes.get("ubigeo_residence"),
                                                             4)})
    results = []
    for row, record in zip(rows, own_records, strict=True):
        ref = record.record_ref.hex()
        owner = int(row.person_id) if row.person_id is not None else None
        results.append({
            "record_ref": ref,
            "locator": base64.b64encode(record.locator).decode("ascii"),
            "person_id": row.pseudonym,
            "same_source_refs": [x for x in same.get(owner, []) if x != ref] if owner else [],
            "other_sources": others.get(owner, []) if owner else [],
        })
    end = offset + len(rows)
    return {"source": str(name), "total": total, "offset": offset,
            "next_offset": end if end < total else None, "results": results}


def read_results(session: Session, *, actor: Actor, offset: int, limit: int) -> dict[str, Any]:
    """A page of results for the uploader token's own source; ``results.read``."""
    if actor.source_id is None:
        raise PermissionDenied("el token no está vinculado a una fuente registrada")
    page = results_for_source(session, source_id=actor.source_id, offset=offset, limit=limit)
    record(session, actor=actor.label, action="results.read",
           objects=[f"source:{page['source']}", f"offset:{offset}",
                    f"count:{len(page['results'])}"])
    return page
