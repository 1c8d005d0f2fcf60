"""The bank as a table for statistics: one row per current, linked record.

Columns: ``person_id`` (pseudonym), ``source``, ``sex``, ``birth_year_min``, ``birth_year_max``,
``age_at_event``, ``nationality``, ``ubigeo_birth``, ``ubigeo_residence``, ``ubigeo_event``,
``event_date``, ``exploitation`` (a list of forms). Missing text is None, missing numbers are
``pd.NA`` (the three numeric columns are ``Int64``), no form is an empty list. No record
references, no locators: nothing that points back to a record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.custody import custody_key_for
from linkage_service.custody.records import opened, record_columns
from linkage_service.models import EncodedRecord, Source
from linkage_service.models.bank import Membership, Person
from linkage_service.models.record import CONTENT_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bank_snapshot"]

_PERSON: sa.Table = Person.__table__  # type: ignore[attr-defined]
_MEM: sa.Table = Membership.__table__  # type: ignore[attr-defined]
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]


def bank_snapshot(session: Session) -> pd.DataFrame:
    """Current records of active persons, one row each, ordered by person then event date.

    Example: ``bank_snapshot(session).groupby("ubigeo_birth").person_id.nunique()``
    """
    import pandas as pd

    m, r, s, p = _MEM.c, _REC.c, _SRC.c, _PERSON.c
    rows = session.execute(
        sa.select(p.pseudonym, s.name.label("source_name"), *record_columns())
        .select_from(_MEM)
        .join(_PERSON, p.id == m.person_id)
        .join(_REC, r.id == m.record_row_id)
        .join(_SRC, s.id == m.source_id)
        .where(m.current.is_(True), r.is_current.is_(True), p.status == "active")
    ).all()
    custody = custody_key_for(session)  # opened in memory; only suppressed tables leave
    table = []
    for row in rows:
        attributes = opened(custody, row).attributes
        table.append((str(row.pseudonym), str(row.source_name),
                      *[attributes.get(c) for c in CONTENT_COLUMNS], int(row.id)))
    table.sort(key=lambda t: (t[0], t[1 + CONTENT_COLUMNS.index("event_date") + 1] or "",
                              t[1], t[-1]))
    # The columns of ``linkage_service.stats.snapshot.SNAPSHOT_COLUMNS``, in its order.
    frame = pd.DataFrame([t[:-1] for t in table], columns=["person_id", "source",
                                                           *CONTENT_COLUMNS])
    frame["exploitation"] = [
        sorted(x for x in str(v).split(";") if x) if v else [] for v in frame["exploitation"]
    ]
    for col in ("birth_year_min", "birth_year_max", "age_at_event"):
        frame[col] = frame[col].astype("Int64")
    return frame
