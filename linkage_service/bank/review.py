"""The clerical-review queue: pairs in the review band shown without identities, read a page or
one pair at a time (``QueueFilter``), and the reviewers' votes, which every later job respects.
The decision rules (kept votes, ``expected_votes``, second review for a published merge or a
disagreement): docs/bank.md. The use cases at the end record their audit entries.

"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.auth import Actor, same_person
from linkage_service.custody import custody_key_for
from linkage_service.custody.records import opened, record_columns
from linkage_service.custody.release import release_policy
from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Decision, Membership, Person, ReviewPair, ReviewVote
from linkage_service.models.record import CONTENT_COLUMNS
from vinculo_common.errors import Conflict, InputError, NotFound

__all__ = [
    "QUEUES",
    "REVIEW_DECISIONS",
    "QueueFilter",
    "ReviewConflict",
    "Reviewer",
    "attribute_agreement",
    "cohen_kappa",
    "decide_pair",
    "get_pair",
    "list_pending",
    "list_queue",
    "queue_counts",
    "read_agreement",
    "read_pair",
    "read_queue",
    "read_summary",
    "reviewer_agreement",
    "source_pairs",
    "vote",
]

REVIEW_DECISIONS = ("link", "not_link")
_REV: sa.Table = ReviewPair.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]
_DEC: sa.Table = Decision.__table__  # type: ignore[attr-defined]
_VOTE: sa.Table = ReviewVote.__table__  # type: ignore[attr-defined]
_MEM: sa.Table = Membership.__table__  # type: ignore[attr-defined]
_PER: sa.Table = Person.__table__  # type: ignore[attr-defined]
QUEUES = ("pending", "second")
_QUEUE_STATUS = {"pending": "pending", "second": "second_review"}
_STATUS_WORDS = {"pending": "pendiente", "second_review": "en segunda revisión",
                 "linked": "decidido: es la misma persona",
                 "not_linked": "decidido: no es la misma persona",
                 "superseded": "resuelto por un trabajo de enlace posterior"}


class ReviewConflict(Conflict):
    """Another reviewer voted on the pair since the caller read it (409): nothing was written."""


@dataclass(frozen=True)
class Reviewer:
    """Who votes: the audit label, the token id and the user label (same person = same token or
    same user label, as for the two-person rule of re-identification)."""

    label: str
    token_id: str
    user_label: str | None = None

    @classmethod
    def of_label(cls, label: str) -> Reviewer:
        """From an audit label ``role:token_id[:source][:user]`` (or any string).

        >>> Reviewer.of_label("reviewer:0123456789ab:ana").token_id
        '0123456789ab'
        """
        parts = label.split(":")
        token = parts[1] if len(parts) > 1 else label
        return cls(label=label, token_id=token[:16], user_label=parts[-1] if len(parts) > 2
                   else None)

    @classmethod
    def of_actor(cls, actor: Actor) -> Reviewer:
        return cls(label=actor.label, token_id=actor.token_id, user_label=actor.user_label)

    def is_same(self, token_id: str, user_label: str | None) -> bool:
        return same_person(self.token_id, self.user_label, token_id, user_label)


@dataclass(frozen=True)
class QueueFilter:
    """Which pairs a reviewer is looking at: the queue (``pending`` or ``second``: pairs waiting
    for a second review that this reviewer has not voted on), a source pair (names, either order),
    a score band and a job.

    >>> QueueFilter(sources=("reta", "care"), score_min=0.7).query()
    {'cola': 'pending', 'fuentes': 'reta:care', 'min': '0.7'}
    """

    queue: str = "pending"
    sources: tuple[str, str] | None = None
    score_min: float | None = None
    score_max: float | None = None
    job_id: int | None = None

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise InputError(f"cola inválida: use una de {QUEUES} (invalid queue)")
        if (self.score_min is not None and self.score_max is not None
                and self.score_min > self.score_max):
            raise InputError("el puntaje mínimo debe ser ≤ el máximo (score_min > score_max)")

    def query(self) -> dict[str, str]:
        """The filter as the console's query parameters (Spanish names)."""
        out = {"cola": self.queue}
        if self.sources:
            out["fuentes"] = ":".join(self.sources)
        if self.score_min is not None:
            out["min"] = str(self.score_min)
        if self.score_max is not None:
            out["max"] = str(self.score_max)
        if self.job_id is not None:
            out["trabajo"] = str(self.job_id)
        return out

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
    custody = custody_key_for(session)
    for sid, refs in by_source.items():
        # Current versions are kept in Python: with ``is_current`` in the WHERE clause SQLite
        # picks the (is_current, source_id) index and reads the whole source (10,000 pairs:
        # 50 ms a page) instead of the unique (source_id, record_ref, version) one.
        for row in session.execute(
            sa.select(s.name.label("source_name"), r.is_current, *record_columns())
            .join(_SRC, s.id == r.source_id)
            .where(r.source_id == sid, r.record_ref.in_(refs))
        ).all():
            if not row.is_current:
                continue
            attributes = opened(custody, row).attributes
            out[(int(row.source_id), bytes(row.record_ref))] = {
                "source": str(row.source_name),
                **{c: attributes.get(c) for c in CONTENT_COLUMNS},
            }
    return out


def _source_ids(session: Session) -> dict[str, int]:
    return {str(n): int(i) for i, n in session.execute(sa.select(_SRC.c.id, _SRC.c.name)).all()}


def _conditions(session: Session, where: QueueFilter, reviewer: Reviewer | None
                ) -> list[sa.ColumnElement[bool]]:
    r = _REV.c
    out: list[sa.ColumnElement[bool]] = [r.status == _QUEUE_STATUS[where.queue]]
    if where.sources:
        ids = _source_ids(session)
        a, b = (ids.get(name, -1) for name in where.sources)
        out.append(sa.or_(sa.and_(r.source_a == a, r.source_b == b),
                          sa.and_(r.source_a == b, r.source_b == a)))
    if where.score_min is not None:
        out.append(r.score >= where.score_min)
    if where.score_max is not None:
        out.append(r.score <= where.score_max)
    if where.job_id is not None:
        out.append(r.job_id == where.job_id)
    if where.queue == "second" and reviewer is not None:
        v = _VOTE.c
        mine = sa.or_(v.token_id == reviewer.token_id,
                      sa.func.lower(v.user_label) == (reviewer.user_label or "").lower()) \
            if reviewer.user_label else v.token_id == reviewer.token_id
        out.append(~sa.exists().where(v.review_pair_id == r.id, mine))
    return out


def _describe(session: Session, rows: list[ReviewPair]) -> list[dict[str, Any]]:
    keys = {(p.source_a, bytes(p.ref_a)) for p in rows} | {(p.source_b, bytes(p.ref_b))
                                                           for p in rows}
    attrs = _attributes(session, keys)
    policy = release_policy(session) if rows else None
    out = []
    for p in rows:
        left = attrs.get((p.source_a, bytes(p.ref_a)))
        right = attrs.get((p.source_b, bytes(p.ref_b)))
        if left is None or right is None:
            continue  # a record was withdrawn since; the next job retires the pair
        assert policy is not None
        # Agreement from the exact values (opened in memory); the sides show only the coarse,
        # k-anonymous release (custody.release), never the exact values.
        out.append({
            "id": p.id, "job_id": p.job_id, "score": round(float(p.score), 4),
            "status": p.status, "votes": int(p.votes or 0), "second_reason": p.second_reason,
            "evidence": p.evidence or {},
            "left": {"source": left["source"], **policy.release(left["source"], left)},
            "right": {"source": right["source"], **policy.release(right["source"], right)},
            "agreement": attribute_agreement(left, right),
            "created_at": p.created_at.isoformat(),
        })
    return out


def list_queue(session: Session, *, where: QueueFilter = QueueFilter(),
               reviewer: Reviewer | None = None, limit: int = 20, offset: int = 0
               ) -> dict[str, Any]:
    """One page of the queue, highest similarity first, and how many pairs match in all.

    Example: ``list_queue(session, where=QueueFilter(score_min=0.8), limit=20)["total"]``
    """
    if not 1 <= limit <= 1000 or offset < 0:
        raise InputError("limit debe estar entre 1 y 1000 y offset ≥ 0")
    conditions = _conditions(session, where, reviewer)
    total = int(session.execute(
        sa.select(sa.func.count()).select_from(_REV).where(*conditions)).scalar_one())
    rows = list(session.execute(
        sa.select(ReviewPair).where(*conditions)
        .order_by(_REV.c.score.desc(), _REV.c.id.desc()).offset(offset).limit(limit)
    ).scalars().all())
    return {"pairs": _describe(session, rows), "total": total, "offset": offset, "limit": limit}


def list_pending(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Pending pairs, highest similarity first, with identity-free evidence.

    Example: ``list_pending(session, limit=20)[0]["agreement"]["sex"]`` → ``"agree"``
    """
    return list(list_queue(session, limit=limit, offset=offset)["pairs"])


def _neighbour(session: Session, conditions: list[sa.ColumnElement[bool]], score: float,
               pair_id: int, *, after: bool) -> int | None:
    r = _REV.c
    order: tuple[Any, ...]
    # Queue order: score, then id, both descending, so the (status, score, id) index serves it
    # whole, read backwards (no sort of ties); the bound on score alone makes it a range.
    if after:
        order = (r.score.desc(), r.id.desc())
        beyond = sa.and_(r.score <= score, sa.or_(r.score < score, r.id < pair_id))
    else:
        order = (r.score.asc(), r.id.asc())
        beyond = sa.and_(r.score >= score, sa.or_(r.score > score, r.id > pair_id))
    found = session.execute(sa.select(r.id).where(*conditions, beyond).order_by(*order)
                            .limit(1)).scalar()
    return int(found) if found is not None else None


def get_pair(session: Session, *, pair_id: int | None = None, after: int | None = None,
             where: QueueFilter = QueueFilter(), reviewer: Reviewer | None = None
             ) -> dict[str, Any]:
    """One pair and its place in the queue: ``pair`` (the pair ``pair_id``, whatever its status;
    or the first of the queue after pair ``after``; or the queue's first), ``previous`` and
    ``next`` (ids in the queue around it, or None), ``position`` (1-based, None when the pair is
    not in the queue) and ``total``.

    Example: ``get_pair(session, after=12)["pair"]["id"]`` → the pair that follows pair 12
    """
    conditions = _conditions(session, where, reviewer)
    r = _REV.c
    total = int(session.execute(
        sa.select(sa.func.count()).select_from(_REV).where(*conditions)).scalar_one())
    row: ReviewPair | None = None
    if pair_id is not None:
        row = session.get(ReviewPair, pair_id)
        if row is None:
            raise NotFound("par de revisión desconocido (unknown review pair)")
    else:
        anchor = session.get(ReviewPair, after) if after is not None else None
        target = (_neighbour(session, conditions, float(anchor.score), int(after), after=True)
                  if anchor is not None and after is not None else
                  session.execute(sa.select(r.id).where(*conditions)
                                  .order_by(r.score.desc(), r.id.desc()).limit(1)).scalar())
        if target is None and anchor is not None:  # past the end: wrap to the queue's first
            target = session.execute(sa.select(r.id).where(*conditions)
                                     .order_by(r.score.desc(), r.id.desc()).limit(1)).scalar()
        row = session.get(ReviewPair, target) if target is not None else None
    if row is None:
        return {"pair": None, "previous": None, "next": None, "position": None, "total": total}
    assert row.id is not None
    score = float(row.score)
    in_queue = bool(session.execute(
        sa.select(sa.func.count()).select_from(_REV).where(*conditions, r.id == row.id)
    ).scalar_one())
    position = None
    if in_queue:
        position = 1 + int(session.execute(
            sa.select(sa.func.count()).select_from(_REV).where(
                *conditions, r.score >= score, sa.or_(r.score > score, r.id > row.id))
        ).scalar_one())
    described = _describe(session, [row])
    pair = described[0] if described else None
    if pair is not None:
        pair["status_text"] = _STATUS_WORDS.get(row.status, row.status)
        pair["vote_counts"] = _vote_counts(session, int(row.id))
    return {"pair": pair, "total": total, "position": position,
            "previous": _neighbour(session, conditions, score, int(row.id), after=False),
            "next": _neighbour(session, conditions, score, int(row.id), after=True)}


def _vote_counts(session: Session, pair_id: int) -> dict[str, int]:
    v = _VOTE.c
    rows = session.execute(sa.select(v.decision, sa.func.count()).where(
        v.review_pair_id == pair_id).group_by(v.decision)).all()
    return {str(d): int(n) for d, n in rows}


def source_pairs(session: Session) -> list[tuple[str, str]]:
    """The source pairs (names) of pairs waiting for a decision, for the queue's filter."""
    r = _REV.c
    ids = session.execute(sa.select(r.source_a, r.source_b).where(
        r.status.in_(("pending", "second_review"))).distinct()).all()
    names = {v: k for k, v in _source_ids(session).items()}
    return sorted({(names.get(int(a), str(a)), names.get(int(b), str(b))) for a, b in ids})


def queue_counts(session: Session, *, reviewer: Reviewer | None, now: datetime
                 ) -> dict[str, int]:
    """Pending pairs, pairs waiting for a second review, votes cast today (UTC) by anyone and by
    ``reviewer``, and all votes by ``reviewer``.

    Example: ``queue_counts(session, reviewer=None, now=utcnow())["pending"]``
    """
    r, v = _REV.c, _VOTE.c
    by_status: dict[str, int] = dict(session.execute(
        sa.select(r.status, sa.func.count()).where(r.status.in_(("pending", "second_review")))
        .group_by(r.status)).all())
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out = {"pending": int(by_status.get("pending", 0)),
           "second_review": int(by_status.get("second_review", 0)),
           "decided_today": int(session.execute(
               sa.select(sa.func.count()).select_from(_VOTE).where(
                   v.decided_at >= today, v.decided_at < today + timedelta(days=1))
           ).scalar_one()),
           "decided_today_by_me": 0, "decided_by_me": 0}
    if reviewer is not None:
        mine = v.token_id == reviewer.token_id
        out["decided_by_me"] = int(session.execute(
            sa.select(sa.func.count()).select_from(_VOTE).where(mine)).scalar_one())
        out["decided_today_by_me"] = int(session.execute(
            sa.select(sa.func.count()).select_from(_VOTE).where(
                mine, v.decided_at >= today, v.decided_at < today + timedelta(days=1))
        ).scalar_one())
    return out


def _merges_published(session: Session, pair: ReviewPair) -> bool:
    """Whether linking the pair joins two persons that existed before the pair's job."""
    if pair.job_id is None:
        return False
    m, p = _MEM.c, _PER.c
    found: dict[tuple[int, bytes], tuple[int, int | None]] = {}
    for sid, ref in ((pair.source_a, pair.ref_a), (pair.source_b, pair.ref_b)):
        row = session.execute(
            sa.select(p.id, p.created_job_id).join(_MEM, m.person_id == p.id)
            .where(m.current.is_(True), m.source_id == sid, m.record_ref == ref)).first()
        if row is None:
            return False
        found[(sid, bytes(ref))] = (int(row[0]), row[1])
    (pa, ja), (pb, jb) = found.values()
    return pa != pb and ja is not None and jb is not None \
        and int(ja) < pair.job_id and int(jb) < pair.job_id


def _apply(session: Session, pair: ReviewPair, decision: str, decided_by: str,
           now: datetime) -> None:
    """Store the must-link / cannot-link of a decided pair (replacing an earlier one)."""
    kind = "must" if decision == "link" else "cannot"
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


def _withdraw(session: Session, pair: ReviewPair) -> None:
    d = _DEC.c
    session.execute(sa.delete(_DEC).where(d.source_a == pair.source_a, d.ref_a == pair.ref_a,
                                          d.source_b == pair.source_b, d.ref_b == pair.ref_b))


def _changed_message(pair: ReviewPair) -> str:
    return ("el par cambió mientras lo revisaba: otro revisor ya votó y ahora está "
            f"{_STATUS_WORDS.get(pair.status, pair.status)}. Su decisión NO se registró; revise "
            "el par de nuevo y vuelva a decidir si no está de acuerdo (review pair changed: "
            "another reviewer decided it first, your decision was not recorded)")


def decide_pair(
    session: Session, *, pair_id: int, decision: str, decided_by: str, now: datetime,
    reviewer: Reviewer | None = None, expected_votes: int | None = None,
) -> ReviewPair:
    """Record a reviewer's vote on a pair (flushes, does not commit); see the module's rules.

    ``link`` stores a must-link, ``not_link`` a cannot-link between the two records once the pair
    is decided. The same reviewer deciding again changes their own vote. Raises NotFound for an
    unknown pair, Conflict when a record of the pair was withdrawn, the pair was superseded, or
    the caller already voted on a pair in second review, and ReviewConflict when
    ``expected_votes`` is not the pair's vote count (or another vote lands meanwhile).

    Example: ``decide_pair(session, pair_id=3, decision="not_link", decided_by="reviewer:ab12",
    now=utcnow(), expected_votes=0)``
    """
    if decision not in REVIEW_DECISIONS:
        raise InputError(f"decisión inválida: use una de {REVIEW_DECISIONS} (invalid decision)")
    who = reviewer or Reviewer.of_label(decided_by)
    pair = session.get(ReviewPair, pair_id)
    if pair is None:
        raise NotFound("par de revisión desconocido (unknown review pair)")
    seen = int(pair.votes or 0)
    if expected_votes is not None and expected_votes != seen:
        raise ReviewConflict(_changed_message(pair))
    if pair.status == "superseded":
        raise Conflict("el par ya no necesita decisión: un trabajo de enlace "
                       "posterior lo resolvió (superseded)")
    keys = {(pair.source_a, bytes(pair.ref_a)), (pair.source_b, bytes(pair.ref_b))}
    if len(_attributes(session, keys)) != len(keys):
        raise Conflict("un registro del par fue retirado: ya no se puede decidir (withdrawn)")
    votes = list(session.execute(sa.select(ReviewVote).where(
        _VOTE.c.review_pair_id == pair_id).order_by(_VOTE.c.id)).scalars())
    mine = [v for v in votes if who.is_same(v.token_id, v.user_label)]
    others = [v for v in votes if not who.is_same(v.token_id, v.user_label)]
    stage, status, reason, apply = "first", pair.status, pair.second_reason, False
    withdraw = False
    current = {"linked": "link", "not_linked": "not_link"}.get(pair.status)
    if pair.status == "second_review":
        if mine:
            raise Conflict("usted ya votó en este par: la segunda revisión la hace "
                           "otra persona (second review needs another reviewer)")
        stage, status, apply = "second", "linked" if decision == "link" else "not_linked", True
    elif pair.status == "pending" or (mine and not others):
        if decision == "link" and _merges_published(session, pair):
            status, reason, withdraw = "second_review", "merge", True
        else:
            status, reason, apply = ("linked" if decision == "link" else "not_linked"), None, True
    elif others and not mine:
        stage = "second"
        if decision != current:
            status, reason, withdraw = "second_review", "disagree", True
    else:
        raise Conflict("el par ya tuvo segunda revisión y usted votó en ella "
                       "(already decided in second review)")
    # The compare-and-set on ``votes``: a concurrent vote makes this match no row.
    result = session.execute(
        sa.update(_REV).where(_REV.c.id == pair_id, _REV.c.votes == seen).values(
            votes=seen + 1, status=status, second_reason=reason,
            decided_by=decided_by if apply else pair.decided_by,
            decided_at=now if apply else pair.decided_at))
    if getattr(result, "rowcount", 1) != 1:
        session.expire(pair)
        raise ReviewConflict(_changed_message(pair))
    if withdraw:
        _withdraw(session, pair)
    if mine and stage == "first":
        for vote in mine:
            vote.decision, vote.decided_at = decision, now
    else:
        session.add(ReviewVote(review_pair_id=pair_id, decision=decision, stage=stage,
                               reviewer=decided_by, token_id=who.token_id,
                               user_label=who.user_label, decided_at=now))
    session.flush()
    session.refresh(pair)
    if apply:
        _apply(session, pair, decision, decided_by, now)
        session.flush()
    return pair


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's κ of two raters over ``(first, second)`` labels; None without pairs or when
    chance agreement is total (both raters always gave one and the same label).

    >>> cohen_kappa([("link", "link"), ("not_link", "not_link"), ("link", "not_link")])
    0.4
    >>> cohen_kappa([]) is None
    True
    """
    n = len(pairs)
    if n == 0:
        return None
    labels = sorted({a for a, _ in pairs} | {b for _, b in pairs})
    observed = sum(a == b for a, b in pairs) / n
    expected = sum((sum(a == lab for a, _ in pairs) / n) * (sum(b == lab for _, b in pairs) / n)
                   for lab in labels)
    if expected >= 1.0:
        return None
    return round((observed - expected) / (1.0 - expected), 4)


def reviewer_agreement(session: Session) -> dict[str, Any]:
    """Agreement between reviewers on pairs with votes from two different reviewers (the first
    two such votes of each pair): Cohen's κ, raw agreement and the 2×2 table.

    Example: ``reviewer_agreement(session)["kappa"]`` → ``0.82``
    """
    v = _VOTE.c
    rows = session.execute(
        sa.select(v.review_pair_id, v.decision, v.token_id, v.user_label)
        .where(v.review_pair_id.in_(
            sa.select(v.review_pair_id).group_by(v.review_pair_id)
            .having(sa.func.count() >= 2).scalar_subquery()))
        .order_by(v.review_pair_id, v.id)).all()
    firsts: dict[int, list[tuple[str, str, str | None]]] = {}
    for pid, decision, token, user in rows:
        got = firsts.setdefault(int(pid), [])
        if len(got) < 2 and not any(Reviewer(label="", token_id=t, user_label=u).is_same(
                token, user) for _d, t, u in got):
            got.append((str(decision), str(token), user))
    pairs = [(got[0][0], got[1][0]) for got in firsts.values() if len(got) == 2]
    table = {f"{a}/{b}": sum(1 for x, y in pairs if (x, y) == (a, b))
             for a in REVIEW_DECISIONS for b in REVIEW_DECISIONS}
    agreed = sum(a == b for a, b in pairs)
    return {"pairs": len(pairs), "agreed": agreed,
            "observed_agreement": round(agreed / len(pairs), 4) if pairs else None,
            "kappa": cohen_kappa(pairs), "table": table}


# The reviewer's and the auditor's use cases, for the API and the console alike: each reads or
# votes and records its audit entry in the caller's transaction (the caller commits).

def read_queue(session: Session, *, actor: Actor, where: QueueFilter, limit: int, offset: int
               ) -> dict[str, Any]:
    """A page of the queue (``list_queue``); ``review.list`` names the pairs shown."""
    answer = list_queue(session, where=where, reviewer=Reviewer.of_actor(actor), limit=limit,
                        offset=offset)
    record(session, actor=actor.label, action="review.list",
           objects=[f"review:{p['id']}" for p in answer["pairs"]][:200] or ["review:none"])
    return answer


def read_pair(session: Session, *, actor: Actor, where: QueueFilter, pair_id: int | None = None,
              after: int | None = None) -> dict[str, Any]:
    """One pair and its neighbours (``get_pair``); ``review.read``. A pair one of whose
    records was withdrawn is refused with Conflict, as deciding it is."""
    answer = get_pair(session, pair_id=pair_id, after=after, where=where,
                      reviewer=Reviewer.of_actor(actor))
    pair = answer["pair"]
    if pair_id is not None and pair is None:
        raise Conflict("un registro del par fue retirado (withdrawn record)")
    record(session, actor=actor.label, action="review.read",
           objects=[f"review:{pair['id']}" if pair else "review:none"])
    return answer


def read_summary(session: Session, *, actor: Actor, now: datetime) -> dict[str, Any]:
    """The queue's counts and the source pairs with pairs waiting; ``review.summary``."""
    counts = queue_counts(session, reviewer=Reviewer.of_actor(actor), now=now)
    pairs = source_pairs(session)
    record(session, actor=actor.label, action="review.summary", objects=["review:summary"])
    return {"counts": counts, "source_pairs": [f"{a}:{b}" for a, b in pairs]}


def read_agreement(session: Session, *, actor: Actor) -> dict[str, Any]:
    """Reviewer agreement (``reviewer_agreement``); ``review.agreement``."""
    answer = reviewer_agreement(session)
    record(session, actor=actor.label, action="review.agreement",
           objects=[f"pairs:{answer['pairs']}"])
    return answer


def vote(session: Session, *, actor: Actor, pair_id: int, decision: str, reason: str | None,
         expected_votes: int | None, now: datetime) -> ReviewPair:
    """A reviewer's vote (``decide_pair``); ``review.link`` / ``review.not_link`` with the
    reason."""
    pair = decide_pair(session, pair_id=pair_id, decision=decision, decided_by=actor.label,
                       now=now, reviewer=Reviewer.of_actor(actor), expected_votes=expected_votes)
    record(session, actor=actor.label, action=f"review.{decision}",
           objects=[f"review:{pair_id}"], reason=reason)
    return pair
