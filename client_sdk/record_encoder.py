"""Turn standardized records into what leaves the institution: per record the CLK, the record
reference, the sealed locator, the content attributes and the keyed sections the schema
declares (``doc_hash``, ``family``, ``doc_near``). No hashing knobs here: they live in the
versioned linkage schema, applied by ``client_sdk.clk_backend``. What each field is:
docs/encoding.md and schemas/batch-format.md.

"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from client_sdk.clk_backend import ClkEncoder
from client_sdk.family import (
    FamilyKeys,
    doc_near_key,
    doc_near_section,
    family_keys,
    family_section,
)
from client_sdk.hardening import Hardener, salt_values
from client_sdk.records import StandardizedRecord
from client_sdk.standardize.places import UBIGEO_LEVELS
from vinculo_common.batch import ATTRIBUTE_FIELDS, RECORD_SECTIONS, pad_record_id, unpad_record_id
from vinculo_common.crypto import Opener, Sealer
from vinculo_common.errors import InputError, IntegrityError, SchemaMismatch
from vinculo_common.schemas import schema_fingerprint

__all__ = [
    "DOC_HASH_SIZE",
    "EVENT_DATE_LEVELS",
    "LOCATOR_CONTEXT",
    "EncodedChunk",
    "EncodedRecord",
    "RecordEncoder",
    "coarsen_event_date",
    "content_attributes",
    "doc_hash",
    "doc_hash_key",
    "document_class",
    "feature_values",
    "open_locators",
    "record_ref",
]

LOCATOR_CONTEXT = b"vinculo locator v1"
DOC_HASH_SIZE = 32
EVENT_DATE_LEVELS = ("day", "month", "year")
_DOC_HASH_INFO = b"vinculo doc_hash v1"
_DEFAULT_DOCUMENT_CLASSES = {
    "DNI": "DNI", "CE": "CE", "PASAPORTE": "PAS", "PTP": "PTP", "CPP": "PTP", "OTRO": "OTRO",
    "": "OTRO",
}


def record_ref(key: bytes, record_id: str) -> bytes:
    """HMAC-SHA256 of the record_id under the source's record-reference key.

    >>> record_ref(bytes(32), "R-1").hex()[:16]
    '5c13b25d0a0ea926'
    """
    return hmac.digest(key, record_id.encode("utf-8"), "sha256")


def _birth_year(r: StandardizedRecord) -> str:
    if r.birth_date is not None:
        return str(r.birth_date.year)
    low, high = r.birth_year_min, r.birth_year_max
    if low is not None and high is not None:
        return str((low + high) // 2)
    year = low if low is not None else high
    return "" if year is None else str(year)


def _day_month_unordered(r: StandardizedRecord) -> str:
    d = r.birth_date
    if d is None or d.month is None or d.day is None:
        return ""
    a, b = sorted((d.day, d.month))
    return f"{a:02d} {b:02d}"


def _first_given(r: StandardizedRecord) -> str:
    if r.first_given_name:
        return r.first_given_name
    words = r.given_names.split()
    return words[0] if words else ""


def _surnames_unordered(r: StandardizedRecord) -> str:
    paternal, maternal = r.surname_paternal, r.surname_maternal
    if paternal and maternal:
        return f"{maternal} {paternal}" if maternal < paternal else f"{paternal} {maternal}"
    return paternal or maternal


# How each schema feature is derived from a StandardizedRecord. A schema naming any other
# feature is refused: the derivation is code, versioned with the schema id.
FEATURES: dict[str, Callable[[StandardizedRecord], str]] = {
    "given_names": attrgetter("given_names"),
    "first_given_name": _first_given,
    "surnames_unordered": _surnames_unordered,
    "surname_paternal": attrgetter("surname_paternal"),
    "surname_maternal": attrgetter("surname_maternal"),
    "birth_year": _birth_year,
    "birth_month": lambda r: "" if r.birth_date is None or r.birth_date.month is None
    else str(r.birth_date.month),
    "birth_day": lambda r: "" if r.birth_date is None or r.birth_date.day is None
    else str(r.birth_date.day),
    "birth_day_month_unordered": _day_month_unordered,
    "document_number": attrgetter("document_number"),
    "sex": attrgetter("sex"),
}


def feature_values(record: StandardizedRecord, names: Sequence[str]) -> list[str]:
    """The strings clkhash encodes for ``record``, in the schema's feature order.

    >>> from client_sdk.records import PartialDate
    >>> r = StandardizedRecord(row=2, record_id="X", given_names="ANA ROSA",
    ...     surname_paternal="QUISPE", surname_maternal="FLORES", birth_date=PartialDate(1990, 5))
    >>> feature_values(r, ["first_given_name", "surnames_unordered", "birth_year", "birth_day"])
    ['ANA', 'FLORES QUISPE', '1990', '']
    """
    return [FEATURES[name](record) for name in names]


def coarsen_event_date(value: date | None, level: str) -> str:
    """The event date as ISO text at the policy's precision.

    >>> coarsen_event_date(date(2021, 3, 9), "month")
    '2021-03'
    """
    if value is None:
        return ""
    text = value.isoformat()
    return {"day": text, "month": text[:7], "year": text[:4]}[level]


def _check_policy(policy: Mapping[str, str] | None) -> tuple[str, str]:
    policy = dict(policy or {})
    event_level = policy.pop("event_date", "day")
    ubigeo_level = policy.pop("ubigeo", "district")
    if policy:
        raise InputError(f"política de atributos desconocida: {sorted(policy)} (unknown policy)")
    if event_level not in EVENT_DATE_LEVELS:
        raise InputError(
            f"política event_date inválida {event_level!r}: use {'|'.join(EVENT_DATE_LEVELS)}"
        )
    if ubigeo_level not in UBIGEO_LEVELS:
        raise InputError(
            f"política ubigeo inválida {ubigeo_level!r}: use {'|'.join(UBIGEO_LEVELS)}"
        )
    return event_level, ubigeo_level


def content_attributes(
    record: StandardizedRecord, *, policy: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The content attributes sent in clear: exactly ``ATTRIBUTE_FIELDS``, coarsened by policy.

    >>> r = StandardizedRecord(row=2, record_id="X", given_names="ANA", ubigeo_event="150101")
    >>> content_attributes(r, policy={"ubigeo": "department"})["ubigeo_event"]
    '15'
    """
    event_level, ubigeo_level = _check_policy(policy)
    return _attributes(record, event_level, ubigeo_level)


def _attributes(record: StandardizedRecord, event_level: str, ubigeo_level: str) -> dict[str, Any]:
    return _attribute_builder(event_level, ubigeo_level)(record)


def _attribute_builder(
    event_level: str, ubigeo_level: str
) -> Callable[[StandardizedRecord], dict[str, Any]]:
    """``_attributes`` with the policy's cut lengths fixed (the same cuts as
    ``coarsen_event_date`` and ``standardize.places.coarsen_ubigeo``)."""
    cut = UBIGEO_LEVELS[ubigeo_level]
    date_cut = {"day": None, "month": 7, "year": 4}[event_level]

    def build(record: StandardizedRecord) -> dict[str, Any]:
        event = record.event_date
        return {
            "sex": record.sex,
            "birth_year_min": record.birth_year_min,
            "birth_year_max": record.birth_year_max,
            "age_at_event": record.age_at_event,
            "nationality": record.nationality,
            "ubigeo_birth": record.ubigeo_birth[:cut],
            "ubigeo_residence": record.ubigeo_residence[:cut],
            "ubigeo_event": record.ubigeo_event[:cut],
            "event_date": "" if event is None else event.isoformat()[:date_cut],
            "exploitation": list(record.exploitation),
        }

    return build


# The attribute dict is built with a literal key list: check it once against the whitelist.
assert _attributes(StandardizedRecord(row=0, record_id="x"), "day", "district").keys() \
    == ATTRIBUTE_FIELDS.keys()


def doc_hash_key(linkage_secret: bytes) -> bytes:
    """The key of ``doc_hash``, derived from the linkage secret (never the secret itself)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DOC_HASH_INFO).derive(
        linkage_secret
    )


def document_class(
    document_type: str, number: str, classes: Mapping[str, str] = _DEFAULT_DOCUMENT_CLASSES
) -> str:
    """The class a document number is compared within; an untyped 8-digit number is a DNI.

    >>> document_class("CPP", "001234567"), document_class("", "01234567")
    ('PTP', 'DNI')
    """
    if document_type in ("", "OTRO") and len(number) == 8 and number.isdigit():
        return "DNI"
    return classes.get(document_type, "OTRO")


def doc_hash(
    key: bytes, record: StandardizedRecord,
    classes: Mapping[str, str] = _DEFAULT_DOCUMENT_CLASSES,
) -> bytes:
    """Keyed hash of the cleaned document (class + number); zeros when there is none.

    >>> doc_hash(bytes(32), StandardizedRecord(row=2, record_id="X")) == bytes(32)
    True
    """
    if not record.document_number:
        return bytes(DOC_HASH_SIZE)
    klass = document_class(record.document_type, record.document_number, classes)
    message = klass.encode() + b"\x00" + record.document_number.encode("utf-8")
    return hmac.digest(key, message, "sha256")


@dataclass(frozen=True, slots=True)
class EncodedRecord:
    """What one record becomes; nothing here identifies the person without a key."""

    record_ref: bytes
    clk: bytes
    locator: bytes
    attributes: dict[str, Any]
    extras: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EncodedChunk:
    """Encoded records as one list per batch section, in record order (see EncodedRecord)."""

    record_refs: list[bytes]
    clks: list[bytes]
    locators: list[bytes]
    attributes: list[dict[str, Any]]
    extras: dict[str, list[bytes]] = field(default_factory=dict)


class RecordEncoder:
    """Encode chunks of StandardizedRecord for one source under one linkage schema.

    Built once per batch: keys are derived once and one Sealer seals every locator.

    >>> import json
    >>> from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    >>> from vinculo_common.schemas import load_linkage_schema
    >>> enc = RecordEncoder(schema=load_linkage_schema("vinculo-v1"), linkage_secret=bytes(32),
    ...     record_ref_key=bytes(32), box_public=X25519PrivateKey.generate().public_key())
    >>> out = enc.encode_chunk([StandardizedRecord(row=2, record_id="A1", given_names="ANA")])
    >>> len(out[0].clk), len(out[0].locator), sorted(out[0].extras)
    (128, 124, ['doc_hash'])
    """

    def __init__(
        self,
        *,
        schema: dict[str, Any],
        linkage_secret: bytes,
        record_ref_key: bytes,
        box_public: X25519PublicKey,
        policy: Mapping[str, str] | None = None,
    ) -> None:
        meta = schema.get("vinculo")
        if not isinstance(meta, dict) or not meta.get("schema_id"):
            raise SchemaMismatch("el esquema no tiene la sección 'vinculo' con schema_id")
        self.schema_id = str(meta["schema_id"])
        self.schema_fingerprint = schema_fingerprint(schema)
        self._clk = ClkEncoder(schema, secret=linkage_secret)
        unknown = [n for n in self._clk.feature_names if n not in FEATURES]
        if unknown:
            raise SchemaMismatch(
                f"el esquema usa características que esta versión no sabe derivar: {unknown}"
            )
        self.feature_names = self._clk.feature_names
        # Post-processing of the CLK the schema declares (client_sdk.hardening, issue 7).
        self._hardener = Hardener(schema, secret=linkage_secret)
        self.clk_bits = self._hardener.output_bits if self._hardener.active \
            else self._clk.clk_bits
        sections = meta.get("sections") or {}
        unknown_sections = set(sections) - set(RECORD_SECTIONS)
        if unknown_sections:
            raise SchemaMismatch(
                f"secciones desconocidas en el esquema: {sorted(unknown_sections)}"
            )
        self.extra_sections: dict[str, int] = {}
        self._doc_key: bytes | None = None
        self._doc_classes: Mapping[str, str] = _DEFAULT_DOCUMENT_CLASSES
        if "doc_hash" in sections:
            self.extra_sections["doc_hash"] = RECORD_SECTIONS["doc_hash"]
            self._doc_key = doc_hash_key(linkage_secret)
            self._doc_classes = sections["doc_hash"].get("document_classes") or self._doc_classes
        self._family_keys: FamilyKeys | None = None
        if "family" in sections:  # surnames + birth date, given names per family (family.py)
            self.extra_sections["family"] = RECORD_SECTIONS["family"]
            self._family_keys = family_keys(linkage_secret)
        self._near_key: bytes | None = None
        if "doc_near" in sections:  # consecutive DNIs (twins), family.py
            self.extra_sections["doc_near"] = RECORD_SECTIONS["doc_near"]
            self._near_key = doc_near_key(linkage_secret)
        self._ref_key = record_ref_key
        # One keyed HMAC copied per record: the same bytes as record_ref(), without re-keying.
        self._ref_mac = hmac.new(record_ref_key, digestmod="sha256")
        self._levels = _check_policy(policy)
        self._attribute_builder = _attribute_builder(*self._levels)
        self._sealer = Sealer(box_public, LOCATOR_CONTEXT)

    def encode_chunk(self, records: Sequence[StandardizedRecord]) -> list[EncodedRecord]:
        """Encode records in order; the i-th result belongs to the i-th record."""
        chunk = self.encode_columns(records)
        extras = [dict(zip(chunk.extras, values, strict=True))
                  for values in zip(*chunk.extras.values(), strict=True)] if chunk.extras \
            else [{} for _ in records]
        return [
            EncodedRecord(record_ref=ref, clk=clk, locator=locator, attributes=attrs,
                          extras=extra)
            for ref, clk, locator, attrs, extra in zip(
                chunk.record_refs, chunk.clks, chunk.locators, chunk.attributes, extras,
                strict=True)
        ]

    def encode_columns(self, records: Sequence[StandardizedRecord]) -> EncodedChunk:
        """What :meth:`encode_chunk` gives, as one list per batch section (faster to write)."""
        columns = [list(map(FEATURES[name], records)) for name in self.feature_names]
        clks = self._clk.encode_columns(columns)
        ref_mac = self._ref_mac
        refs = []
        for rec in records:
            mac = ref_mac.copy()
            mac.update(rec.record_id.encode("utf-8"))
            refs.append(mac.digest())
        if self._hardener.active and records:
            raw = np.frombuffer(b"".join(clks), dtype=np.uint8).reshape(len(clks), -1)
            salts = (salt_values(records, self._hardener.salt_attributes)
                     if self._hardener.salt_attributes else None)
            hardened = self._hardener.apply(raw, record_keys=refs, salts=salts)
            clks = [row.tobytes() for row in hardened]
        seal = self._sealer.seal
        extras: dict[str, list[bytes]] = {}
        if self._doc_key is not None:
            key, classes = self._doc_key, self._doc_classes
            extras["doc_hash"] = [doc_hash(key, rec, classes) for rec in records]
        if self._family_keys is not None:
            fkeys = self._family_keys
            extras["family"] = [family_section(fkeys, rec) for rec in records]
        if self._near_key is not None:
            near, classes = self._near_key, self._doc_classes
            extras["doc_near"] = [
                doc_near_section(near, document_class(rec.document_type, rec.document_number,
                                                      classes), rec.document_number)
                for rec in records
            ]
        return EncodedChunk(
            record_refs=refs,
            clks=clks,
            locators=[seal(pad_record_id(rec.record_id), aad=ref)
                      for rec, ref in zip(records, refs, strict=True)],
            attributes=list(map(self._attribute_builder, records)),
            extras=extras,
        )


def open_locators(
    keys_dir: Path,
    source: str,
    locators: Sequence[bytes] | np.ndarray,
    record_refs: Sequence[bytes] | np.ndarray,
) -> list[str]:
    """Open sealed locators with the source's own keys; return the local record ids in order.

    Each opened id is checked against its record_ref (HMAC under the source's key), so a
    locator forged by anyone holding only the public key is refused (IntegrityError).
    """
    from client_sdk.keys import load_box_private, load_record_ref_key

    if len(locators) != len(record_refs):
        raise InputError("locators y record_refs deben tener la misma longitud")
    opener = Opener(load_box_private(keys_dir, source), LOCATOR_CONTEXT)
    ref_key = load_record_ref_key(keys_dir, source)
    ids = []
    for i, (sealed, ref) in enumerate(zip(locators, record_refs, strict=True)):
        sealed_b, ref_b = bytes(sealed), bytes(ref)
        record_id = unpad_record_id(opener.open(sealed_b, aad=ref_b))
        if not hmac.compare_digest(record_ref(ref_key, record_id), ref_b):
            raise IntegrityError(
                f"localizador {i} no corresponde a su referencia (locator/record_ref mismatch)"
            )
        ids.append(record_id)
    return ids
