"""Offline verification of the audit log: recompute the chain and check the signed checkpoints,
naming the first bad entry. What it detects, and why an exported ``anchor`` is needed for
entries after the last checkpoint: docs/audit.md.

"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linkage_service.audit.chain import (
    GENESIS,
    EntryFields,
    checkpoint_message,
    entry_hash,
    to_utc_naive,
)
from vinculo_common.batch import canonical_json
from vinculo_common.crypto import key_id
from vinculo_common.errors import IntegrityError

__all__ = ["Anchor", "VerifyReport", "load_rows", "verify"]

_ENTRY_COLUMNS = "seq, at, actor, action, objects, reason, outcome, prev_hash, entry_hash"
_CHECKPOINT_COLUMNS = "number, seq, entry_hash, at, key_id, signature"


@dataclass(frozen=True)
class Anchor:
    """A checkpoint known from outside the database (``seq`` and its ``entry_hash``)."""

    seq: int
    entry_hash: str


@dataclass
class VerifyReport:
    """Result of ``verify``. ``first_bad_seq`` is None when the log is intact."""

    entries: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    last_checkpoint_seq: int = 0
    signatures_checked: bool = False
    first_bad_seq: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None

    def flag(self, seq: int, problem: str) -> None:
        """Keep the problem with the lowest seq."""
        if self.first_bad_seq is None or seq < self.first_bad_seq:
            self.first_bad_seq, self.problem = seq, problem

    def raise_if_bad(self) -> None:
        """Raise IntegrityError naming the first bad entry."""
        if not self.ok:
            raise IntegrityError(
                f"bitácora alterada: primera entrada mala seq={self.first_bad_seq}: "
                f"{self.problem}"
            )

    def summary(self) -> str:
        if self.ok:
            signed = "firmas verificadas" if self.signatures_checked else (
                "FIRMAS NO VERIFICADAS: falta la clave pública del servicio")
            return (
                f"bitácora íntegra (audit log intact): {self.entries} entradas, "
                f"{self.checkpoints} checkpoints, último checkpoint seq={self.last_checkpoint_seq}"
                f", {signed}"
            )
        return f"bitácora alterada (tampered): seq={self.first_bad_seq}: {self.problem}"


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return to_utc_naive(value)
    return to_utc_naive(datetime.fromisoformat(str(value)))


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def load_rows(engine: sa.engine.Engine | sa.engine.Connection) -> tuple[list[dict], list[dict]]:
    """Read both tables as plain dicts, in ``seq`` / ``number`` order, with plain SQL."""
    def read(conn: sa.engine.Connection) -> tuple[list[dict], list[dict]]:
        entries = conn.execute(
            sa.text(f"SELECT {_ENTRY_COLUMNS} FROM audit_entry ORDER BY seq")  # noqa: S608
        ).mappings().all()
        cps = conn.execute(
            sa.text(f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoint ORDER BY number")  # noqa: S608
        ).mappings().all()
        return [dict(r) for r in entries], [dict(r) for r in cps]

    if isinstance(engine, sa.engine.Connection):
        return read(engine)
    with engine.connect() as conn:
        return read(conn)


def _entry_problem(row: Any, expected_prev: str) -> str | None:
    """Why this stored row is not a valid link after ``expected_prev`` (None when it is)."""
    try:
        objects_text = str(_get(row, "objects"))
        objects = json.loads(objects_text)
        if not isinstance(objects, list) or canonical_json(objects).decode() != objects_text:
            return "lista de objetos alterada (objects altered)"
        fields = EntryFields(
            seq=int(_get(row, "seq")), at=_as_datetime(_get(row, "at")),
            actor=str(_get(row, "actor")), action=str(_get(row, "action")),
            objects=tuple(objects), reason=_get(row, "reason"),
            outcome=str(_get(row, "outcome")), prev_hash=str(_get(row, "prev_hash")),
        )
    except (ValueError, TypeError):
        return "entrada ilegible (unreadable entry)"
    if fields.prev_hash != expected_prev:
        return "no encadena con la entrada anterior: insertada, borrada o reordenada (chain break)"
    if entry_hash(fields) != _get(row, "entry_hash"):
        return "contenido alterado: el hash no coincide (entry edited)"
    return None


def verify(
    engine_or_rows: sa.engine.Engine | sa.engine.Connection | tuple[Iterable[Any], Iterable[Any]],
    service_public_key: Ed25519PublicKey | None,
    *,
    anchor: Anchor | None = None,
) -> VerifyReport:
    """Check the whole log; return a report naming the first bad entry, if any.

    Without ``service_public_key`` the chain is still checked but checkpoint signatures are not
    (the report says so). Example::

        report = verify(create_engine("sqlite:///vinculo.db"), service_pub)
        report.raise_if_bad()
    """
    if isinstance(engine_or_rows, sa.engine.Engine | sa.engine.Connection):
        entries, cps = load_rows(engine_or_rows)
    else:
        entries, cps = list(engine_or_rows[0]), list(engine_or_rows[1])
    entries.sort(key=lambda r: int(_get(r, "seq")))
    cps.sort(key=lambda r: int(_get(r, "number")))
    report = VerifyReport(
        entries=len(entries), checkpoints=len(cps),
        signatures_checked=service_public_key is not None,
    )
    cp_by_seq = _check_checkpoints(cps, service_public_key, report)

    stored_hash: dict[int, str] = {}
    prev, expected_seq, last_cp_seq = GENESIS, 1, 0
    for row in entries:
        seq = int(_get(row, "seq"))
        if seq != expected_seq:
            report.flag(expected_seq, f"falta la entrada {expected_seq} (entry deleted)")
            break
        problem = _entry_problem(row, prev)
        if problem:
            report.flag(seq, problem)
            break
        prev = str(_get(row, "entry_hash"))
        stored_hash[seq] = prev
        if seq in cp_by_seq:
            if cp_by_seq[seq] != prev:
                report.flag(
                    last_cp_seq + 1,
                    f"cadena reescrita entre las entradas {last_cp_seq + 1} y {seq}: no coincide"
                    " con el checkpoint firmado (chain rewritten since the last checkpoint)",
                )
                break
            last_cp_seq = seq
        expected_seq += 1
    report.last_seq = max((int(_get(r, "seq")) for r in entries), default=0)
    if cps:
        final_cp = max(int(_get(c, "seq")) for c in cps)
        report.last_checkpoint_seq = final_cp
        if report.ok and final_cp > report.last_seq:
            report.flag(
                report.last_seq + 1,
                f"faltan entradas al final: el checkpoint firmado cubre hasta seq={final_cp} y la "
                f"bitácora termina en seq={report.last_seq} (truncated tail)",
            )
    if anchor is not None and report.ok:
        if anchor.seq > report.last_seq:
            report.flag(report.last_seq + 1, f"faltan entradas hasta el ancla seq={anchor.seq}"
                        " (truncated before the external anchor)")
        elif stored_hash.get(anchor.seq) != anchor.entry_hash:
            report.flag(anchor.seq, "la entrada no coincide con el ancla externa (anchor mismatch)")
    if report.ok and report.last_seq > report.last_checkpoint_seq:
        report.notes.append(
            f"las entradas {report.last_checkpoint_seq + 1}..{report.last_seq} aún no tienen "
            "checkpoint firmado (not yet covered by a signed checkpoint)"
        )
    return report


def _check_checkpoints(
    cps: list[Any], public_key: Ed25519PublicKey | None, report: VerifyReport
) -> dict[int, str]:
    """Check numbering, order and signatures; return {seq: entry_hash} of the good ones."""
    good: dict[int, str] = {}
    expected_kid = key_id(public_key) if public_key is not None else None
    prev_seq, prev_at = 0, None
    for i, cp in enumerate(cps, start=1):
        try:
            number, seq = int(_get(cp, "number")), int(_get(cp, "seq"))
            at = _as_datetime(_get(cp, "at"))
            kid, sig_hex = str(_get(cp, "key_id")), str(_get(cp, "signature"))
            h = str(_get(cp, "entry_hash"))
            signature = bytes.fromhex(sig_hex)
        except (ValueError, TypeError):
            report.flag(prev_seq + 1, f"checkpoint {i} ilegible (unreadable checkpoint)")
            break
        if number != i:
            report.flag(prev_seq + 1, f"falta el checkpoint número {i} (checkpoint deleted)")
            break
        if seq <= prev_seq or (prev_at is not None and at < prev_at):
            report.flag(min(seq, prev_seq + 1), f"checkpoint {number} fuera de orden")
            break
        if public_key is not None:
            if kid != expected_kid:
                report.flag(seq, f"checkpoint {number} firmado con otra clave (key id {kid})")
                break
            try:
                public_key.verify(
                    signature,
                    checkpoint_message(number=number, seq=seq, entry_hash=h, at=at, key_id=kid),
                )
            except InvalidSignature:
                report.flag(seq, f"firma del checkpoint {number} inválida (forged checkpoint)")
                break
        good[seq] = h
        prev_seq, prev_at = seq, at
    return good
