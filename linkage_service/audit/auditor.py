"""The auditor's use cases: read entries and checkpoints, sign a checkpoint, verify, export.

Each is itself recorded in the log, in the caller's transaction (the caller commits), for the
API (``/api/v1/audit``) and the console's audit page alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from linkage_service.audit.export import export_lines, iter_entries
from linkage_service.audit.log import checkpoint, record
from linkage_service.audit.verify import VerifyReport, verify
from linkage_service.models.audit import (
    AuditCheckpoint,
    AuditCheckpointPublic,
    AuditEntry,
    AuditEntryPublic,
)

__all__ = ["export_log", "read_checkpoints", "read_entries", "sign_checkpoint", "verify_log"]

_ENTRY: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]
_CP: sa.Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    assert isinstance(engine, Engine)
    return engine


def read_entries(session: Session, *, actor: str, after_seq: int = 0, limit: int = 100,
                 action: str | None = None) -> list[AuditEntryPublic]:
    """Entries after ``after_seq`` in order (only ``action`` when given); ``audit.read``."""
    query = sa.select(AuditEntry).where(_ENTRY.c.seq > after_seq)
    if action:
        query = query.where(_ENTRY.c.action == action)
    rows = session.execute(query.order_by(_ENTRY.c.seq).limit(limit)).scalars().all()
    out = [AuditEntryPublic(seq=r.seq, at=r.at, actor=r.actor, action=r.action,
                            objects=r.object_ids, reason=r.reason, outcome=r.outcome,
                            prev_hash=r.prev_hash, entry_hash=r.entry_hash) for r in rows]
    record(session, actor=actor, action="audit.read",
           objects=[f"after:{after_seq}", f"count:{len(out)}"])
    return out


def read_checkpoints(session: Session, *, actor: str) -> list[AuditCheckpointPublic]:
    """Every signed checkpoint in order; ``audit.checkpoints.read``."""
    rows = session.execute(sa.select(AuditCheckpoint).order_by(_CP.c.number)).scalars().all()
    record(session, actor=actor, action="audit.checkpoints.read", objects=[f"count:{len(rows)}"])
    return [AuditCheckpointPublic.model_validate(r, from_attributes=True) for r in rows]


def sign_checkpoint(session: Session, *, actor: str, signer: Ed25519PrivateKey
                    ) -> AuditCheckpoint:
    """Record ``audit.checkpoint``, then sign a checkpoint of the log up to that entry (read it
    back after the commit: the stored time is UTC-aware)."""
    record(session, actor=actor, action="audit.checkpoint", objects=[])
    cp = checkpoint(session, signer=signer)
    assert cp is not None  # the entry just written makes the log non-empty
    return cp


def verify_log(session: Session, *, actor: str, public_key: Ed25519PublicKey) -> VerifyReport:
    """Check the whole chain and every checkpoint signature; ``audit.verify`` with the outcome."""
    report = verify(_engine(session), public_key)
    record(session, actor=actor, action="audit.verify",
           objects=[f"first_bad:{report.first_bad_seq or 0}"],
           outcome="ok" if report.ok else "failed")
    return report


def export_log(session: Session, *, actor: str, fmt: str) -> Iterator[str]:
    """Record ``audit.export`` and return the whole log as lines of ``fmt`` (jsonl or csv).

    The lines are read on their own connection when iterated: commit first, so the export
    ends with its own entry.
    """
    record(session, actor=actor, action="audit.export", objects=[f"format:{fmt}"])
    engine = _engine(session)

    def lines() -> Iterator[str]:
        with engine.connect() as conn:
            yield from export_lines(iter_entries(conn), fmt=fmt)

    return lines()
