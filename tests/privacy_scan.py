"""Scan artefacts for identifiers of the synthetic input: the privacy tests' one tool.

An identifier is a name token (5+ letters, so random binary does not match by chance), a
document number, a full birth date (written several ways) or a record_id. The scan looks at the
raw bytes and at everything that decodes from base64 or hex runs inside them.

``scan_demo_artefacts`` scans what a run leaves behind (the service's SQLite database and
-wal, the server's log, the HTTP response bodies). How it avoids false alarms without going
blind (each choice is a place where a naive byte search "finds" identifiers that are not
there):

- SQLite packs a row's text cells side by side, so two UBIGEOs (``100601`` ``200805``) read as
  the digits of a date or a document. Every cell of every table is therefore scanned on its
  own (separated), for every kind; the raw file (and -wal, which also holds freed pages) is
  scanned for the needles that cannot arise from packed digits: name tokens, record ids, birth
  dates written with separators.
- Random bytes (CLKs, ciphertexts) contain any 5 letters case-insensitively now and then;
  binary views are searched for name tokens of 6+ letters only (chance ≈ 0 at this size).
- Base64 text (sealed locators) spells random words; in text artefacts each opaque token
  (base64 with digits and both cases, or lower-case hex) is cut out of the text view and
  scanned decoded instead.
- Digits of a float or a timestamp contain any 8-digit date or document now and then; in text,
  all-digit needles must be a whole run of digits.
- A birth date that is also some record's event date (``fecha_hecho``, a content attribute
  sent in clear by design) cannot be told apart; such dates are left out and counted.
- Pseudonyms (``P-`` and ten random base32 characters) are cut out of text views: with
  hundreds of them a 5-letter name turns up inside one by chance now and then.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import re
import shutil
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

__all__ = [
    "Finding",
    "binary_needles",
    "date_forms",
    "decoded_tokens",
    "identifiers_of",
    "needles",
    "scan_bytes",
    "scan_database",
    "scan_demo_artefacts",
    "scan_paths",
    "scan_responses",
    "scan_text",
    "split_opaque",
    "sqlite_cells",
]

_B64 = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(rb"(?:[0-9a-fA-F]{2}){8,}")
_NAME_COLUMNS = ("nombres", "apellido_paterno", "apellido_materno")
# Artefacts of a run (scan_demo_artefacts): opaque tokens cut out of text views.
_OPAQUE = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
_PSEUDONYM = re.compile(rb"\bP-[A-Z2-7]{10}\b")
_HEX_TOKEN = re.compile(rb"(?<![0-9A-Za-z])(?:[0-9a-f]{2}){8,}(?![0-9A-Za-z])")
_JSON_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")



class Finding(tuple[str, str]):
    """(where, identifier kind) — never the identifier itself, so reports stay clean."""


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def date_forms(value: str) -> set[str]:
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
                out["birth_dates"] |= date_forms(row.get("fecha_nacimiento") or "")
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


# ------------------------------------------- artefacts of a run (database, log, responses)


def needles(inputs: list[Path]) -> tuple[dict[str, set[str]], int]:
    """Identifiers of the input, less birth dates that are also event dates (counted)."""
    ids = identifiers_of(inputs)
    event_dates: set[str] = set()
    for path in inputs:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                event_dates |= date_forms(row.get("fecha_hecho") or "")
    clash = ids["birth_dates"] & event_dates
    ids["birth_dates"] -= clash
    return ids, len(clash)


def binary_needles(ids: dict[str, set[str]]) -> dict[str, set[str]]:
    """What random bytes or packed cells cannot produce by chance."""
    return {
        "names": {n for n in ids["names"] if len(n) >= 6},
        "record_ids": set(ids["record_ids"]),
        "birth_dates": {d for d in ids["birth_dates"] if not d.isdigit()},
        "documents": {d for d in ids["documents"] if not d.isdigit() and len(d) >= 8},
    }


def sqlite_cells(paths: list[Path], scratch: Path) -> tuple[bytes, bytes]:
    """(text cells, blob cells) of every table, each cell on its own line. Reads a copy with
    its -wal, so the scan sees what the WAL holds too."""
    scratch.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy(path, scratch / path.name)
    con = sqlite3.connect(scratch / paths[0].name)
    texts, blobs = [], []
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert tables, "la base no tiene tablas"
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, bytes):
                        blobs.append(cell)
                    elif cell is not None:
                        texts.append(str(cell).encode("utf-8"))
    finally:
        con.close()
    return b"\n".join(texts), b"\n".join(blobs)


def split_opaque(data: bytes) -> tuple[bytes, list[bytes], list[bytes]]:
    """(text with opaque tokens cut out, base64 tokens, decoded hex tokens). A base64 token is
    a run with a digit and both cases, as ciphertexts are and written words are not; a hex
    token is a run of lower-case hex pairs (record references)."""
    tokens: list[bytes] = []

    def cut(match: re.Match[bytes]) -> bytes:
        token = match.group(0)
        if re.search(rb"[0-9]", token) and re.search(rb"[a-z]", token) \
                and re.search(rb"[A-Z]", token):
            tokens.append(token)
            return b" "
        return token

    hex_tokens: list[bytes] = []

    def cut_hex(match: re.Match[bytes]) -> bytes:
        hex_tokens.append(bytes.fromhex(match.group(0).decode()))
        return b" "

    # Pseudonyms are random base32 (P-XXXXXXXXXX, bank.pseudonyms): with hundreds of them a
    # 5-letter name turns up inside one by chance in a few runs out of a hundred. They are
    # never derived from identifiers, so they are cut out rather than read as text.
    text = _PSEUDONYM.sub(b" ", _HEX_TOKEN.sub(cut_hex, _OPAQUE.sub(cut, data)))
    return text, tokens, hex_tokens


def scan_text(data: bytes, ids: dict[str, set[str]], where: str) -> list[Finding]:
    """scan_bytes for every needle, except that all-digit needles (document numbers, compact
    dates) must be a whole run of digits: inside a longer number (a float of the job's model,
    a timestamp) they mean nothing."""
    # JSON may escape non-ASCII letters (PE\\u00d1A): read the escapes too.
    data += b"\n" + _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)).encode("utf-8"), data)
    findings = scan_bytes(data, {k: {v for v in vs if not v.isdigit()} for k, vs in ids.items()},
                          where)
    runs = set(re.findall(rb"[0-9]+", data))
    for kind, values in ids.items():
        hit = any(v.isdigit() and v.encode() in runs for v in values)
        if hit and (where, kind) not in findings:
            findings.append(Finding((where, kind)))
    return findings


def decoded_tokens(tokens: list[bytes]) -> bytes:
    out = []
    for token in tokens:
        for decoder in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(binascii.Error, ValueError):
                out.append(decoder(token + b"=" * (-len(token) % 4)))
    return b"\n".join(out)


def scan_database(paths: list[Path], ids: dict[str, set[str]], scratch: Path) -> list[Finding]:
    binary = binary_needles(ids)
    findings: list[Finding] = []
    for path in paths:
        findings += scan_bytes(path.read_bytes(), binary, f"{path.name} (raw)")
    texts, blobs = sqlite_cells(paths, scratch)
    # Text cells hold random opaque tokens too (signatures, token and audit hashes): they are
    # cut out and their decoded bytes scanned for what chance cannot produce, as for responses
    # (a 5-letter name turned up by chance in one CI run's decoded audit hashes).
    text, tokens, hex_bytes = split_opaque(texts)
    findings += scan_text(text, ids, "database text cells")
    findings += scan_bytes(decoded_tokens(tokens) + b"\n" + b"\n".join(hex_bytes), binary,
                           "database text cells (decoded)")
    findings += scan_bytes(blobs, binary, "database blob cells")
    return findings


def scan_responses(path: Path, ids: dict[str, set[str]]) -> list[Finding]:
    text, tokens, hex_bytes = split_opaque(path.read_bytes())
    decoded = decoded_tokens(tokens) + b"\n" + b"\n".join(hex_bytes)
    return (scan_text(text, ids, f"{path.name} (text)")
            + scan_bytes(decoded, binary_needles(ids), f"{path.name} (decoded)"))


def scan_demo_artefacts(*, database: list[Path], server_log: Path, responses: Path,
                        ids: dict[str, set[str]], scratch: Path) -> list[Finding]:
    """Every finding of the scan described in the module docstring."""
    return (scan_database(database, ids, scratch)
            + scan_text(_PSEUDONYM.sub(b" ", server_log.read_bytes()), ids, server_log.name)
            + scan_responses(responses, ids))
