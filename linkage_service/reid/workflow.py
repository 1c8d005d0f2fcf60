"""Re-identification requests: create, approve or deny (two-person rule), read.

Plain functions over a session; the caller commits. Each state change appends its audit entry
in the same transaction (``linkage_service.audit.record``), so the change and its trace commit
together. Packages are built on the final approval (``linkage_service.reid.release``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.auth import Actor, same_person
from linkage_service.bank.persons import resolve_pseudonym
from linkage_service.models.reid import (
    ReidApproval,
    ReidApprovalPublic,
    ReidPackage,
    ReidPackagePublic,
    ReidRequest,
    ReidRequestPublic,
)
from linkage_service.reid.policy import ReidPolicy
from linkage_service.reid.release import RecordsOf, release_packages
from linkage_service.reid.requests import effective_status, get_request, refusals_recorded
from vinculo_common.errors import (
    Conflict,
    InputError,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from vinculo_common.keyfiles import check_source_name

__all__ = [
    "PersonCheck",
    "approve",
    "approve_request",
    "create_request",
    "deny",
    "deny_request",
    "list_requests",
    "list_visible",
    "read_request",
    "request_public",
    "requested_by",
    "submit_request",
]

PersonCheck = Callable[[Session, str], None]
_REQ: sa.Table = ReidRequest.__table__  # type: ignore[attr-defined]
_APP: sa.Table = ReidApproval.__table__  # type: ignore[attr-defined]
_PKG: sa.Table = ReidPackage.__table__  # type: ignore[attr-defined]


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _bank_check(session: Session, pseudonym: str) -> None:
    """Refuse a malformed or unknown pseudonym (InputError / NotFound) using the bank."""
    resolve_pseudonym(session, pseudonym=pseudonym)


def _requests_today(session: Session, *, requester: Actor, since: datetime) -> int:
    who = (
        _REQ.c.requester_user == requester.user_label
        if requester.user_label
        else _REQ.c.requester_token_id == requester.token_id
    )
    return int(session.execute(
        sa.select(sa.func.count()).select_from(_REQ).where(who, _REQ.c.created_at >= since)
    ).scalar_one())


def create_request(
    session: Session,
    *,
    requester: Actor,
    persons: Sequence[str],
    sources: Sequence[str] | None,
    legal_basis: str,
    purpose: str,
    policy: ReidPolicy,
    now: datetime | None = None,
    check_person: PersonCheck = _bank_check,
) -> ReidRequest:
    """Record a new pending request and its audit entry.

    Raises InputError (empty or malformed input), NotFound (unknown pseudonym) or
    LimitExceeded (too many persons, too many requests today).

    Example: ``create_request(session, requester=actor, persons=["P-7KQ2M4XZ3A"], sources=None,
    legal_basis="Ley 28950, art. 7", purpose="Fiscalía: carpeta 123-2025", policy=ReidPolicy())``
    """
    at = _now(now)
    people = list(dict.fromkeys(p.strip() for p in persons))
    if not people:
        raise InputError("indique al menos un seudónimo (no persons given)")
    if len(people) > policy.max_persons:
        raise LimitExceeded(
            f"la solicitud nombra {len(people)} personas; el máximo es {policy.max_persons} "
            "(too many persons)"
        )
    for p in people:
        check_person(session, p)
    chosen = None if not sources else sorted({check_source_name(s) for s in sources})
    basis, why = legal_basis.strip(), purpose.strip()
    if len(basis) < 3 or len(why) < 3:
        raise InputError("la base legal y la finalidad son obligatorias (legal basis, purpose)")
    if _requests_today(session, requester=requester, since=at - timedelta(days=1)) >= (
        policy.max_requests_per_day
    ):
        raise RateLimited(
            f"límite de {policy.max_requests_per_day} solicitudes por día alcanzado "
            "(daily request limit reached)"
        )
    req = ReidRequest(
        id="rq-" + secrets.token_hex(8),
        requester_token_id=requester.token_id,
        requester_user=requester.user_label,
        requester_label=requester.label,
        persons_json=json.dumps(people),
        sources_json=None if chosen is None else json.dumps(chosen),
        legal_basis=basis,
        purpose=why,
        status="pending",
        approvals_required=policy.approvals_for(persons=len(people)),
        created_at=at,
        expires_at=at + policy.ttl,
    )
    session.add(req)
    session.flush()
    record(session, actor=requester.label, action="reid.request.create",
           objects=[req.id, *people, *(chosen or [])], reason=f"{basis} | {why}"[:2000], now=at)
    return req


def list_requests(
    session: Session, *, status: str | None = None, limit: int = 100, now: datetime | None = None
) -> list[ReidRequest]:
    """Newest first; ``status`` filters on the effective status."""
    if not 1 <= limit <= 1000:
        raise InputError("limit debe estar entre 1 y 1000")
    rows = session.execute(
        sa.select(ReidRequest).order_by(_REQ.c.created_at.desc()).limit(limit if not status
                                                                         else 1000)
    ).scalars().all()
    out = [r for r in rows if status is None or effective_status(r, now=now) == status]
    return out[:limit]


def _claim(session: Session, req: ReidRequest) -> None:
    """Take the request's row before deciding: a no-op UPDATE on a pending request, the first
    write of the transaction. Another decision on it in flight finishes first (PostgreSQL's row
    lock, SQLite's write lock) and ``req`` is read again after it, so two approvers at the same
    moment get one approval and one Conflict (409), never two releases."""
    session.execute(sa.update(_REQ).where(_REQ.c.id == req.id, _REQ.c.status == "pending")
                    .values(status="pending"))
    session.refresh(req)


def _check_decidable(session: Session, req: ReidRequest, approver: Actor, at: datetime) -> None:
    _claim(session, req)
    status = effective_status(req, now=at)
    if status == "expired":
        raise Conflict("la solicitud venció sin decisión (request expired)")
    if status != "pending":
        raise Conflict(f"la solicitud ya fue decidida: {status} (already decided)")
    if same_person(req.requester_token_id, req.requester_user,
                   approver.token_id, approver.user_label):
        raise PermissionDenied(
            "quien solicita no puede aprobar ni denegar su propia solicitud, tenga los roles "
            "que tenga (two-person rule)"
        )
    for row in session.execute(sa.select(ReidApproval).where(_APP.c.request_id == req.id)
                               ).scalars():
        if same_person(row.approver_token_id, row.approver_user,
                       approver.token_id, approver.user_label):
            raise Conflict("esta persona ya aprobó la solicitud; falta otra persona "
                           "(second approval must come from someone else)")


def _add_decision(
    session: Session, req: ReidRequest, approver: Actor, decision: str, reason: str | None,
    at: datetime,
) -> None:
    session.add(ReidApproval(
        request_id=req.id, approver_token_id=approver.token_id,
        approver_user=approver.user_label, approver_label=approver.label,
        decision=decision, reason=reason, at=at,
    ))
    session.flush()


def approve(
    session: Session,
    *,
    request_id: str,
    approver: Actor,
    reason: str | None,
    signer: Ed25519PrivateKey,
    now: datetime | None = None,
    records_of: RecordsOf | None = None,
) -> ReidRequest:
    """Add an approval; on the last one required, release the packages (one per source).

    Raises PermissionDenied when the approver is the requester (two-person rule), Conflict when
    the request is decided, expired, or already approved by this person.
    """
    at = _now(now)
    req = get_request(session, request_id=request_id)
    _check_decidable(session, req, approver, at)
    _add_decision(session, req, approver, "approve", reason, at)
    record(session, actor=approver.label, action="reid.request.approve", objects=[req.id],
           reason=reason, now=at)
    approvals = int(session.execute(
        sa.select(sa.func.count()).select_from(_APP)
        .where(_APP.c.request_id == req.id, _APP.c.decision == "approve")
    ).scalar_one())
    if approvals >= req.approvals_required:
        req.status, req.decided_at = "approved", at
        session.add(req)
        session.flush()
        release_packages(session, request=req, signer=signer, now=at, records_of=records_of)
    return req


def deny(
    session: Session,
    *,
    request_id: str,
    approver: Actor,
    reason: str,
    now: datetime | None = None,
) -> ReidRequest:
    """Deny a pending request (a reason is required); one denial ends it."""
    at = _now(now)
    if not reason or not reason.strip():
        raise InputError("indique el motivo de la denegación (reason required)")
    req = get_request(session, request_id=request_id)
    _check_decidable(session, req, approver, at)
    _add_decision(session, req, approver, "deny", reason.strip(), at)
    req.status, req.decided_at = "denied", at
    session.add(req)
    session.flush()
    record(session, actor=approver.label, action="reid.request.deny", objects=[req.id],
           reason=reason.strip(), now=at)
    return req


def request_public(
    session: Session, req: ReidRequest, *, now: datetime | None = None
) -> ReidRequestPublic:
    """The API view: no token ids, no package content."""
    approvals = session.execute(
        sa.select(ReidApproval).where(_APP.c.request_id == req.id).order_by(_APP.c.id)
    ).scalars().all()
    packages = session.execute(
        sa.select(ReidPackage).where(_PKG.c.request_id == req.id).order_by(_PKG.c.source)
    ).scalars().all()
    return ReidRequestPublic(
        id=req.id, requester=req.requester_label, persons=req.persons, sources=req.sources,
        legal_basis=req.legal_basis, purpose=req.purpose,
        status=effective_status(req, now=now), approvals_required=req.approvals_required,
        created_at=req.created_at, expires_at=req.expires_at, decided_at=req.decided_at,
        approvals=[ReidApprovalPublic(approver=a.approver_label, decision=a.decision,
                                      reason=a.reason, at=a.at) for a in approvals],
        packages=[ReidPackagePublic(source=p.source, record_count=p.record_count,
                                    sha256=p.sha256, issued_at=p.issued_at,
                                    fetch_count=p.fetch_count) for p in packages],
    )


# The use cases the API and the console call: a refusal other than 401/403 rolls the caller's
# session back and is recorded on its own; success is recorded in the caller's transaction
# (the functions above do it) and the caller commits.

def requested_by(req: ReidRequest, actor: Actor) -> bool:
    """Whether ``actor`` is (or may be) the person who asked for ``req``."""
    return same_person(req.requester_token_id, req.requester_user, actor.token_id,
                       actor.user_label)


def _visible(req: ReidRequest, actor: Actor) -> bool:
    """Requesters see their own requests; approvers and auditors see all."""
    return actor.role != "reid_requester" or requested_by(req, actor)


def submit_request(
    session: Session, *, requester: Actor, persons: Sequence[str],
    sources: Sequence[str] | None, legal_basis: str, purpose: str, policy: ReidPolicy,
) -> ReidRequest:
    """``create_request``, a refusal recorded as ``reid.request.create``."""
    with refusals_recorded(session, requester, "reid.request.create", []):
        return create_request(session, requester=requester, persons=persons, sources=sources,
                              legal_basis=legal_basis, purpose=purpose, policy=policy)


def list_visible(session: Session, *, actor: Actor, status: str | None = None,
                 limit: int = 100) -> list[ReidRequest]:
    """Requests newest first that ``actor`` may see (a requester only their own);
    ``reid.request.list`` names them."""
    rows = [r for r in list_requests(session, status=status, limit=limit) if _visible(r, actor)]
    record(session, actor=actor.label, action="reid.request.list",
           objects=[r.id for r in rows][:100])
    return rows


def read_request(session: Session, *, actor: Actor, request_id: str) -> ReidRequest:
    """One request ``actor`` may see (NotFound otherwise, recorded); ``reid.request.read``."""
    with refusals_recorded(session, actor, "reid.request.read", [request_id]):
        req = get_request(session, request_id=request_id)
        if not _visible(req, actor):
            raise NotFound("solicitud de reidentificación desconocida (unknown request)")
        record(session, actor=actor.label, action="reid.request.read", objects=[req.id])
        return req


def approve_request(session: Session, *, request_id: str, approver: Actor, reason: str | None,
                    signer: Ed25519PrivateKey) -> ReidRequest:
    """``approve``, a refusal recorded as ``reid.request.approve``."""
    with refusals_recorded(session, approver, "reid.request.approve", [request_id]):
        return approve(session, request_id=request_id, approver=approver, reason=reason,
                       signer=signer)


def deny_request(session: Session, *, request_id: str, approver: Actor, reason: str
                 ) -> ReidRequest:
    """``deny``, a refusal recorded as ``reid.request.deny``."""
    with refusals_recorded(session, approver, "reid.request.deny", [request_id]):
        return deny(session, request_id=request_id, approver=approver, reason=reason)
