"""What the per-record routes may show of a record's content attributes: a coarse release
(sex, five-year birth band, age band, nationality, departments, event year, forms), generalised
for the whole bank until each release is shared by at least ``RELEASE_MIN_GROUP`` records of its
source; never the exact values, which stay sealed. Why and how: docs/security.md, docs/bank.md.

A key absent from a release is *not shown*; a key shown as None says the record lacks it.

>>> release_of({"sex": "F", "birth_year_min": 1990, "birth_year_max": 1991,
...             "ubigeo_event": "150101", "event_date": "2022-07-17"}, level=0)["ubigeo_event"]
'15'
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from linkage_service.custody import custody_key_for
from linkage_service.custody.records import opened, record_columns
from linkage_service.models import EncodedRecord, Source

__all__ = [
    "LEVELS",
    "MAX_SUPPRESSED",
    "RELEASE_FIELDS",
    "RELEASE_MIN_GROUP",
    "ReleasePolicy",
    "choose_policy",
    "release_of",
    "release_policy",
]

RELEASE_MIN_GROUP = 10
MAX_SUPPRESSED = 0.2
RELEASE_FIELDS: tuple[str, ...] = (
    "sex", "birth_year_band", "age_band", "nationality", "ubigeo_birth", "ubigeo_residence",
    "ubigeo_event", "event_year", "exploitation",
)
# Each level shows these fields (coarse forms); the first is the finest.
LEVELS: tuple[tuple[str, ...], ...] = (
    RELEASE_FIELDS,
    ("sex", "birth_year_band", "age_band", "nationality", "ubigeo_event", "event_year",
     "exploitation"),
    ("sex", "age_band", "nationality", "ubigeo_event", "event_year", "exploitation"),
    ("sex", "age_band", "ubigeo_event", "event_year", "exploitation"),
    ("sex", "age_band", "event_year", "exploitation"),
    ("sex", "age_band", "event_year"),
    ("sex", "event_year"),
    ("event_year",),
    (),
)
_AGE_BANDS = ((0, 11, "00-11"), (12, 14, "12-14"), (15, 17, "15-17"), (18, 24, "18-24"),
              (25, 34, "25-34"), (35, 200, "35+"))
_REC: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
_SRC: sa.Table = Source.__table__  # type: ignore[attr-defined]


def _birth_band(low: Any, high: Any) -> str | None:
    if low is None and high is None:
        return None
    lo = int(low if low is not None else high)
    hi = int(high if high is not None else low)
    first, last = lo - lo % 5, hi - hi % 5 + 4
    return f"{first}-{last}"


def _age_band(age: Any) -> str | None:
    if age is None:
        return None
    for low, high, name in _AGE_BANDS:
        if low <= int(age) <= high:
            return name
    return None


def _coarse(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Every release field in its coarse form (None: the record lacks it)."""
    event = attributes.get("event_date") or None

    def dept(name: str) -> str | None:
        value = attributes.get(name) or None
        return str(value)[:2] if value else None

    return {
        "sex": attributes.get("sex") or None,
        "birth_year_band": _birth_band(attributes.get("birth_year_min"),
                                       attributes.get("birth_year_max")),
        "age_band": _age_band(attributes.get("age_at_event")),
        "nationality": attributes.get("nationality") or None,
        "ubigeo_birth": dept("ubigeo_birth"),
        "ubigeo_residence": dept("ubigeo_residence"),
        "ubigeo_event": dept("ubigeo_event"),
        "event_year": str(event)[:4] if event else None,
        "exploitation": attributes.get("exploitation") or None,
    }


def release_of(attributes: Mapping[str, Any], *, level: int) -> dict[str, Any]:
    """The release of exact ``attributes`` at ``level`` (index into LEVELS), before the group
    check (``ReleasePolicy.release`` applies it)."""
    coarse = _coarse(attributes)
    return {name: coarse[name] for name in LEVELS[level]}


def _key(source: str, release: Mapping[str, Any]) -> tuple[Any, ...]:
    return (source, *sorted(release.items()))


@dataclass(frozen=True)
class ReleasePolicy:
    """The bank-wide level and the group sizes at that level (per source)."""

    level: int
    groups: Counter[tuple[Any, ...]]
    min_group: int = RELEASE_MIN_GROUP

    def release(self, source: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """What a per-record route shows of one record of ``source``: its release at the bank's
        level, or ``{}`` (nothing) when fewer than ``min_group`` records share it."""
        shown = release_of(attributes, level=self.level)
        return shown if self.groups[_key(source, shown)] >= self.min_group else {}


def choose_policy(records: list[tuple[str, Mapping[str, Any]]], *,
                  min_group: int = RELEASE_MIN_GROUP,
                  max_suppressed: float = MAX_SUPPRESSED) -> ReleasePolicy:
    """The finest level whose too-small groups hold at most ``max_suppressed`` of the records.

    >>> rows = [("reta", {"sex": "F", "event_date": "2022-01-01"})] * 12
    >>> choose_policy(rows).level
    0
    """
    for level in range(len(LEVELS)):
        groups = Counter(_key(source, release_of(a, level=level)) for source, a in records)
        small = sum(count for count in groups.values() if count < min_group)
        if not records or small <= max_suppressed * len(records) or level == len(LEVELS) - 1:
            return ReleasePolicy(level=level, groups=groups, min_group=min_group)
    raise AssertionError("unreachable")  # pragma: no cover


_CACHE: dict[tuple[Any, ...], ReleasePolicy] = {}
_LOCK = threading.Lock()


def release_policy(session: Session) -> ReleasePolicy:
    """The policy for the bank's current records (computed from the opened records, cached
    until a record is added, withdrawn or replaced)."""
    r = _REC.c
    state = tuple(session.execute(sa.select(
        sa.func.count(), sa.func.max(r.id), sa.func.sum(sa.case((r.is_current, 1), else_=0))
    ).select_from(_REC)).one())
    bind = session.get_bind()
    cache_key = (id(getattr(bind, "engine", bind)), *state)
    with _LOCK:
        cached = _CACHE.get(cache_key)
    if cached is not None:
        return cached
    custody = custody_key_for(session)
    rows = session.execute(
        sa.select(_SRC.c.name.label("source_name"), *record_columns())
        .join(_SRC, _SRC.c.id == r.source_id).where(r.is_current.is_(True))
    ).all()
    policy = choose_policy([(str(row.source_name), opened(custody, row).attributes)
                            for row in rows])
    with _LOCK:
        _CACHE.clear()
        _CACHE[cache_key] = policy
    return policy
