"""Privacy scan: nothing identifying of the input is in an encoded batch.

A synthetic export is encoded with the real console script; then the batch's raw bytes, every
base64 or hex run inside them (decoded), the JSON header and every attribute line (parsed,
every string) are searched for each name token, document number, full birth date (ISO,
DD/MM/YYYY, YYYYMMDD, DDMMYYYY, in ASCII and UTF-16) and record_id of the input. Also the
summary line on stderr. None may be found.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import json
import random
import re
import struct
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from vinculo_common.batch import read_batch

VINCULO = Path(sys.executable).with_name("vinculo")
GIVEN = ["YÉSICA", "MARLENY", "ROSÁNGELA", "DAYANNY", "YULIET", "MILAGROS", "KATHERINE",
         "FLORINDA", "ELIZABETH", "WILMER", "ÑUSTA", "LISBETH", "GRISELDA", "YORGELIS"]
SURNAMES = ["ÑAUPARI", "HUILLCAHUAMÁN", "PEÑALOZA", "CASTELLANOS", "BRICEÑO", "CCAHUANA",
            "QUISOCALA", "DE LA CRUZ", "DEL ÁGUILA", "YUPANQUI", "TICONA", "CONDORI"]


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _export(path: Path, n: int = 60) -> dict[str, set[str]]:
    rng = random.Random(11)
    found: dict[str, set[str]] = {"names": set(), "documents": set(), "dates": set(), "ids": set()}
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo",
                      "fecha_nacimiento", "tipo_documento", "numero_documento", "nacionalidad",
                      "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho", "forma_explotacion"])
        for i in range(n):
            given = " ".join(rng.sample(GIVEN, rng.choice([1, 2])))
            pat, mat = rng.sample(SURNAMES, 2)
            born = date(rng.randint(1980, 2010), rng.randint(1, 12), rng.randint(1, 28))
            doc = f"{rng.randint(10_000_000, 99_999_999)}"
            rid = f"SYN-{rng.randint(100000, 999999)}-{i}"
            written = born.isoformat() if i % 2 else born.strftime("%d/%m/%Y")
            out.writerow([rid, given, pat, mat, "F", written, "DNI", doc, "PER", "170101",
                          "2021-05-06", "170101", "sexual"])
            for token in re.split(r"[^A-ZÑÁÉÍÓÚ]+", f"{given} {pat} {mat}"):
                if len(token) >= 4:
                    found["names"] |= {token, _fold(token), token.lower(), _fold(token).lower()}
            found["documents"].add(doc)
            found["dates"] |= {born.isoformat(), born.strftime("%d/%m/%Y"),
                               born.strftime("%Y%m%d"), born.strftime("%d%m%Y")}
            found["ids"].add(rid)
    return found


def _views(data: bytes) -> Iterator[bytes]:
    """The data, and every base64 (standard and URL-safe) or hex run decoded at every alignment
    (a run may start with ordinary letters that belong to no encoding)."""
    yield data
    for alphabet, decode in ((rb"[A-Za-z0-9+/]{12,}", base64.b64decode),
                             (rb"[A-Za-z0-9_-]{12,}", base64.urlsafe_b64decode)):
        for run in re.finditer(alphabet, data):
            for shift in range(4):
                part = run.group(0)[shift:]
                for candidate in (part + b"=" * (-len(part) % 4), part[: len(part) // 4 * 4]):
                    with contextlib.suppress(binascii.Error, ValueError):
                        yield decode(candidate)
    for run in re.finditer(rb"[0-9a-fA-F]{12,}", data):
        for shift in range(2):
            part = run.group(0)[shift:]
            yield binascii.unhexlify(part[: len(part) - len(part) % 2])


def _json_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


def _needles(identifiers: dict[str, set[str]]) -> list[tuple[str, bytes]]:
    needles = []
    for kind, values in identifiers.items():
        for value in values:
            for codec in ("utf-8", "cp1252", "utf-16-le"):
                with contextlib.suppress(UnicodeEncodeError):
                    needles.append((kind, value.encode(codec)))
    return needles


def test_batch_holds_no_identifier(tmp_path: Path) -> None:
    identifiers = _export(tmp_path / "export.csv")
    keys = tmp_path / "claves"
    subprocess.run([str(VINCULO), "keys", "init", "--dir", str(keys), "--sources", "reta"],
                   check=True, capture_output=True)
    proc = subprocess.run(
        [str(VINCULO), "encode", "--source", "reta", "--input", str(tmp_path / "export.csv"),
         "--keys", str(keys), "--output", str(tmp_path / "b.vnb")],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / "b.vnb").read_bytes()
    batch = read_batch(data)
    assert batch.record_count == 60

    texts = list(_json_strings(batch.header))
    for attrs in batch.attributes:
        texts += [str(v) for v in attrs.values()] + list(_json_strings(attrs))
    (hlen,) = struct.unpack(">I", data[8:12])
    texts += list(_json_strings(json.loads(data[12:12 + hlen])))
    blobs = [*_views(data), *(t.encode() for t in texts), proc.stderr.encode()]

    needles = _needles(identifiers)
    assert len(needles) > 600  # the scan has something to find
    hits = sorted({kind for kind, needle in needles for blob in blobs if needle in blob})
    assert hits == [], f"identificadores en el lote: {hits}"


def test_scan_would_find_a_leak(tmp_path: Path) -> None:
    """The scan is not vacuous: a record id or date slipped into a base64 string is caught."""
    identifiers = _export(tmp_path / "export.csv", n=3)
    rid = sorted(identifiers["ids"])[0]
    leaked = b"headerX" + base64.b64encode(f"x{rid}x".encode()) + b"tail"
    needles = _needles(identifiers)
    assert any(n in blob for _, n in needles for blob in _views(leaked))
    leaked_hex = b"cafe" + binascii.hexlify(sorted(identifiers["dates"])[0].encode())
    assert any(n in blob for _, n in needles for blob in _views(leaked_hex))
