"""The encoding batch an institution uploads: magic, canonical JSON header, the source's Ed25519
signature, and a body of sections (``record_ref``, ``clk``, ``locator``, ``attributes``, and any
a linkage schema declares, returned in ``extras``). Byte layout: schemas/batch-format.md.

"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vinculo_common.crypto import key_id, sign, verify
from vinculo_common.errors import InputError, SchemaMismatch

__all__ = [
    "AGE_RANGE",
    "ATTRIBUTE_FIELDS",
    "BATCH_MAGIC",
    "FORMAT_VERSION",
    "LOCATOR_PLAINTEXT_SIZE",
    "LOCATOR_SIZE",
    "RECORD_REF_SIZE",
    "RECORD_SECTIONS",
    "YEAR_RANGE",
    "Batch",
    "BatchWriter",
    "canonical_json",
    "pad_record_id",
    "read_batch",
    "unpad_record_id",
]

BATCH_MAGIC = b"VNCLBAT1"
FORMAT_VERSION = 1
RECORD_REF_SIZE = 32
LOCATOR_PLAINTEXT_SIZE = 64  # 1 length byte + record_id (≤ 63 UTF-8 bytes) + zero padding
LOCATOR_SIZE = 32 + 12 + LOCATOR_PLAINTEXT_SIZE + 16
SIGNATURE_SIZE = 64
# The ranges the service accepts for the year attributes (and the event date's year); the SDK
# drops a value outside them with a note rather than send a batch the service would refuse.
YEAR_RANGE: tuple[int, int] = (1880, 2100)
AGE_RANGE: tuple[int, int] = (0, 130)

# Fixed-size sections a linkage schema may declare (``vinculo.sections``), with their item
# sizes: the keyed document hash (v1, v3, v4), and the family and consecutive-DNI sections of
# v3/v4 (client_sdk.family). The service keeps each in the encoded_record column of that name.
RECORD_SECTIONS: dict[str, int] = {"doc_hash": 32, "family": 64, "doc_near": 32}
# A real header is a few hundred bytes: a handful of fields and one entry per section.
MAX_HEADER = 64 << 10
MAX_HEADER_DEPTH = 4  # header → sections → section → value
MAX_SECTIONS = 16
MAX_CLK_BITS = 1 << 16
MAX_ITEM_SIZE = 1 << 16
MAX_BODY = 1 << 42

# Content attributes allowed in clear (canonical spec, "What is identifying and what is not").
# The service refuses any other key, so an identifier cannot slip in through an attribute.
ATTRIBUTE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "sex": str,  # "F" | "M" | ""
    "birth_year_min": (int, type(None)),
    "birth_year_max": (int, type(None)),
    "age_at_event": (int, type(None)),
    "nationality": str,  # ISO 3166-1 alpha-3 or ""
    "ubigeo_birth": str,  # INEI code, 2/4/6 digits or ""
    "ubigeo_residence": str,
    "ubigeo_event": str,
    "event_date": str,  # "YYYY-MM-DD", "YYYY-MM" (coarsened) or ""
    "exploitation": list,  # of sexual|laboral|mendicidad|venta_ninos|organos|otra
}


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_ATTRIBUTE_KEYS = sorted(ATTRIBUTE_FIELDS)
_JSON_KEYS = [encode_basestring(key) + ":" for key in _ATTRIBUTE_KEYS]


def _attribute_line(attributes: dict[str, Any]) -> bytes:
    """``canonical_json(attributes) + b"\\n"``, refusing keys outside ATTRIBUTE_FIELDS.

    The usual record (every field, plain str/int/None values, a list of str) is written
    directly, which is several times faster than json.dumps and gives the same bytes;
    anything else goes through canonical_json.

    >>> a = {"sex": "F", "birth_year_min": 1990, "birth_year_max": None, "age_at_event": 17,
    ...      "nationality": "PER", "ubigeo_birth": "1501", "ubigeo_residence": "",
    ...      "ubigeo_event": "150101", "event_date": "2021-03", "exploitation": ["sexual"]}
    >>> _attribute_line(a) == canonical_json(a) + b"\\n"
    True
    """
    if len(attributes) == len(_ATTRIBUTE_KEYS):
        parts = []
        try:
            for key, prefix in zip(_ATTRIBUTE_KEYS, _JSON_KEYS, strict=True):
                value = attributes[key]
                kind = type(value)
                if kind is str:
                    parts.append(prefix + encode_basestring(value))
                elif kind is int:
                    parts.append(prefix + int.__repr__(value))
                elif value is None:
                    parts.append(prefix + "null")
                elif kind is list and all(type(item) is str for item in value):
                    parts.append(prefix + "[" + ",".join(map(encode_basestring, value)) + "]")
                else:
                    raise KeyError(key)  # an unusual value: the general path below
        except KeyError:
            pass
        else:
            return ("{" + ",".join(parts) + "}\n").encode()
    unknown = set(attributes) - set(ATTRIBUTE_FIELDS)
    if unknown:
        raise InputError(f"atributos no permitidos en claro: {sorted(unknown)}")
    return canonical_json(attributes) + b"\n"


def pad_record_id(record_id: str) -> bytes:
    """Fixed-size plaintext of a locator, so ciphertext length says nothing about the id."""
    raw = record_id.encode("utf-8")
    if not raw or len(raw) > LOCATOR_PLAINTEXT_SIZE - 1:
        raise InputError(
            f"record_id debe tener entre 1 y {LOCATOR_PLAINTEXT_SIZE - 1} bytes UTF-8"
        )
    return bytes([len(raw)]) + raw + bytes(LOCATOR_PLAINTEXT_SIZE - 1 - len(raw))


def unpad_record_id(plaintext: bytes) -> str:
    n = plaintext[0]
    return plaintext[1 : 1 + n].decode("utf-8")


@dataclass
class Batch:
    """A parsed batch. Fixed-size sections are numpy uint8 arrays of shape (n, item_size)."""

    header: dict[str, Any]
    signed_part: bytes
    signature: bytes
    record_refs: np.ndarray
    clks: np.ndarray
    locators: np.ndarray
    attributes: list[dict[str, Any]]
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return str(self.header["source"])

    @property
    def record_count(self) -> int:
        return int(self.header["record_count"])

    def verify_signature(self, public_key: Ed25519PublicKey) -> None:
        """Raise IntegrityError unless the source's key signed this batch."""
        verify(public_key, self.signature, self.signed_part, "lote (batch)")

    def check_compatible(self, *, schema_fingerprints: set[str], secret_check: str | None) -> None:
        """Raise SchemaMismatch naming what differs: format, schema or linkage secret."""
        if self.header.get("format_version") != FORMAT_VERSION:
            raise SchemaMismatch(
                f"versión de formato no soportada: {self.header.get('format_version')!r} "
                f"(se espera {FORMAT_VERSION})"
            )
        if self.header.get("schema_fingerprint") not in schema_fingerprints:
            raise SchemaMismatch(
                "esquema de enlace desconocido: el lote se codificó con otro esquema "
                f"(schema fingerprint {self.header.get('schema_fingerprint')!r} not accepted)"
            )
        if secret_check is not None and self.header.get("secret_check") != secret_check:
            raise SchemaMismatch(
                "el lote se codificó con otro secreto de enlace (linkage secret check value "
                "does not match)"
            )


class BatchWriter:
    """Write a batch in one pass with flat memory: sections spool to temporary files.

    >>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "b.vnb"
    >>> w = BatchWriter(out, source="reta", schema_id="x", schema_fingerprint="f",
    ...                 secret_check="k", clk_bits=16, signing_key=Ed25519PrivateKey.generate())
    >>> w.add(record_ref=bytes(32), clk=b"\\x01\\x02", locator=bytes(LOCATOR_SIZE),
    ...       attributes={"sex": "F"})
    >>> w.close()["record_count"]
    1
    """

    def __init__(
        self,
        path: Path,
        *,
        source: str,
        schema_id: str,
        schema_fingerprint: str,
        secret_check: str,
        clk_bits: int,
        signing_key: Ed25519PrivateKey,
        extra_sections: dict[str, int] | None = None,
        metadata: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        if clk_bits <= 0 or clk_bits % 8:
            raise InputError(f"clk_bits debe ser múltiplo positivo de 8, no {clk_bits}")
        self._path = Path(path)
        self._signing_key = signing_key
        self._tmpdir = tempfile.mkdtemp(prefix="vinculo-batch-", dir=self._path.parent or None)
        self._fixed: dict[str, int] = {
            "record_ref": RECORD_REF_SIZE,
            "clk": clk_bits // 8,
            "locator": LOCATOR_SIZE,
            **(extra_sections or {}),
        }
        self._files: dict[str, BinaryIO] = {
            name: open(os.path.join(self._tmpdir, name), "wb")  # noqa: SIM115
            for name in [*self._fixed, "attributes"]
        }
        self._count = 0
        self._header: dict[str, Any] = {
            "format": "vinculo-batch",
            "format_version": FORMAT_VERSION,
            "source": source,
            "schema_id": schema_id,
            "schema_fingerprint": schema_fingerprint,
            "secret_check": secret_check,
            "clk_bits": clk_bits,
            "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "signing_key_id": key_id(signing_key.public_key()),
            **(metadata or {}),
        }

    def add(
        self,
        *,
        record_ref: bytes,
        clk: bytes,
        locator: bytes,
        attributes: dict[str, Any],
        extras: dict[str, bytes] | None = None,
    ) -> None:
        values = {"record_ref": record_ref, "clk": clk, "locator": locator, **(extras or {})}
        for name, size in self._fixed.items():
            value = values.get(name)
            if value is None or len(value) != size:
                raise InputError(f"sección {name}: se esperaban {size} bytes")
            self._files[name].write(value)
        self._files["attributes"].write(_attribute_line(attributes))
        self._count += 1

    def add_many(
        self,
        *,
        record_refs: Sequence[bytes],
        clks: Sequence[bytes],
        locators: Sequence[bytes],
        attributes: Sequence[dict[str, Any]],
        extras: Mapping[str, Sequence[bytes]] | None = None,
    ) -> None:
        """``add`` for many records at once (one list per section, in record order).

        Checks everything before writing anything, so a refused call adds no record.
        """
        columns = {"record_ref": record_refs, "clk": clks, "locator": locators, **(extras or {})}
        count = len(attributes)
        for name, size in self._fixed.items():
            column = columns.get(name)
            if column is None or len(column) != count or any(len(v) != size for v in column):
                raise InputError(f"sección {name}: se esperaban {size} bytes")
        lines = b"".join(map(_attribute_line, attributes))
        for name in self._fixed:
            self._files[name].write(b"".join(columns[name]))
        self._files["attributes"].write(lines)
        self._count += count

    @property
    def count(self) -> int:
        return self._count

    def close(self) -> dict[str, Any]:
        """Assemble, sign and move the batch into place atomically; return the header."""
        try:
            for fh in self._files.values():
                fh.close()
            sections = []
            offset = 0
            digest = hashlib.sha256()
            for name in [*self._fixed, "attributes"]:
                part = os.path.join(self._tmpdir, name)
                length = os.path.getsize(part)
                entry: dict[str, Any] = {"name": name, "offset": offset, "length": length}
                if name in self._fixed:
                    entry["item_size"] = self._fixed[name]
                else:
                    entry["format"] = "jsonl"
                sections.append(entry)
                offset += length
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
            header = {
                **self._header,
                "record_count": self._count,
                "sections": sections,
                "body_length": offset,
                "body_sha256": digest.hexdigest(),
            }
            header_bytes = canonical_json(header)
            signed = BATCH_MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes
            tmp_out = os.path.join(self._tmpdir, "batch.out")
            with open(tmp_out, "wb") as out:
                out.write(signed)
                out.write(sign(self._signing_key, signed))
                for name in [*self._fixed, "attributes"]:
                    with open(os.path.join(self._tmpdir, name), "rb") as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
            os.replace(tmp_out, self._path)
            return header
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop everything written so far; nothing is left behind."""
        for fh in self._files.values():
            fh.close()
        shutil.rmtree(self._tmpdir, ignore_errors=True)


def _read_exact(fh: IO[bytes], n: int, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise InputError(f"lote truncado: falta {what} (truncated batch)")
    return data


def read_batch(source: bytes | Path | IO[bytes], *, max_records: int | None = None) -> Batch:
    """Parse and check the structure of a batch (not its signature: see Batch.verify_signature).

    Raises InputError for anything malformed, with a reason and no content of the batch.
    """
    borrowed = not isinstance(source, bytes | Path)
    if isinstance(source, bytes):
        fh: IO[bytes] = io.BytesIO(source)
    elif isinstance(source, Path):
        try:
            fh = open(source, "rb")  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"no se puede leer el lote {source}: {exc.strerror}") from None
    else:
        fh = source
    try:
        return _parse(fh, max_records)
    finally:
        if not borrowed:
            fh.close()


def _parse(fh: IO[bytes], max_records: int | None) -> Batch:
    magic = _read_exact(fh, len(BATCH_MAGIC), "la cabecera")
    if magic != BATCH_MAGIC:
        raise InputError("no es un lote de vinculo (bad magic)")
    (hlen,) = struct.unpack(">I", _read_exact(fh, 4, "la cabecera"))
    if hlen > MAX_HEADER:
        raise InputError("cabecera del lote demasiado grande")
    header_bytes = _read_exact(fh, hlen, "la cabecera")
    header = _checked_header(header_bytes)
    signature = _read_exact(fh, SIGNATURE_SIZE, "la firma")
    n = header["record_count"]
    body_length = header["body_length"]
    sections = header["sections"]
    clk_bits = header["clk_bits"]
    if n < 0 or (max_records is not None and n > max_records):
        raise InputError(f"el lote tiene {n} registros; el máximo es {max_records}")
    body = fh.read(body_length + 1)
    if len(body) != body_length:
        raise InputError("lote truncado o con datos de más (body length mismatch)")
    if hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise InputError("el contenido del lote no coincide con su hash (body hash mismatch)")
    fixed: dict[str, np.ndarray] = {}
    attributes: list[dict[str, Any]] = []
    expected_offset = 0
    for entry in sections:
        name, offset, length = entry["name"], entry["offset"], entry["length"]
        if offset != expected_offset or offset + length > body_length:
            raise InputError(f"sección {_known_section(name)}: posición inválida")
        expected_offset += length
        chunk = body[offset : offset + length]
        if "item_size" in entry:
            size = int(entry["item_size"])
            if size <= 0 or length != n * size:
                raise InputError(f"sección {_known_section(name)}: tamaño inválido")
            fixed[name] = np.frombuffer(chunk, dtype=np.uint8).reshape(n, size)
        elif name == "attributes":
            attributes = list(_parse_attributes(chunk, n))
        else:
            raise InputError("sección desconocida en el lote (unknown section)")
    for required, size in (
        ("record_ref", RECORD_REF_SIZE),
        ("clk", clk_bits // 8),
        ("locator", LOCATOR_SIZE),
    ):
        if required not in fixed or fixed[required].shape[1] != size:
            raise InputError(f"falta la sección {required} o su tamaño es incorrecto")
    if len(attributes) != n:
        raise InputError("falta la sección attributes")
    return Batch(
        header=header,
        signed_part=BATCH_MAGIC + struct.pack(">I", hlen) + header_bytes,
        signature=signature,
        record_refs=fixed.pop("record_ref"),
        clks=fixed.pop("clk"),
        locators=fixed.pop("locator"),
        attributes=attributes,
        extras=fixed,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} no es un número JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("número no finito")
    return value


def _strict_json(data: bytes) -> Any:
    """JSON without NaN/Infinity or numbers that overflow to them; deep nesting refused."""
    try:
        return json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("anidamiento excesivo") from None


def _depth(obj: Any, limit: int) -> int:
    if limit < 0:
        return 0
    if isinstance(obj, dict):
        return 1 + max((_depth(v, limit - 1) for v in obj.values()), default=0)
    if isinstance(obj, list):
        return 1 + max((_depth(v, limit - 1) for v in obj), default=0)
    return 0


def _int_field(obj: dict[str, Any], key: str, low: int, high: int, what: str) -> int:
    value = obj.get(key)
    if type(value) is not int:
        kind = "falta" if value is None else "no es un entero"
        raise InputError(f"cabecera del lote: {what}{key} {kind} (header field must be an "
                         "integer)")
    if not low <= value <= high:
        raise InputError(f"cabecera del lote: {what}{key} fuera de rango {low}-{high} "
                         "(header field out of range)")
    return value


def _checked_header(header_bytes: bytes) -> dict[str, Any]:
    """Parse the header with limits before anything else reads it: size (MAX_HEADER, checked by
    the caller), nesting depth, finite numbers, and the type and range of every field the
    reader or the service uses. Raises InputError (4xx), never anything else."""
    try:
        header = _strict_json(header_bytes)
    except (ValueError, UnicodeDecodeError):
        raise InputError("cabecera del lote ilegible (header is not strict JSON: no NaN, "
                         "Infinity or nesting deeper than allowed)") from None
    if not isinstance(header, dict) or header.get("format") != "vinculo-batch":
        raise InputError("cabecera del lote inválida")
    if _depth(header, MAX_HEADER_DEPTH) > MAX_HEADER_DEPTH:
        raise InputError(f"cabecera del lote anidada a más de {MAX_HEADER_DEPTH} niveles "
                         "(header nested too deep)")
    _int_field(header, "record_count", 0, 2**31 - 1, "")
    _int_field(header, "body_length", 0, MAX_BODY, "")
    _int_field(header, "format_version", 0, 2**31 - 1, "")
    clk_bits = _int_field(header, "clk_bits", 8, MAX_CLK_BITS, "")
    if clk_bits % 8:
        raise InputError("cabecera del lote: clk_bits debe ser múltiplo de 8")
    for key in ("source", "schema_id", "schema_fingerprint", "secret_check", "body_sha256"):
        value = header.get(key)
        if not isinstance(value, str) or len(value) > 200:
            raise InputError(f"cabecera del lote: {key} falta o no es un texto (header field "
                             "must be a string)")
    if header.get("created_at") is not None and (
        not isinstance(header["created_at"], str) or len(header["created_at"]) > 40
    ):
        raise InputError("cabecera del lote: created_at no es un texto")
    sections = header.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_SECTIONS:
        raise InputError(f"cabecera del lote: sections debe ser una lista de 1 a {MAX_SECTIONS} "
                         "secciones")
    for entry in sections:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not (
            0 < len(entry["name"]) <= 40
        ):
            raise InputError("sección del lote mal descrita")
        _int_field(entry, "offset", 0, MAX_BODY, "sections.")
        _int_field(entry, "length", 0, MAX_BODY, "sections.")
        if "item_size" in entry:
            _int_field(entry, "item_size", 1, MAX_ITEM_SIZE, "sections.")
    return header


def _known_section(name: str) -> str:
    """A section's name for an error message: only names this format defines (a batch is
    client input, and the service never repeats what a client sent).

    >>> _known_section("clk"), _known_section("María")
    ('clk', '(desconocida)')
    """
    known = {"record_ref", "clk", "locator", "attributes", *RECORD_SECTIONS}
    return name if name in known else "(desconocida)"


def _parse_attributes(chunk: bytes, n: int) -> Iterator[dict[str, Any]]:
    lines = chunk.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) != n:
        raise InputError("sección attributes: número de líneas incorrecto")
    for i, line in enumerate(lines):
        try:
            obj = _strict_json(line)
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"atributos ilegibles en el registro {i}") from None
        if not isinstance(obj, dict):
            raise InputError(f"atributos inválidos en el registro {i}")
        for key, value in obj.items():
            allowed = ATTRIBUTE_FIELDS.get(key)
            if allowed is None:
                raise InputError(f"atributo no permitido (registro {i}) (attribute not allowed)")
            if not isinstance(value, allowed) or isinstance(value, bool):
                raise InputError(f"atributo {key} con tipo inválido (registro {i})")
        yield obj
