"""The custody key's check value: which key sealed this bank's records (never the key).

One row. ``key_id`` is the first 16 hex digits of SHA-256 over a label and the key: it tells a
wrong key at start-up from the right one and reveals nothing of the key itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow

__all__ = ["CustodyCheck"]


class CustodyCheck(SQLModel, table=True):
    __tablename__ = "custody_check"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
