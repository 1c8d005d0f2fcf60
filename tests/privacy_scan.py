"""Scan artefacts for identifiers of the synthetic input: the privacy tests' one tool.

An identifier is a name token (5+ letters, so random binary does not match by chance), a
document number, a full birth date (written several ways) or a record_id. The scan looks at the
raw bytes and at everything that decodes from base64 or hex runs inside them.
"""

from __future__ import annotations

import base64
import binascii
import csv
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

__all__ = ["Finding", "identifiers_of", "scan_bytes", "scan_paths"]

_B64 = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(rb"(?:[0-9a-fA-F]{2}){8,}")
_NAME_COLUMNS = ("nombres", "apellido_paterno", "apellido_materno")


class Finding(tuple[str, str]):
    """(where, identifier kind) — never the identifier itself, so reports stay clean."""


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _date_forms(value: str) -> set[str]:
    value = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            from datetime import datetime

            d: date = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return {
            d.isoformat(),
            d.strftime("%d/%m/%Y"),
            d.strftime("%Y%m%d"),
            d.strftime("%d%m%Y"),
        }
    return set()


def identifiers_of(csv_paths: Iterable[Path]) -> dict[str, set[str]]:
    """Identifiers in canonical-layout CSVs, by kind: names, documents, birth_dates, record_ids."""
    out: dict[str, set[str]] = {"names": set(), "documents": set(), "birth_dates": set(),
                                "record_ids": set()}
    for path in csv_paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                for col in _NAME_COLUMNS:
                    for token in re.split(r"[^A-Za-zÑñÁÉÍÓÚáéíóúÜü]+", row.get(col) or ""):
                        if len(token) >= 5:
                            out["names"].add(token.upper())
                            out["names"].add(_fold(token.upper()))
                doc = (row.get("numero_documento") or "").strip()
                if len(doc) >= 6:
                    out["documents"].add(doc)
                out["birth_dates"] |= _date_forms(row.get("fecha_nacimiento") or "")
                rid = (row.get("record_id") or "").strip()
                if len(rid) >= 4:
                    out["record_ids"].add(rid)
    return out


def _decode(decoder: Callable[[bytes], bytes], chunk: bytes) -> bytes | None:
    try:
        return decoder(chunk)
    except (binascii.Error, ValueError):
        return None


def _from_hex(chunk: bytes) -> bytes:
    return bytes.fromhex(chunk.decode())


def _decoded_views(data: bytes) -> Iterable[bytes]:
    yield data
    for match in _B64.finditer(data):
        run = match.group(0).rstrip(b"=")
        # The run may start inside other text: try every alignment of the 4-character groups.
        for offset in range(4):
            part = run[offset:]
            part = part[: len(part) - len(part) % 4]
            for decoder in (base64.b64decode, base64.urlsafe_b64decode):
                if part and (view := _decode(decoder, part)) is not None:
                    yield view
    for match in _HEX.finditer(data):
        if (view := _decode(_from_hex, match.group(0))) is not None:
            yield view


def scan_bytes(data: bytes, identifiers: dict[str, set[str]], where: str) -> list[Finding]:
    findings: list[Finding] = []
    views = list(_decoded_views(data))
    upper_views = [v.upper() for v in views]
    for kind, values in identifiers.items():
        for value in values:
            needle = value.encode("utf-8")
            haystacks = upper_views if kind == "names" else views
            if any(needle.upper() in h if kind == "names" else needle in h for h in haystacks):
                findings.append(Finding((where, kind)))
                break
    return findings


def scan_paths(paths: Iterable[Path], identifiers: dict[str, set[str]]) -> list[Finding]:
    findings: list[Finding] = []
    for path in paths:
        if path.is_file():
            findings += scan_bytes(path.read_bytes(), identifiers, str(path))
    return findings
