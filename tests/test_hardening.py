"""Hardening transforms (client_sdk.hardening): deterministic under the linkage secret,
different under another secret, declared by the schema, refused when the schema differs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from client_sdk import hardening
from client_sdk.record_encoder import RecordEncoder, record_ref
from client_sdk.records import PartialDate, StandardizedRecord
from linkage_service.linkage import LinkInputs, LinkParams, link
from vinculo_common.batch import LOCATOR_SIZE, BatchWriter, read_batch
from vinculo_common.errors import InputError, SchemaMismatch
from vinculo_common.schemas import (
    dice_calibration,
    dice_calibration_of,
    load_linkage_schema,
    schema_fingerprint,
)
from vinculo_lab.synthetic_clks import synthetic_registries

SECRET_A = b"A" * 32
SECRET_B = b"B" * 32


def _clks(n: int = 40, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, 1024)) < 0.45).astype(np.uint8).reshape(n, 128, 8).dot(
        1 << np.arange(7, -1, -1)).astype(np.uint8)


def _schema(*steps: dict) -> dict:
    schema = load_linkage_schema("vinculo-v1")
    schema["vinculo"]["schema_id"] = "test-hardened"
    schema["vinculo"]["hardening"] = {"steps": list(steps)}
    return schema


def _ones(a: np.ndarray) -> np.ndarray:
    return np.unpackbits(a, axis=1).sum(axis=1)


def test_xor_fold_halves_and_xors() -> None:
    c = _clks()
    out = hardening.xor_fold(c)
    assert out.shape == (40, 64)
    assert (out == (c[:, :64] ^ c[:, 64:])).all()
    assert hardening.xor_fold(c, folds=2).shape == (40, 32)
    with pytest.raises(InputError):
        hardening.xor_fold(np.zeros((1, 3), dtype=np.uint8))


def test_balance_constant_weight_and_keyed() -> None:
    c = _clks()
    a = hardening.balance(c, key=SECRET_A)
    assert a.shape == (40, 256)
    assert (_ones(a) == 1024).all()
    assert (a == hardening.balance(c, key=SECRET_A)).all()
    assert not (a == hardening.balance(c, key=SECRET_B)).all()
    # Hamming distances are kept (doubled): Dice on balanced filters is 1 - d/L.
    d_in = _ones(c[:1] ^ c[1:2])[0]
    d_out = _ones(a[:1] ^ a[1:2])[0]
    assert d_out == 2 * d_in


def test_blip_rate_stability_and_key() -> None:
    c = _clks(200)
    refs = [bytes([i % 256, i // 256]) for i in range(200)]
    a = hardening.blip(c, key=SECRET_A, f=0.1, record_keys=refs)
    flipped = _ones(a ^ c).sum() / (200 * 1024)
    assert 0.035 < flipped < 0.065  # f/2 = 0.05 of the bits change
    assert (a == hardening.blip(c, key=SECRET_A, f=0.1, record_keys=refs)).all()
    assert not (a == hardening.blip(c, key=SECRET_B, f=0.1, record_keys=refs)).all()
    # Identical filters of different records get different noise.
    twins = np.repeat(c[:1], 2, axis=0)
    t = hardening.blip(twins, key=SECRET_A, f=0.1, record_keys=[b"r1", b"r2"])
    assert not (t[0] == t[1]).all()
    with pytest.raises(InputError):
        hardening.blip(c, key=SECRET_A, f=1.5)


def test_salt_same_salt_comparable_other_salt_not() -> None:
    c = np.repeat(_clks(1), 3, axis=0)
    out = hardening.salt_permute(c, key=SECRET_A, salts=["y=1990", "y=1990", "y=1991"])
    assert (out[0] == out[1]).all()
    assert not (out[0] == out[2]).all()
    assert (_ones(out) == _ones(c)).all()
    unsalted = hardening.salt_permute(c, key=SECRET_A, salts=["", "", ""])
    assert (unsalted == c).all()
    other = hardening.salt_permute(c, key=SECRET_B, salts=["y=1990"] * 3)
    assert not (other[0] == out[0]).all()


def test_salt_values_fall_back_to_coarser_attribute() -> None:
    recs = [
        StandardizedRecord(row=2, record_id="a", birth_date=PartialDate(1990, 5, 1), sex="F"),
        StandardizedRecord(row=3, record_id="b", birth_year_min=1990, birth_year_max=1991,
                           sex="F"),
        StandardizedRecord(row=4, record_id="c"),
    ]
    assert hardening.salt_values(recs, ["birth_year", "birth_decade", "sex"]) == [
        "birth_year=1990", "birth_decade=199", ""]


def test_diffusion_is_linear_keyed_and_sized() -> None:
    c = _clks(4)
    a = hardening.diffuse(c, key=SECRET_A, t=3, output_bits=2048)
    assert a.shape == (4, 256)
    xor_in = hardening.diffuse(c[:1] ^ c[1:2], key=SECRET_A, t=3, output_bits=2048)
    assert (xor_in[0] == (a[0] ^ a[1])).all()
    assert (a == hardening.diffuse(c, key=SECRET_A, t=3, output_bits=2048)).all()
    assert not (a == hardening.diffuse(c, key=SECRET_B, t=3, output_bits=2048)).all()


def test_hardener_derives_keys_from_secret() -> None:
    schema = _schema({"type": "blip", "f": 0.05}, {"type": "diffusion", "t": 2})
    c = _clks()
    refs = [bytes([i]) for i in range(40)]
    a = hardening.apply(c, schema, SECRET_A, record_keys=refs)
    assert (a == hardening.apply(c, schema, SECRET_A, record_keys=refs)).all()
    assert not (a == hardening.apply(c, schema, SECRET_B, record_keys=refs)).all()
    assert hardening.output_bits(schema) == 1024
    # No hardening block: unchanged.
    assert (hardening.apply(c, load_linkage_schema("vinculo-v1"), SECRET_A) == c).all()


@pytest.mark.parametrize("steps", [
    [{"type": "rot13"}],
    [{"type": "blip", "f": 0}],
    [{"type": "blip", "f": 0.1, "extra": 1}],
    [{"type": "xor_fold", "folds": 5}],
    [{"type": "diffusion", "t": 3, "output_bits": 1000}],
    [{"type": "salt", "attributes": ["document_number"]}],
    [],
])
def test_bad_hardening_declarations_refused(steps: list) -> None:
    with pytest.raises(SchemaMismatch):
        hardening.hardening_steps(_schema(*steps) if steps else
                                  {**_schema(), "vinculo": {"hardening": {"steps": []}}})


def test_salt_step_needs_salts() -> None:
    h = hardening.Hardener(_schema({"type": "salt", "attributes": ["birth_year"]}),
                           secret=SECRET_A)
    with pytest.raises(InputError):
        h.apply(_clks())


def _encoder(schema: dict) -> RecordEncoder:
    return RecordEncoder(schema=schema, linkage_secret=SECRET_A, record_ref_key=bytes(32),
                         box_public=X25519PrivateKey.generate().public_key())


RECORDS = [
    StandardizedRecord(row=2, record_id="A1", given_names="ROSA", first_given_name="ROSA",
                       surname_paternal="QUISPE", birth_date=PartialDate(1990, 5, 2), sex="F"),
    StandardizedRecord(row=3, record_id="A2", given_names="ANA", first_given_name="ANA",
                       surname_paternal="FLORES", sex="F"),
]


def test_record_encoder_applies_declared_hardening() -> None:
    plain = _encoder(load_linkage_schema("vinculo-v1")).encode_chunk(RECORDS)
    schema = _schema({"type": "salt", "attributes": ["birth_year"]}, {"type": "balance"},
                     {"type": "blip", "f": 0.02})
    enc = _encoder(schema)
    assert enc.clk_bits == 2048
    hard = enc.encode_chunk(RECORDS)
    raw = np.frombuffer(b"".join(r.clk for r in plain), dtype=np.uint8).reshape(2, -1)
    expected = hardening.apply(raw, schema, SECRET_A,
                               record_keys=[record_ref(bytes(32), r.record_id) for r in RECORDS],
                               salts=["birth_year=1990", ""])
    assert [r.clk for r in hard] == [row.tobytes() for row in expected]
    assert [r.clk for r in _encoder(schema).encode_chunk(RECORDS)] == [r.clk for r in hard]


def test_batch_hardened_otherwise_is_refused(tmp_path: Path) -> None:
    schema_a = _schema({"type": "balance"}, {"type": "blip", "f": 0.02})
    schema_b = _schema({"type": "balance"}, {"type": "blip", "f": 0.05})
    schema_c = copy.deepcopy(schema_a)
    schema_c["vinculo"]["hardening"]["steps"].reverse()
    fps = {schema_fingerprint(s) for s in (schema_a, schema_b, schema_c)}
    assert len(fps) == 3
    enc = _encoder(schema_a)
    out = tmp_path / "a.vnb"
    writer = BatchWriter(out, source="reta", schema_id=enc.schema_id,
                         schema_fingerprint=enc.schema_fingerprint, secret_check="k",
                         clk_bits=enc.clk_bits, signing_key=Ed25519PrivateKey.generate(),
                         extra_sections=enc.extra_sections)
    for r in enc.encode_chunk(RECORDS):
        writer.add(record_ref=r.record_ref, clk=r.clk, locator=r.locator[:LOCATOR_SIZE],
                   attributes=r.attributes, extras=r.extras)
    writer.close()
    batch = read_batch(out)
    assert batch.clks.shape == (2, 256)
    batch.check_compatible(schema_fingerprints={schema_fingerprint(schema_a)}, secret_check="k")
    for other in (schema_b, schema_c, load_linkage_schema("vinculo-v1")):
        with pytest.raises(SchemaMismatch):
            batch.check_compatible(schema_fingerprints={schema_fingerprint(other)},
                                   secret_check="k")


def test_vinculo_v2_declares_diffusion_and_encodes() -> None:
    v2 = load_linkage_schema("vinculo-v2")
    assert hardening.hardening_steps(v2) == (
        hardening.HardeningStep("diffusion", {"t": 2, "output_bits": 1024}),)
    v1 = load_linkage_schema("vinculo-v1")
    assert {k: v for k, v in v2.items() if k != "vinculo"} == \
        {k: v for k, v in v1.items() if k != "vinculo"}
    enc = _encoder(v2)
    assert enc.clk_bits == 1024 and enc.schema_id == "vinculo-v2"
    a = [r.clk for r in enc.encode_chunk(RECORDS)]
    assert a == [r.clk for r in _encoder(v2).encode_chunk(RECORDS)]
    assert a != [r.clk for r in _encoder(v1).encode_chunk(RECORDS)]
    assert schema_fingerprint(v2) != schema_fingerprint(v1)


def test_vinculo_v4_is_v3_with_diffusion_and_its_calibration() -> None:
    v3, v4 = load_linkage_schema("vinculo-v3"), load_linkage_schema("vinculo-v4")
    assert {k: v for k, v in v4.items() if k != "vinculo"} == \
        {k: v for k, v in v3.items() if k != "vinculo"}
    assert {k: v for k, v in v4["vinculo"].items() if k not in ("schema_id", "hardening",
                                                                  "linkage")} == \
        {k: v for k, v in v3["vinculo"].items() if k != "schema_id"}
    assert hardening.hardening_steps(v4) == (
        hardening.HardeningStep("diffusion", {"t": 2, "output_bits": 1024}),)
    knots = dice_calibration(v4)
    assert knots is not None and knots[0] == (0.0, 0.0) and knots[-1] == (1.0, 1.0)
    # Diffusion compresses Dice: every inner knot's stored Dice is below its reference Dice,
    # by about what t = 2 on CLKs with 46 % of bits set predicts (0.7 → 0.60, 0.9 → 0.83).
    assert all(s < r for s, r in knots[1:-1])
    reference = {r: s for s, r in knots}
    assert abs(reference[0.7] - 0.60) < 0.02 and abs(reference[0.9] - 0.83) < 0.02
    assert dice_calibration(v3) is None and dice_calibration_of("vinculo-v4") == knots
    assert _encoder(v4).clk_bits == 1024


def test_vinculo_v5_is_v4_with_t4_diffusion_and_its_calibration() -> None:
    """vinculo-v5 (issue 16): v4's features, sections and size; the diffusion XORs t = 4 CLK
    bits instead of 2, with knots fitted for it."""
    v4, v5 = load_linkage_schema("vinculo-v4"), load_linkage_schema("vinculo-v5")
    assert {k: v for k, v in v5.items() if k != "vinculo"} == \
        {k: v for k, v in v4.items() if k != "vinculo"}
    assert {k: v for k, v in v5["vinculo"].items() if k not in ("schema_id", "hardening",
                                                                  "linkage")} == \
        {k: v for k, v in v4["vinculo"].items() if k not in ("schema_id", "hardening",
                                                               "linkage")}
    assert v5["vinculo"]["schema_id"] == "vinculo-v5"
    assert hardening.hardening_steps(v5) == (
        hardening.HardeningStep("diffusion", {"t": 4, "output_bits": 1024}),)
    knots = dice_calibration(v5)
    assert knots is not None and knots[0] == (0.0, 0.0) and knots[-1] == (1.0, 1.0)
    assert knots != dice_calibration(v4)
    # t = 4 on CLKs with 46 % of bits set: 1 − 2h' = (1 − 2h)^4, so CLK Dice 0.7 → 0.52 and
    # 0.9 → 0.72 on the stored bits (strangers flatten to 0.5, true pairs stay apart).
    assert all(s < r for s, r in knots if 0.5 < r < 1.0)
    reference = {r: s for s, r in knots}
    assert abs(reference[0.7] - 0.52) < 0.02 and abs(reference[0.9] - 0.72) < 0.02
    assert dice_calibration_of("vinculo-v5") == knots


def test_vinculo_v5_encodings_are_v3_clks_diffused_and_never_change() -> None:
    """The SDK's v5 encodings are the v3 CLKs through the declared layer under the secret's
    key, 128 bytes each; their digest is pinned (a change needs a new schema id)."""
    import hashlib

    v3, v5 = load_linkage_schema("vinculo-v3"), load_linkage_schema("vinculo-v5")
    enc = _encoder(v5)
    assert enc.clk_bits == 1024 and enc.schema_id == "vinculo-v5"
    got = [r.clk for r in enc.encode_chunk(RECORDS)]
    raw = np.frombuffer(b"".join(r.clk for r in _encoder(v3).encode_chunk(RECORDS)),
                        dtype=np.uint8).reshape(len(RECORDS), -1)
    assert got == [row.tobytes() for row in hardening.apply(raw, v5, SECRET_A)]
    assert got != [r.clk for r in _encoder(load_linkage_schema("vinculo-v4"))
                   .encode_chunk(RECORDS)]
    assert hashlib.sha256(b"".join(got)).hexdigest() == V5_DIGEST


V5_DIGEST = "fd81bad1d62b8077b045c6bc4f77212c9c8f9907f5c7677bc2c40632bc48db30"


BAD_KNOTS = [
    [[0, 0], [0.6, 0.7], [0.6, 0.8], [1, 1]],  # not strictly increasing
    [[0, 0], [0.7, 0.6], [0.65, 0.8], [1, 1]],
    [[0.1, 0], [1, 1]],  # does not start at (0, 0)
    [[0, 0], [0.9, 0.95]],  # does not end at (1, 1)
    [[0, 0]],
    [[0, 0], ["x", 0.5], [1, 1]],
    "0.5",
]


@pytest.mark.parametrize("knots", BAD_KNOTS)
def test_bad_dice_calibration_refused(knots: object) -> None:
    with pytest.raises(SchemaMismatch):
        dice_calibration({"vinculo": {"linkage": {"dice_calibration": knots}}})


@pytest.mark.parametrize("knots", BAD_KNOTS)
def test_bad_dice_calibration_refused_by_the_link_parameters_too(knots: object) -> None:
    with pytest.raises(InputError):
        LinkParams(dice_calibration=knots)  # type: ignore[arg-type]


def test_identity_calibration_changes_nothing_and_is_recorded() -> None:
    d = synthetic_registries(records_per_source=150, seed=7)
    inputs = LinkInputs(clks=d.clks, sources=d.sources, sex=d.sex)
    plain = link(inputs, LinkParams())
    same = link(inputs, LinkParams(dice_calibration=((0.0, 0.0), (1.0, 1.0))))
    assert (plain.labels == same.labels).all()
    assert same.params["dice_calibration"] == [[0.0, 0.0], [1.0, 1.0]]
    assert plain.params["dice_calibration"] is None
    # A calibration that lifts every Dice moves the floor down in stored Dice: stored 0.5
    # is reference 0.7, so the candidates are the pairs at stored Dice ≥ 0.5 (exact blocking;
    # LSH's design Dice moves too).
    lifted = link(inputs, LinkParams(blocking="exact",
                                     dice_calibration=((0.0, 0.0), (0.5, 0.7), (1.0, 1.0))))
    low = link(inputs, LinkParams(blocking="exact", dice_floor=0.5))
    assert lifted.counts["pairs_above_floor"] == low.counts["pairs_above_floor"] \
        > plain.counts["pairs_above_floor"]
    with pytest.raises(InputError):
        LinkParams(dice_calibration=((0.0, 0.0), (0.6, 0.7), (0.6, 0.8), (1.0, 1.0)))


@pytest.mark.parametrize("t, output_bits", [(1, 1024), (2, 1024), (3, 1024), (2, 2048)])
def test_diffusion_equals_the_bit_by_bit_definition(t: int, output_bits: int) -> None:
    """The packed-byte kernel gives exactly what XOR-ing unpacked bits per record gives."""
    rng = np.random.default_rng(t)
    for n in (0, 1, 9, 300):
        clks = rng.integers(0, 256, (n, 128), dtype=np.uint8)
        taps = hardening.diffusion_taps(bytes(32), input_bits=1024, output_bits=output_bits,
                                        t=t)
        bits = np.unpackbits(clks, axis=1)
        expected = np.zeros((n, output_bits), dtype=np.uint8)
        for k in range(t):
            expected ^= bits[:, taps[:, k]]
        got = hardening.diffuse(clks, key=bytes(32), t=t, output_bits=output_bits)
        assert np.array_equal(got, np.packbits(expected, axis=1))
