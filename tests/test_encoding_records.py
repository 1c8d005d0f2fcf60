"""Record-level encoding: CLK features, record_ref, sealed locators, attributes, doc_hash,
and a batch's signature, fingerprint and secret check value."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from client_sdk import keys as K
from client_sdk.record_encoder import (
    RecordEncoder,
    content_attributes,
    doc_hash,
    open_locators,
    record_ref,
)
from client_sdk.records import PartialDate, StandardizedRecord
from vinculo_common.batch import ATTRIBUTE_FIELDS, LOCATOR_SIZE, BatchWriter, read_batch
from vinculo_common.crypto import Sealer
from vinculo_common.errors import InputError, IntegrityError, SchemaMismatch
from vinculo_common.schemas import known_fingerprints, load_linkage_schema

ANA = StandardizedRecord(
    row=2, record_id="RETA-000123", given_names="ANA ROSA", first_given_name="ANA",
    surname_paternal="QUISPE", surname_maternal="MAMANI", birth_date=PartialDate(2004, 3, 17),
    document_type="DNI", document_number="45781236", sex="F", birth_year_min=2004,
    birth_year_max=2004, age_at_event=16, nationality="PER", ubigeo_birth="080101",
    ubigeo_residence="170101", ubigeo_event="170101", event_date=date(2020, 9, 14),
    exploitation=("sexual",),
)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("keys")
    K.init_keys(keys_dir=root, sources=["reta", "sistra"])
    return root


def _encoder(keys_dir: Path, source: str = "reta", policy: dict | None = None) -> RecordEncoder:
    return RecordEncoder(
        schema=load_linkage_schema("vinculo-v1"),
        linkage_secret=K.load_linkage_secret(keys_dir),
        record_ref_key=K.load_record_ref_key(keys_dir, source),
        box_public=K.load_box_public(keys_dir, source),
        policy=policy,
    )


def _dice(a: bytes, b: bytes) -> float:
    x, y = np.unpackbits(np.frombuffer(a, np.uint8)), np.unpackbits(np.frombuffer(b, np.uint8))
    return 2 * int((x & y).sum()) / max(int(x.sum() + y.sum()), 1)


def test_swapped_surnames_and_partial_dates(keys_dir: Path) -> None:
    enc = _encoder(keys_dir)
    swapped = replace(ANA, surname_paternal="MAMANI", surname_maternal="QUISPE")
    no_day = replace(ANA, birth_date=PartialDate(2004, 3))
    other = replace(ANA, given_names="LUZ", first_given_name="LUZ", surname_paternal="FLORES",
                    surname_maternal="HUAMAN", birth_date=PartialDate(1999, 11, 2),
                    document_number="10293847")
    base, sw, nd, ot = (e.clk for e in enc.encode_chunk([ANA, swapped, no_day, other]))
    assert _dice(base, sw) > 0.9  # only the paternal-surname feature differs
    assert 0.9 < _dice(base, nd) < 1.0
    assert _dice(base, ot) < 0.6
    again = _encoder(keys_dir).encode_chunk([ANA])[0]
    assert again.clk == base and again.record_ref == record_ref(
        K.load_record_ref_key(keys_dir, "reta"), ANA.record_id)


def test_locators_open_only_with_the_sources_keys(keys_dir: Path) -> None:
    encoded = _encoder(keys_dir).encode_chunk([ANA, replace(ANA, record_id="RETA-000124")])
    locators = [e.locator for e in encoded]
    refs = [e.record_ref for e in encoded]
    assert all(len(x) == LOCATOR_SIZE for x in locators)
    assert locators[0] != _encoder(keys_dir).encode_chunk([ANA])[0].locator  # randomised
    assert open_locators(keys_dir, "reta", locators, refs) == ["RETA-000123", "RETA-000124"]
    with pytest.raises(IntegrityError):
        open_locators(keys_dir, "sistra", locators, refs)  # another source's keys
    with pytest.raises(IntegrityError):
        open_locators(keys_dir, "reta", locators, refs[::-1])  # locator moved to another ref
    # Anyone can seal to the public key; a forged locator fails the record_ref check.
    fake_ref = bytes(32)
    from vinculo_common.batch import pad_record_id

    forged = Sealer(K.load_box_public(keys_dir, "reta"), b"vinculo locator v1").seal(
        pad_record_id("RETA-999999"), aad=fake_ref)
    with pytest.raises(IntegrityError, match="referencia"):
        open_locators(keys_dir, "reta", [forged], [fake_ref])


def test_attributes_are_exactly_the_whitelist_and_coarsened() -> None:
    attrs = content_attributes(ANA)
    assert set(attrs) == set(ATTRIBUTE_FIELDS)
    assert attrs["event_date"] == "2020-09-14" and attrs["ubigeo_birth"] == "080101"
    coarse = content_attributes(ANA, policy={"event_date": "month", "ubigeo": "province"})
    assert coarse["event_date"] == "2020-09" and coarse["ubigeo_event"] == "1701"
    year = content_attributes(ANA, policy={"event_date": "year", "ubigeo": "department"})
    assert (year["event_date"], year["ubigeo_residence"]) == ("2020", "17")
    with pytest.raises(InputError, match="event_date"):
        content_attributes(ANA, policy={"event_date": "week"})
    with pytest.raises(InputError, match="desconocida"):
        content_attributes(ANA, policy={"names": "clear"})


def test_doc_hash_classes(keys_dir: Path) -> None:
    key = bytes(32)
    untyped = replace(ANA, document_type="")
    passport = replace(ANA, document_type="PASAPORTE")
    assert doc_hash(key, ANA) == doc_hash(key, untyped)  # 8 digits without type: a DNI
    assert doc_hash(key, ANA) != doc_hash(key, passport)
    assert doc_hash(key, replace(ANA, document_type="PTP", document_number="A1")) == \
        doc_hash(key, replace(ANA, document_type="CPP", document_number="A1"))
    assert doc_hash(key, replace(ANA, document_number="")) == bytes(32)
    enc = _encoder(keys_dir).encode_chunk([ANA])[0]
    assert enc.extras["doc_hash"] != doc_hash(key, ANA)  # keyed by the linkage secret


def test_schema_with_unknown_feature_or_section_is_refused(keys_dir: Path) -> None:
    schema = load_linkage_schema("vinculo-v1")
    schema["features"][0]["identifier"] = "mothers_name"
    with pytest.raises(SchemaMismatch, match="mothers_name"):
        RecordEncoder(schema=schema, linkage_secret=bytes(32), record_ref_key=bytes(32),
                      box_public=K.load_box_public(keys_dir, "reta"))
    schema = load_linkage_schema("vinculo-v1")
    schema["vinculo"]["sections"]["name_hash"] = {}
    with pytest.raises(SchemaMismatch, match="name_hash"):
        RecordEncoder(schema=schema, linkage_secret=bytes(32), record_ref_key=bytes(32),
                      box_public=K.load_box_public(keys_dir, "reta"))


def test_batch_signature_fingerprint_and_check_value(keys_dir: Path, tmp_path: Path) -> None:
    enc = _encoder(keys_dir)
    writer = BatchWriter(
        tmp_path / "b.vnb", source="reta", schema_id=enc.schema_id,
        schema_fingerprint=enc.schema_fingerprint, secret_check=K.load_linkage_kcv(keys_dir),
        clk_bits=enc.clk_bits, signing_key=K.load_signing_key(keys_dir, "reta"),
        extra_sections=enc.extra_sections,
    )
    records = [ANA, replace(ANA, record_id="RETA-2", document_number="")]
    for e in enc.encode_chunk(records):
        writer.add(record_ref=e.record_ref, clk=e.clk, locator=e.locator,
                   attributes=e.attributes, extras=e.extras)
    header = writer.close()
    batch = read_batch(tmp_path / "b.vnb")
    assert header["schema_id"] == "vinculo-v1"
    assert known_fingerprints()[batch.header["schema_fingerprint"]] == "vinculo-v1"
    batch.verify_signature(K.load_signing_public(keys_dir, "reta"))
    with pytest.raises(IntegrityError):
        batch.verify_signature(K.load_signing_public(keys_dir, "sistra"))
    batch.check_compatible(schema_fingerprints=set(known_fingerprints()),
                           secret_check=K.load_linkage_kcv(keys_dir))
    assert batch.extras["doc_hash"].shape == (2, 32) and not batch.extras["doc_hash"][1].any()
    assert open_locators(keys_dir, "reta", batch.locators, batch.record_refs) == \
        ["RETA-000123", "RETA-2"]
