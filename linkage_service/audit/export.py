"""Export of the audit log for auditors: JSON lines or CSV, entries in ``seq`` order.

Each line carries the stored hashes; the last line of an earlier export is an external anchor
for ``verify`` (``vinculo audit verify --anchor FILE``). Read with plain SQL in pages, so a large
log streams in flat memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from linkage_service.audit.chain import format_at, to_utc_naive
from linkage_service.audit.verify import Anchor
from vinculo_common.errors import InputError

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "anchor_from_export",
    "export_lines",
    "iter_entries",
]

EXPORT_FORMATS = ("jsonl", "csv")
EXPORT_COLUMNS = ("seq", "at", "actor", "action", "objects", "reason", "outcome", "prev_hash",
                  "entry_hash")
_PAGE = 1000


def iter_entries(
    conn: sa.engine.Connection, *, after_seq: int = 0, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Entries with ``seq > after_seq`` in order, as dicts (``objects`` as stored text)."""
    sent = 0
    last = after_seq
    while limit is None or sent < limit:
        page = _PAGE if limit is None else min(_PAGE, limit - sent)
        rows = conn.execute(
            sa.text(f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_entry "  # noqa: S608
                    "WHERE seq > :last ORDER BY seq LIMIT :n"),
            {"last": last, "n": page},
        ).mappings().all()
        if not rows:
            return
        for row in rows:
            yield dict(row)
        sent += len(rows)
        last = int(rows[-1]["seq"])


def _at(value: Any) -> str:
    if isinstance(value, datetime):
        return format_at(value)
    return format_at(to_utc_naive(datetime.fromisoformat(str(value))))


def export_lines(entries: Iterator[dict[str, Any]], *, fmt: str) -> Iterator[str]:
    """Format entries as JSON lines or CSV (with a header line).

    >>> row = {"seq": 1, "at": "2025-01-01 00:00:00", "actor": "a", "action": "x",
    ...        "objects": "[]", "reason": None, "outcome": "ok", "prev_hash": "0",
    ...        "entry_hash": "1"}
    >>> next(export_lines(iter([row]), fmt="jsonl"))[:20]
    '{"action":"x","actor'
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError("formato de exportación desconocido: use jsonl o csv (unknown format)")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        yield buf.getvalue()
    for row in entries:
        out = {**row, "at": _at(row["at"]), "objects": json.loads(row["objects"])}
        if fmt == "jsonl":
            yield json.dumps(out, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        else:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(
                [row[c] if c not in ("at",) else out["at"] for c in EXPORT_COLUMNS])
            yield buf.getvalue()


def anchor_from_export(text: str) -> Anchor:
    """The last entry of an earlier JSON-lines export, as an ``Anchor`` for ``verify``: the
    log must still hold that entry unchanged (catches a tail removed since the export).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        last = json.loads(lines[-1])
        return Anchor(seq=int(last["seq"]), entry_hash=str(last["entry_hash"]))
    except (IndexError, ValueError, KeyError, TypeError):
        raise InputError("exportación ilegible: se espera JSON lines de vinculo audit export"
                         " (unreadable export)") from None
