"""Publishing the statistics: the analyst's use case over the bank, for the API
(``GET /api/v1/stats/tables``) and the console's statistics page alike.

Only suppressed (and, with ``stats_dp_epsilon``, noised) tables leave; the noise is seeded from
the service's signature over the snapshot, so the same bank gives the same numbers
(docs/statistics.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.auth import Actor
from linkage_service.bank.snapshot import bank_snapshot
from linkage_service.models import EncodedRecord
from linkage_service.models.bank import LinkJob
from linkage_service.stats.report import TablePayload, build_tables
from vinculo_common.errors import InputError

__all__ = ["bank_version", "publish_tables", "record_tables_read", "snapshot_digest"]

_JOB: sa.Table = LinkJob.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]


def snapshot_digest(snapshot: pd.DataFrame) -> bytes:
    """SHA-256 over the snapshot's rows in a canonical order (seed material for the noise).

    >>> len(snapshot_digest(pd.DataFrame({"person_id": ["P-1"], "source": ["reta"]})))
    32
    """
    text = snapshot.astype(str).sort_values(list(snapshot.columns)).to_csv(index=False)
    return hashlib.sha256(text.encode("utf-8")).digest()


def record_tables_read(session: Session, *, actor: Actor, min_cell: int, tables: int) -> None:
    """``stats.tables``: every reading of the published tables is recorded (a cached copy
    too)."""
    record(session, actor=actor.label, action="stats.tables",
           objects=[f"min_cell:{min_cell}", f"tables:{tables}"])


def publish_tables(
    session: Session, *, actor: Actor, min_cell: int | None, floor: int,
    dp_epsilon: float | None, signer: Ed25519PrivateKey,
) -> dict[str, Any]:
    """Every table over the bank, suppressed at ``min_cell`` (the service's ``floor`` when
    None; InputError below it) and noised when ``dp_epsilon`` is set; ``stats.tables``.

    Returns ``{"min_cell", "dp_epsilon", "tables"}``.
    """
    chosen = floor if min_cell is None else min_cell
    if chosen < floor:
        raise InputError(
            f"min_cell={chosen} está por debajo del mínimo del servicio ({floor}); "
            f"use {floor} o más (min_cell below the service floor)")
    snapshot = bank_snapshot(session)
    rng = None
    if dp_epsilon is not None:
        seed = signer.sign(b"vinculo-stats-dp-v1|" + str(float(dp_epsilon)).encode()
                           + b"|" + snapshot_digest(snapshot))
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest(), "big"))
    published: dict[str, TablePayload] = build_tables(snapshot, min_cell=chosen,
                                                      dp_epsilon=dp_epsilon, rng=rng)
    record_tables_read(session, actor=actor, min_cell=chosen, tables=len(published))
    return {"min_cell": chosen, "dp_epsilon": dp_epsilon, "tables": published}


def bank_version(session: Session) -> tuple[Any, ...]:
    """What the published tables depend on, read cheaply: the last finished job (persons and
    memberships change only there), the newest record row (uploads) and the withdrawals."""
    job, rec = _JOB.c, _REC.c
    return (
        session.execute(sa.select(sa.func.max(job.id)).where(job.status == "done")).scalar(),
        session.execute(sa.select(sa.func.max(job.finished_at))).scalar(),
        session.execute(sa.select(sa.func.max(rec.id))).scalar(),
        session.execute(sa.select(sa.func.count()).select_from(_REC)
                        .where(rec.withdrawn_at.is_not(None))).scalar(),
    )
