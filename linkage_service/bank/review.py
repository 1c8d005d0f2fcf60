"""The clerical-review queue: pairs in the review band, shown without identities, and the
reviewers' link / not-link decisions, which every later job respects.

Evidence shown for a pair: the similarity and what the linkage job recorded (never per-field
similarities of identifiers unless the encoding exposes them on purpose), and the content
attributes of both records side by side with whether each agrees, differs or is unknown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Decision, ReviewPair
from linkage_service.models.record import CONTENT_COLUMNS
from vinculo_common.errors import Conflict, InputError, NotFound

__all__ = ["REVIEW_DECISIONS", "attribute_agreement", "decide_pair", "list_pending"]

REVIEW_DECISIONS = ("link", "not_link")
_REV: sa.Table = ReviewPair.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]
_DEC: sa.Table = Decision.__table__  # type: ignore[attr-defined]

Agreement = Literal["agree", "disagree", "unknown"]


def _years(a: dict[str, Any]) -> tuple[int, int] | None:
    lo, hi = a.get("birth_year_min"), a.get("birth_year_max")
    if lo is None and hi is None:
        return None
    low = lo if lo is not None else hi
    high = hi if hi is not None else lo
    return int(low), int(high)  # type: ignore[arg-type]


def attribute_agreement(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Agreement]:
    """Per content attribute: agree, disagree, or unknown (missing on either side).

    Birth years agree when the two ranges overlap; UBIGEOs and event dates when one is a prefix
    of the other (a department agrees with its districts, a month with its days: sources may
    coarsen them).

    >>> attribute_agreement({"sex": "F", "birth_year_min": 1990, "birth_year_max": 1991},
    ...                     {"sex": "F", "birth_year_min": 1991, "birth_year_max": 1991})
    {'sex': 'agree', 'birth_year': 'agree'}
    """
    out: dict[str, Agreement] = {}
    for name in CONTENT_COLUMNS:
        if name in ("birth_year_min", "birth_year_max", "age_at_event"):
            continue
        a, b = left.get(name), right.get(name)
        if name not in left and name not in right:
            continue
        if a in (None, "") or b in (None, ""):
            out[name] = "unknown"
        elif name.startswith("ubigeo_") or name == "event_date":
            out[name] = "agree" if str(a).startswith(str(b)) or str(b).startswith(str(a)) \
                else "disagree"
        else:
            out[name] = "agree" if a == b else "disagree"
    ya, yb = _years(left), _years(right)
    if "birth_year_min" in left or "birth_year_min" in right:
        if ya is None or yb is None:
            out["birth_year"] = "unknown"
        else:
            out["birth_year"] = "agree" if ya[0] <= yb[1] and yb[0] <= ya[1] else "disagree"
    return out


def _attributes(session: Session, keys: set[tuple[int, bytes]]) -> dict[tuple[int, bytes],
                                                                       dict[str, Any]]:
    r, s = _REC.c, _SRC.c
    out: dict[tuple[int, bytes], dict[str, Any]] = {}
    by_source: dict[int, list[bytes]] = {}
    for sid, ref in keys:
        by_source.setdefault(sid, []).append(ref)
    for sid, refs in by_source.items():
        for row in session.execute(
            sa.select(r.source_id, r.record_ref, s.name, *[r[c] for c in CONTENT_COLUMNS])
            .join(_SRC, s.id == r.source_id)
            .where(r.source_id == sid, r.record_ref.in_(refs), r.is_current.is_(True))
        ).all():
            out[(int(row.source_id), bytes(row.record_ref))] = {
                "source": str(row.name), **{c: getattr(row, c) for c in CONTENT_COLUMNS}
            }
    return out


def list_pending(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Pending pairs, highest similarity first, with identity-free evidence.

    Example: ``list_pending(session, limit=20)[0]["agreement"]["sex"]`` → ``"agree"``
    """
    if not 1 <= limit <= 1000 or offset < 0:
        raise InputError("limit debe estar entre 1 y 1000 y offset ≥ 0")
    rows = session.execute(
        sa.select(ReviewPair).where(_REV.c.status == "pending")
        .order_by(_REV.c.score.desc(), _REV.c.id).offset(offset).limit(limit)
    ).scalars().all()
    keys = {(p.source_a, bytes(p.ref_a)) for p in rows} | {(p.source_b, bytes(p.ref_b))
                                                           for p in rows}
    attrs = _attributes(session, keys)
    out = []
    for p in rows:
        left = attrs.get((p.source_a, bytes(p.ref_a)))
        right = attrs.get((p.source_b, bytes(p.ref_b)))
        if left is None or right is None:
            continue  # a record was withdrawn since; the next job retires the pair
        out.append({
            "id": p.id, "job_id": p.job_id, "score": round(float(p.score), 4),
            "evidence": p.evidence or {}, "left": left, "right": right,
            "agreement": attribute_agreement(left, right),
            "created_at": p.created_at.isoformat(),
        })
    return out


def decide_pair(
    session: Session, *, pair_id: int, decision: str, decided_by: str, now: datetime
) -> ReviewPair:
    """Record a reviewer's decision on a pair (flushes, does not commit).

    ``link`` stores a must-link, ``not_link`` a cannot-link between the two records; a second
    decision on the same pair replaces the first. Raises NotFound for an unknown pair and
    Conflict when a record of the pair is no longer current (withdrawn).

    Example: ``decide_pair(session, pair_id=3, decision="not_link", decided_by="reviewer:ab12",
    now=utcnow())``
    """
    if decision not in REVIEW_DECISIONS:
        raise InputError(f"decisión inválida: use una de {REVIEW_DECISIONS} (invalid decision)")
    pair = session.get(ReviewPair, pair_id)
    if pair is None:
        raise NotFound("par de revisión desconocido (unknown review pair)")
    keys = {(pair.source_a, bytes(pair.ref_a)), (pair.source_b, bytes(pair.ref_b))}
    if len(_attributes(session, keys)) != len(keys):
        raise Conflict("un registro del par fue retirado: ya no se puede decidir (withdrawn)")
    kind = "must" if decision == "link" else "cannot"
    pair.status = "linked" if decision == "link" else "not_linked"
    pair.decided_by = decided_by
    pair.decided_at = now
    d = _DEC.c
    existing = session.execute(
        sa.select(Decision).where(d.source_a == pair.source_a, d.ref_a == pair.ref_a,
                                  d.source_b == pair.source_b, d.ref_b == pair.ref_b)
    ).scalar_one_or_none()
    if existing is None:
        session.add(Decision(kind=kind, source_a=pair.source_a, ref_a=pair.ref_a,
                             source_b=pair.source_b, ref_b=pair.ref_b, review_pair_id=pair.id,
                             decided_by=decided_by, decided_at=now))
    else:
        existing.kind = kind
        existing.review_pair_id = pair.id
        existing.decided_by = decided_by
        existing.decided_at = now
    session.flush()
    return pair
