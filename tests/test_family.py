"""The ``family`` and ``doc_near`` sections (schema vinculo-v3): what the SDK sends, what the
service compares, and how the clustering keeps twins apart. Synthetic people only."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from client_sdk.family import (
    FAMILY_SIZE,
    doc_near_key,
    doc_near_section,
    family_keys,
    family_section,
)
from client_sdk.record_encoder import RecordEncoder
from client_sdk.records import PartialDate, StandardizedRecord
from linkage_service.linkage.clustering import ScoredPairs, cluster
from linkage_service.linkage.comparisons import PairAttributes, compare_pairs
from linkage_service.linkage.scoring import (
    APART,
    FellegiSunterModel,
    apart_mask,
    constrained_probability,
)
from vinculo_common.schemas import load_linkage_schema

SECRET = bytes(range(32))
KEYS = family_keys(SECRET)
ROSA = StandardizedRecord(
    row=2, record_id="R-1", given_names="ROSA DIANA", first_given_name="ROSA",
    surname_paternal="GONZALES", surname_maternal="QUISPICUSI",
    birth_date=PartialDate(1990, 3, 1), document_type="DNI", document_number="57251228",
)


def _section(record: StandardizedRecord) -> np.ndarray:
    return np.frombuffer(family_section(KEYS, record), dtype=np.uint8)


def test_family_hash_ignores_surname_order_and_day_month_order() -> None:
    swapped = replace(ROSA, surname_paternal="QUISPICUSI", surname_maternal="GONZALES")
    day_month = replace(ROSA, birth_date=PartialDate(1990, 1, 3))
    other_day = replace(ROSA, birth_date=PartialDate(1990, 3, 2))
    base = _section(ROSA)
    assert (_section(swapped) == base).all()
    assert (_section(day_month) == base).all()
    assert (_section(other_day)[:32] != base[:32]).any()


@pytest.mark.parametrize("change", [
    {"surname_maternal": ""}, {"birth_date": PartialDate(1990, 3, None)}, {"birth_date": None},
    {"given_names": "", "first_given_name": ""},
])
def test_incomplete_records_send_zeros(change: dict[str, object]) -> None:
    assert family_section(KEYS, replace(ROSA, **change)) == bytes(FAMILY_SIZE)  # type: ignore[arg-type]


def test_keyed_by_the_secret_and_salted_by_the_family() -> None:
    other_secret = family_section(family_keys(bytes(32)), ROSA)
    assert other_secret != family_section(KEYS, ROSA)
    # The same given names in another family set other bits: a bit's frequency across the
    # bank says nothing about a name.
    namesake = replace(ROSA, surname_paternal="ROJAS")
    assert (_section(namesake)[32:] != _section(ROSA)[32:]).any()
    # No HMAC of a plain name under any key the service could hold is in the section.
    raw = family_section(KEYS, ROSA)
    assert hmac.digest(bytes(32), b"ROSA", "sha256")[:16] not in raw
    assert b"ROSA" not in raw and b"GONZALES" not in raw


def test_doc_near_shows_only_consecutive_dnis() -> None:
    key = doc_near_key(SECRET)

    def near(a: str, b: str) -> bool:
        x, y = doc_near_section(key, "DNI", a), doc_near_section(key, "DNI", b)
        return x[:16] == y[:16] or x[16:] == y[16:]

    assert near("57251228", "57251229") and near("57251229", "57251230")  # a carry, too
    assert near("57251229", "57251228")
    assert not near("57251228", "57251230") and not near("57251228", "57251238")
    assert doc_near_section(key, "PAS", "57251228") == bytes(32)
    assert doc_near_section(key, "DNI", "5725122") == bytes(32)


def _encoder(schema_id: str) -> RecordEncoder:
    return RecordEncoder(schema=load_linkage_schema(schema_id), linkage_secret=SECRET,
                         record_ref_key=bytes(32),
                         box_public=X25519PrivateKey.generate().public_key())


def test_encoder_writes_the_sections_of_schema_v3() -> None:
    enc = _encoder("vinculo-v3")
    out = enc.encode_chunk([ROSA])
    assert sorted(out[0].extras) == ["doc_hash", "doc_near", "family"]
    assert enc.extra_sections == {"doc_hash": 32, "family": 64, "doc_near": 32}
    assert out[0].extras["family"] == family_section(KEYS, ROSA)
    assert sorted(_encoder("vinculo-v1").encode_chunk([ROSA])[0].extras) == ["doc_hash"]


def _attributes(records: list[StandardizedRecord]) -> PairAttributes:
    key = doc_near_key(SECRET)
    family = np.stack([_section(r) for r in records])
    near = np.stack([np.frombuffer(doc_near_section(key, "DNI", r.document_number), np.uint8)
                     for r in records])
    docs = np.stack([np.frombuffer(hmac.digest(SECRET, r.document_number.encode(), "sha256"),
                                   np.uint8) if r.document_number else np.zeros(32, np.uint8)
                     for r in records])
    return PairAttributes(sources=np.arange(len(records)), family=family, doc_near=near,
                          doc_hash=docs)


def test_family_and_document_levels() -> None:
    twin = replace(ROSA, record_id="R-2", given_names="BERTHA", first_given_name="BERTHA",
                   document_number="57251229")
    same_twice = replace(ROSA, record_id="R-3", given_names="ROSA", first_given_name="ROSA",
                         document_number="")
    namesake = replace(ROSA, record_id="R-4", surname_paternal="ROJAS",
                       document_number="12345678")
    lacks_date = replace(ROSA, record_id="R-5", birth_date=None, document_number="57251228")
    attrs = _attributes([ROSA, twin, same_twice, namesake, lacks_date])
    left = np.zeros(4, dtype=np.int64)
    right = np.arange(1, 5)
    v = compare_pairs(left=left, right=right, dice=np.full(4, 0.85), attributes=attrs)
    assert v["family"].tolist() == [2, 0, 1, -1]  # far given names, close, other family, none
    assert v["doc_hash"].tolist() == [3, -1, 1, 0]  # consecutive DNIs, none, different, equal
    low = compare_pairs(left=left, right=right, dice=np.full(4, 0.72), attributes=attrs)
    assert low["doc_hash"].tolist() == [3, -1, 2, 0]  # two DNIs far apart in the encoding


def test_a_low_dice_difference_against_another_document_keeps_nobody_apart() -> None:
    passport = replace(ROSA, record_id="R-6", document_type="PASAPORTE", document_number="X12345")
    attrs = _attributes([ROSA, passport])
    attrs = replace(attrs, doc_near=np.stack([attrs.doc_near[0], np.zeros(32, np.uint8)]))
    v = compare_pairs(left=np.array([0]), right=np.array([1]), dice=np.array([0.72]),
                      attributes=attrs)
    assert v["doc_hash"].tolist() == [4]
    mask = apart_mask(v)
    assert mask is not None and not mask.any()


def test_twins_are_never_one_person_even_through_a_third_record() -> None:
    # 0 and 1 are twins (far given names under one family); 2 links strongly to both.
    levels = {"family": np.array([2, -1, -1]), "dice": np.array([6, 8, 8])}
    model = FellegiSunterModel(prior=0.5, m={"dice": [0.1] * 8 + [0.2]},
                               u={"dice": [0.2] * 8 + [0.01]})
    levels["dice"] = np.array([8, 8, 8])
    prob = constrained_probability(model, levels)
    assert prob[0] <= 1e-3 and prob[1] > 0.9 and prob[2] > 0.9
    left, right = np.array([0, 0, 1]), np.array([1, 2, 2])
    mask = apart_mask(levels)
    assert mask is not None and mask.tolist() == [True, False, False]
    split = cluster(n=3, pairs=ScoredPairs(left=left, right=right, probability=prob, apart=mask),
                    existing_labels=[None] * 3)
    assert split.labels[0] != split.labels[1]
    assert any(why == "cannot_link" for *_, why in split.refused)
    chained = cluster(n=3, pairs=ScoredPairs(left=left, right=right, probability=prob),
                      existing_labels=[None] * 3)
    assert len(set(chained.labels.tolist())) == 1  # without the rule, the chain joins them
    # A person the bank already holds is not dissolved by such evidence (only a reviewer's
    # cannot-link splits a person).
    kept = cluster(n=3, pairs=ScoredPairs(left=left, right=right, probability=prob, apart=mask),
                   existing_labels=["P1", "P1", None])
    assert kept.labels[0] == kept.labels[1] == "P1"
    assert APART["family"] == (2,)


def test_identity_evidence_overrides_a_sex_or_birth_year_recorded_wrongly() -> None:
    model = FellegiSunterModel(prior=0.5, m={"dice": [0.1] * 9}, u={"dice": [0.1] * 9})
    levels = {
        "dice": np.array([0, 0, 0, 0, 8]),
        "sex": np.array([1, 1, 1, 1, 1]),
        "birth_year": np.array([3, 0, 0, 0, 0]),
        "doc_hash": np.array([0, 0, 1, -1, -1]),
        "family": np.array([-1, -1, -1, 0, -1]),
    }
    p = constrained_probability(model, levels).tolist()
    # equal document / equal document / different one / same family, close names / Dice ≥ 0.89
    assert p == [0.5, 0.5, 1e-3, 0.5, 0.5]


def test_places_and_dates_alone_never_link_distant_encodings() -> None:
    model = FellegiSunterModel(prior=0.5, m={"dice": [0.1] * 9, "ubigeo_event": [0.9, 0.1]},
                               u={"dice": [0.1] * 9, "ubigeo_event": [0.01, 0.99]})
    levels = {
        "dice": np.array([0, 0, 0, 1]),
        "ubigeo_event": np.array([0, 0, 0, 0]),
        "doc_hash": np.array([-1, 0, -1, -1]),
        "family": np.array([-1, -1, 0, -1]),
    }
    p = constrained_probability(model, levels)
    assert p[0] == 1e-3  # Dice below 0.74: the same district is not enough
    assert p[1] > 0.9 and p[2] > 0.9 and p[3] > 0.9  # an equal document or family, or Dice


def test_sections_follow_the_published_construction() -> None:
    """schemas/batch-format.md, recomputed here from its text (and pinned)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(SECRET)

    f = b"GONZALES|QUISPICUSI|1990|01|03"
    given_key = derive(b"vinculo family given v1")

    def filt(text: str) -> bytes:
        bits = bytearray(16)
        seed = hashlib.blake2b(f, key=given_key).digest()
        padded = f" {text} "
        for i in range(len(padded) - 1):
            d = hashlib.blake2b(padded[i:i + 2].encode(), key=seed, digest_size=4).digest()
            for j in (d[1] % 128, d[3] % 128):
                bits[j // 8] |= 1 << (7 - j % 8)
        return bytes(bits)

    expected = (hmac.digest(derive(b"vinculo family hash v1"), f, "sha256")
                + filt("ROSA") + filt("ROSA DIANA"))
    assert family_section(KEYS, ROSA) == expected
    assert expected.hex() == ("32e182f81d4617fc85c4d4629f87d9cfde594ca186966fb6c7c46c8184c9414e"
                              "02000014001800000021040200001000020002540018008882210c0240001020")
    near_key = derive(b"vinculo doc_near v1")
    n = 57251228
    near = (hashlib.blake2b(b"DNI\x000\x00" + str(n // 2).encode(), key=near_key,
                            digest_size=16).digest()
            + hashlib.blake2b(b"DNI\x001\x00" + str((n + 1) // 2).encode(), key=near_key,
                              digest_size=16).digest())
    assert doc_near_section(doc_near_key(SECRET), "DNI", str(n)) == near
    assert near.hex() == "f83e9433015568e3c2ecc6b128003a5984572444af51507149229551e5c074c1"
