"""Appending to the audit log: ``record`` and signed ``checkpoint``s.

Both run inside the caller's transaction, so an entry commits or rolls back with the change it
describes. Taking the previous hash is made safe under concurrency before anything is read:

- PostgreSQL: ``pg_advisory_xact_lock`` on a fixed key serialises appenders until commit;
- SQLite: a no-op ``UPDATE`` on the log takes the database's write lock first (SQLite has one
  writer at a time), so no other transaction can append between our read and our insert.

Whatever happens, ``seq`` is the primary key: two appenders that somehow read the same tail
cannot both commit, so the chain never forks.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from linkage_service.audit.chain import (
    GENESIS,
    OUTCOMES,
    EntryFields,
    check_label,
    checkpoint_message,
    entry_hash,
    normalise_objects,
    to_utc_naive,
)
from linkage_service.models.audit import AuditCheckpoint, AuditEntry
from vinculo_common.crypto import key_id, sign
from vinculo_common.errors import (
    AuthError,
    Conflict,
    InputError,
    LimitExceeded,
    PermissionDenied,
    VinculoError,
)

__all__ = ["POLICY_KEY", "CheckpointPolicy", "checkpoint", "lock_log", "record", "record_alone",
           "refusal_recorded", "register_policy"]

# session.info key where the app puts its CheckpointPolicy, so callers that only pass the
# session (the use cases a request calls) still get checkpoints every N entries.
POLICY_KEY = "vinculo.audit_policy"
# b"vinculo" as a big-endian integer: the advisory-lock key of the log on PostgreSQL.
_PG_LOCK_KEY = int.from_bytes(b"vinculo", "big")
_MAX_REASON = 2000
# The policy of each engine the service set up, so that an entry written through ANY session on
# it (refused calls, jobs, console pages: sessions made without the request's info) still gets
# its checkpoint every N entries.
_ENGINE_POLICIES: weakref.WeakKeyDictionary[Engine, CheckpointPolicy] = (
    weakref.WeakKeyDictionary())
_ENTRY_TABLE: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]
_CHECKPOINT_TABLE: sa.Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CheckpointPolicy:
    """Sign a checkpoint every ``every`` entries (0: only on demand) with ``signer``."""

    signer: Ed25519PrivateKey
    every: int = 100

    def __post_init__(self) -> None:
        if self.every < 0:
            raise InputError(f"audit checkpoint_every debe ser ≥ 0, no {self.every}")


def register_policy(engine: Engine, policy: CheckpointPolicy) -> None:
    """Make ``policy`` the default of every session on ``engine`` (``create_app`` calls it)."""
    _ENGINE_POLICIES[engine] = policy


def _policy_of(session: Session) -> CheckpointPolicy | None:
    found = session.info.get(POLICY_KEY)
    if isinstance(found, CheckpointPolicy):
        return found
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _ENGINE_POLICIES.get(engine) if isinstance(engine, Engine) else None


def lock_log(session: Session) -> None:
    """Serialise appenders to the log until the caller's transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    else:
        session.execute(sa.text("UPDATE audit_entry SET seq = seq WHERE seq < 0"))


def _tail(session: Session) -> tuple[int, str]:
    c = _ENTRY_TABLE.c
    row = session.execute(
        sa.select(c.seq, c.entry_hash).order_by(c.seq.desc()).limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    objects: Sequence[str | int],
    reason: str | None = None,
    outcome: str = "ok",
    now: datetime | None = None,
    policy: CheckpointPolicy | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction and return it (flushed, not committed).

    ``policy`` defaults to ``session.info[POLICY_KEY]``, then to the policy registered for the
    session's engine (``register_policy``); with one, every ``policy.every``-th
    entry also gets a signed checkpoint.

    Example: ``record(session, actor="user:ana", action="reid.request.create",
    objects=["rq-3f2a"], reason="Oficio 123-2024")``
    """
    actor = check_label(actor, "actor")
    action = check_label(action, "acción")
    if outcome not in OUTCOMES:
        raise InputError(f"outcome debe ser uno de {OUTCOMES}, no {outcome!r}")
    if reason is not None and len(reason) > _MAX_REASON:
        raise InputError(f"el motivo supera {_MAX_REASON} caracteres (reason too long)")
    ids = normalise_objects(objects)
    at = to_utc_naive(now or datetime.now(UTC))
    lock_log(session)
    last_seq, prev = _tail(session)
    fields = EntryFields(
        seq=last_seq + 1, at=at, actor=actor, action=action, objects=tuple(ids),
        reason=reason, outcome=outcome, prev_hash=prev,
    )
    entry = AuditEntry(
        seq=fields.seq, at=at, actor=actor, action=action,
        objects=fields.canonical_objects(), reason=reason, outcome=outcome,
        prev_hash=prev, entry_hash=entry_hash(fields),
    )
    session.add(entry)
    session.flush()
    policy = policy or _policy_of(session)
    if policy is not None and policy.every:
        _checkpoints_due(session, entry=entry, at=at, policy=policy)
    return entry


def _checkpoints_due(session: Session, *, entry: AuditEntry, at: datetime,
                     policy: CheckpointPolicy) -> None:
    """Sign every multiple of ``policy.every`` up to ``entry`` that has no checkpoint yet: one
    written now, or one an earlier writer without the service key (a CLI command on another
    machine) left behind, so no multiple of N stays uncovered whoever wrote it."""
    c = _CHECKPOINT_TABLE.c
    last = int(session.execute(sa.select(sa.func.max(c.seq))).scalar() or 0)
    every = policy.every
    due = list(range(last - last % every + every, entry.seq + 1, every))
    if not due:
        return
    e = _ENTRY_TABLE.c
    hashes = {int(q): str(h) for q, h in session.execute(
        sa.select(e.seq, e.entry_hash).where(e.seq.in_(due[-1000:])))}
    for seq in due[-1000:]:
        if seq in hashes:
            _write_checkpoint(session, seq=seq, entry_hash=hashes[seq], at=at,
                              signer=policy.signer)


def _write_checkpoint(
    session: Session, *, seq: int, entry_hash: str, at: datetime, signer: Ed25519PrivateKey
) -> AuditCheckpoint:
    c = _CHECKPOINT_TABLE.c
    last = session.execute(
        sa.select(c.number, c.seq).order_by(c.number.desc()).limit(1)
    ).first()
    if last is not None and int(last[1]) >= seq:
        existing = session.get(AuditCheckpoint, int(last[0]))
        assert existing is not None
        return existing
    number = int(last[0]) + 1 if last else 1
    kid = key_id(signer.public_key())
    message = checkpoint_message(number=number, seq=seq, entry_hash=entry_hash, at=at, key_id=kid)
    cp = AuditCheckpoint(
        number=number, seq=seq, entry_hash=entry_hash, at=at, key_id=kid,
        signature=sign(signer, message).hex(),
    )
    session.add(cp)
    session.flush()
    return cp


def checkpoint(
    session: Session, *, signer: Ed25519PrivateKey, now: datetime | None = None
) -> AuditCheckpoint | None:
    """Sign a checkpoint of the log's last entry now (None when the log is empty).

    Idempotent: when the last entry already has a checkpoint, that one is returned.
    """
    lock_log(session)
    seq, last_hash = _tail(session)
    if seq == 0:
        return None
    return _write_checkpoint(
        session, seq=seq, entry_hash=last_hash, at=to_utc_naive(now or datetime.now(UTC)),
        signer=signer,
    )


def record_alone(
    engine: Engine,
    *,
    actor: str,
    action: str,
    objects: Sequence[str | int],
    reason: str | None = None,
    outcome: str = "ok",
) -> None:
    """Append one entry in its own transaction and commit it: refused calls and failed logins,
    whose own transaction is rolled back."""
    with Session(engine) as session:
        record(session, actor=actor, action=action, objects=objects, reason=reason,
               outcome=outcome)
        session.commit()


@contextmanager
def refusal_recorded(
    session: Session, *, actor: str, action: str, objects: Sequence[str]
) -> Iterator[None]:
    """Around a use case: on a deliberate refusal (a ``VinculoError``), roll ``session`` back
    and record the refusal in its own transaction (outcome ``denied`` for a conflict or a limit,
    ``failed`` otherwise), then re-raise. 401 and 403 are left to the adapters' error handlers,
    which record them as ``auth.login_failed`` / ``auth.denied`` for every route alike."""
    try:
        yield
    except VinculoError as exc:
        session.rollback()
        if not isinstance(exc, AuthError | PermissionDenied):
            bind = session.get_bind()
            engine = bind.engine if isinstance(bind, Connection) else bind
            assert isinstance(engine, Engine)
            outcome = "denied" if isinstance(exc, Conflict | LimitExceeded) else "failed"
            record_alone(engine, actor=actor, action=action, objects=objects,
                         reason=str(exc)[:500], outcome=outcome)
        raise
