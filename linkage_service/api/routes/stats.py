"""Published statistics: ``GET /api/v1/stats/tables?min_cell=K`` for the ``analyst`` role.

Everything is computed and protected here, before it leaves the service: the bank snapshot
(record level) never crosses this boundary, only suppressed (and, when configured, noised)
tables do. The service refuses ``min_cell`` below its floor (``stats_min_cell_floor``, default
10) with a 422 that says why. Differential privacy is a server setting (``stats_dp_epsilon``),
not a query parameter: letting callers ask again and again with fresh noise would let them
average it away. For the same reason the noise is seeded from the service's signature over
the snapshot's digest: the same bank and ε always give the same published numbers.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from linkage_service.api.deps import AuditDep, RequireRole, ServiceKeyDep, SessionDep, SettingsDep
from linkage_service.api.openapi import DB_INT_MAX
from linkage_service.auth import Actor
from linkage_service.stats import build_tables
from vinculo_common.errors import InputError

__all__ = ["load_snapshot", "router", "snapshot_digest"]

router = APIRouter(prefix="/stats", tags=["stats"])


def load_snapshot(session: Session) -> pd.DataFrame:
    """The bank snapshot (one row per current record of an active person)."""
    from linkage_service.bank.snapshot import bank_snapshot

    return bank_snapshot(session)


def snapshot_digest(snapshot: pd.DataFrame) -> bytes:
    """SHA-256 over the snapshot's rows in a canonical order (seed material for the noise).

    >>> len(snapshot_digest(pd.DataFrame({"person_id": ["P-1"], "source": ["reta"]})))
    32
    """
    text = snapshot.astype(str).sort_values(list(snapshot.columns)).to_csv(index=False)
    return hashlib.sha256(text.encode("utf-8")).digest()


@router.get("/tables")
def tables(
    session: SessionDep, settings: SettingsDep, service_key: ServiceKeyDep, audit: AuditDep,
    min_cell: int | None = Query(default=None, ge=1, le=DB_INT_MAX,
                                 description="celda mínima (≥ el piso del servicio, que el "
                                 "documento OpenAPI del servicio declara como mínimo)"),
    actor: Actor = RequireRole("analyst"),
) -> dict[str, Any]:
    """Every statistics table, suppressed (and noised if configured), ready to publish.

    Example: ``GET /api/v1/stats/tables?min_cell=15``
    """
    floor = settings.stats_min_cell_floor
    epsilon = settings.stats_dp_epsilon
    chosen = floor if min_cell is None else min_cell
    if chosen < floor:
        raise InputError(
            f"min_cell={chosen} está por debajo del mínimo del servicio ({floor}); "
            f"use {floor} o más (min_cell below the service floor)")
    snapshot = load_snapshot(session)
    rng = None
    if epsilon is not None:
        seed = service_key.sign(b"vinculo-stats-dp-v1|" + str(float(epsilon)).encode()
                                + b"|" + snapshot_digest(snapshot))
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest(), "big"))
    published = build_tables(snapshot, min_cell=chosen, dp_epsilon=epsilon, rng=rng)
    audit("stats.tables", objects=[f"min_cell:{chosen}", f"tables:{len(published)}"])
    session.commit()
    return {"min_cell": chosen, "dp_epsilon": epsilon, "tables": published}
