"""Golden digests of everything deterministic that encoding a fixed export produces.

The fixture ``tests/fixtures/encode_golden.csv`` is a small synthetic export (vinculo_lab.synth,
"hard" profile, 5% unusable rows, plus a dozen hand-written rows with quirks: mangled Ñ,
particles, married names, whole names in ``nombres``, check characters, RENIEC UBIGEOs, Excel
serial dates, bad rows). With fixed keys, a fixed ``today`` and fixed chunking, the standardized
records, the rejects report and every batch section but the (randomly sealed) locators must
hash to the values below. They were computed before the encode path was optimised (commit
407e3d3) and must never change by accident: a change here changes every institution's
encodings, so it needs a new schema id, not a new constant, unless it is a standardization
fix that only brings a record closer to its true parts (old and new encodings of a schema
still compare field by field). The one such change so far: whole names in ``nombres`` split
by the words' roles (``client_sdk.standardize.name_roles``; ``clk`` and ``standardized``
changed, docs/linkage.md "Round 4").

Since a row is rejected only when it cannot be linked (no ``record_id``, a duplicate one, no
name), rows the fixture once rejected for one bad field are now encoded without that field
(``NEWLY_KEPT``). The digests in ``GOLDEN`` are taken over the records of the rows that were
valid before, in batch order, and are the original values: those rows' encodings did not move.
``GOLDEN_ALL`` pins the whole batch, the newly kept rows included, and the report.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from client_sdk.pipeline import standardize_export, write_rejects
from client_sdk.record_encoder import RecordEncoder
from client_sdk.records import StandardizedRecord
from vinculo_common.batch import LOCATOR_SIZE, SIGNATURE_SIZE, BatchWriter, read_batch
from vinculo_common.schemas import load_linkage_schema

FIXTURE = Path(__file__).parent / "fixtures" / "encode_golden.csv"
TODAY = date(2027, 1, 1)

# Rows of the fixture rejected before a bad field stopped rejecting the row: still rejected
# (record_id empty or duplicate, no name), or now kept with notes (NEWLY_KEPT).
PREVIOUSLY_REJECTED = frozenset({25, 62, 92, 112, 133, 140, 142, 147, 153, 165, 209, 241, 252,
                                 255, 266, 270, 300, 308, 315, 344, 350, 352, 353, 354, 355, 356})
NEWLY_KEPT = (92, 241, 308, 350, 353, 354, 355)
GOLDEN = {
    "count": 329,
    "clk": "317cff0fc6191567a34ffef9546c3891c142b0e4a783242251d53b78b29777b0",
    "record_ref": "c43913782a45215025e030aa580cdb3fd94565966c4e0aea010a7350ffd1c971",
    "doc_hash": "d95d329ced0d3315005cd1242562a3899bdca65c85ffa7369c358350a6756e3f",
    "attributes": "778c22ed6481dea1e39d55707c8b7e19872fa7258bf81aaced1ad70792e10e76",
    "standardized": "663efa45cc62e97d1ae8d67dc1dfd4b52f58334eac62a6588fa8ff08153b8a90",
}
GOLDEN_ALL: dict[str, object] = {
    "count": 336,
    "newly_kept": NEWLY_KEPT,
    "clk": "25292ae29a7ae80d12fc85ba32e2494d4b48910aecac984763c76f3f3b82d474",
    "record_ref": "f847f4f5a18a30da282810845d28e11f75639bf202f2d6ce44398c227ea8dd50",
    "doc_hash": "33834055c5effccad564468e640376e508ddd7f5da1c74c61d0cefca52f39873",
    "attributes": "414d5195fcd1b0f79906a5c91c4d94aff495939d9936f678397342a93cfe98ee",
    "rejects": "6a8cbd9c6b326bc588b10292118044513b7f667c275e8e6c0942c89c7d76db67",
    "standardized": "6ddf5a8f8499c8214c2214f01faf90f24a0dff419a0a3aa7d879c03926d48a0f",
}


def _record_text(r: StandardizedRecord) -> bytes:
    fields = (
        r.row, r.record_id, r.given_names, r.first_given_name, r.surname_paternal,
        r.surname_maternal, r.married_surname, r.birth_date.iso() if r.birth_date else None,
        r.document_type, r.document_number, r.sex, r.birth_year_min, r.birth_year_max,
        r.age_at_event, r.nationality, r.ubigeo_birth, r.ubigeo_residence, r.ubigeo_event,
        r.event_date.isoformat() if r.event_date else None, r.exploitation,
    )
    return repr(fields).encode() + b"\n"


def golden_digests(tmp: Path, *, by_sections: bool) -> tuple[dict[str, object],
                                                             dict[str, object]]:
    """Encode the fixture with fixed keys; SHA-256 of each deterministic output, over the rows
    valid before (first dict) and over everything (second, with the rejects report)."""
    run = standardize_export(FIXTURE, today=TODAY, chunk_size=100)
    encoder = RecordEncoder(
        schema=load_linkage_schema("vinculo-v1"), linkage_secret=bytes(range(32)),
        record_ref_key=bytes(range(32, 64)),
        box_public=X25519PrivateKey.from_private_bytes(bytes(32)).public_key(),
        policy={"event_date": "month"},
    )
    writer = BatchWriter(
        tmp / "golden.vnb", source="reta", schema_id=encoder.schema_id,
        schema_fingerprint=encoder.schema_fingerprint, secret_check="k",
        clk_bits=encoder.clk_bits, signing_key=Ed25519PrivateKey.from_private_bytes(bytes(32)),
        extra_sections=encoder.extra_sections, now=datetime(2025, 1, 1, tzinfo=UTC),
    )
    standardized: list[bytes] = []
    rows: list[int] = []
    for chunk in run:
        for record in chunk:
            standardized.append(_record_text(record))
            rows.append(record.row)
        if by_sections:
            encoded = encoder.encode_columns(chunk)
            writer.add_many(record_refs=encoded.record_refs, clks=encoded.clks,
                            locators=encoded.locators, attributes=encoded.attributes,
                            extras=encoded.extras)
        else:
            for enc in encoder.encode_chunk(chunk):
                writer.add(record_ref=enc.record_ref, clk=enc.clk, locator=enc.locator,
                           attributes=enc.attributes, extras=enc.extras)
    writer.close()
    write_rejects(tmp / "rejects.csv", run.rejects)
    raw = (tmp / "golden.vnb").read_bytes()
    batch = read_batch(raw)
    body = raw[len(batch.signed_part) + SIGNATURE_SIZE:]
    sections = {s["name"]: body[s["offset"]:s["offset"] + s["length"]]
                for s in batch.header["sections"]}
    assert len(sections.pop("locator")) == batch.record_count * LOCATOR_SIZE
    n = batch.record_count
    assert n == len(rows)
    per_record: dict[str, list[bytes]] = {"standardized": standardized}
    for name, data in sections.items():
        if name == "attributes":
            per_record[name] = data.splitlines(keepends=True)
        else:
            size = len(data) // n
            per_record[name] = [data[i * size:(i + 1) * size] for i in range(n)]
    before = [i for i, row in enumerate(rows) if row not in PREVIOUSLY_REJECTED]

    def digest(items: list[bytes], which: list[int]) -> str:
        return hashlib.sha256(b"".join(items[i] for i in which)).hexdigest()

    old: dict[str, object] = {name: digest(items, before) for name, items in per_record.items()}
    old["count"] = len(before)
    everything: dict[str, object] = {name: digest(items, list(range(n)))
                                     for name, items in per_record.items()}
    everything["count"] = n
    everything["newly_kept"] = tuple(row for row in rows if row in PREVIOUSLY_REJECTED)
    everything["rejects"] = hashlib.sha256((tmp / "rejects.csv").read_bytes()).hexdigest()
    return old, everything


@pytest.mark.parametrize("by_sections", [True, False], ids=["encode_columns", "encode_chunk"])
def test_encoding_of_the_golden_export_never_changes(tmp_path: Path, by_sections: bool) -> None:
    old, everything = golden_digests(tmp_path, by_sections=by_sections)
    assert old == GOLDEN  # the rows valid before encode exactly as they always did
    assert everything["newly_kept"] == NEWLY_KEPT
    assert everything == GOLDEN_ALL


def test_cached_token_masks_equal_clkhash_when_caches_overflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memoised encoder (value and token caches, cleared when full) gives clkhash's bytes.

    Values of one to many letters make the bits-per-feature strategy ask for k from 1 to 95 per
    token, so cached token masks are reused across k and extended past 32 bits (more BLAKE2b
    rounds).
    """
    from client_sdk import clk_backend
    from client_sdk.record_encoder import feature_values

    monkeypatch.setattr(clk_backend, "_CACHE_LIMIT", 7)
    monkeypatch.setattr(clk_backend, "_TOKEN_MASK_LIMIT", 400)
    schema = load_linkage_schema("vinculo-v1")
    names = [f["identifier"] for f in schema["features"]]
    rows = [feature_values(r, names)
            for chunk in standardize_export(FIXTURE, today=TODAY) for r in chunk]
    for text in ("A", "AN", "A B", "ANA MARIA DEL CARMEN DE LOS ANGELES", "Ñ", "B", "AB"):
        document = text.replace(" ", "") if text.isascii() else ""
        rows.append([text, text, text, text, "", "", "", "", document, "F"])
    secret = bytes(range(32))
    encoder = clk_backend.ClkEncoder(schema, secret=secret)
    assert encoder.encode(rows) == clk_backend.reference_clks(rows, schema, secret=secret)
    assert encoder.encode(rows[::-1]) == clk_backend.reference_clks(rows[::-1], schema,
                                                                    secret=secret)
