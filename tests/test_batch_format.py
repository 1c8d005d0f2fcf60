from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vinculo_common.batch import LOCATOR_SIZE, BatchWriter, read_batch
from vinculo_common.errors import InputError, IntegrityError, SchemaMismatch


def _write(path: Path, key: Ed25519PrivateKey, n: int = 3) -> dict:
    writer = BatchWriter(
        path, source="reta", schema_id="s", schema_fingerprint="sha256:abc",
        secret_check="00ff", clk_bits=64, signing_key=key,
    )
    for i in range(n):
        writer.add(record_ref=bytes([i]) * 32, clk=bytes([i]) * 8,
                   locator=bytes(LOCATOR_SIZE), attributes={"sex": "F", "birth_year_min": 1990 + i})
    return writer.close()


def test_round_trip_and_signature(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    header = _write(tmp_path / "b", key)
    batch = read_batch(tmp_path / "b")
    assert batch.record_count == 3 == header["record_count"]
    assert batch.clks.shape == (3, 8) and batch.clks[2, 0] == 2
    assert batch.attributes[1] == {"sex": "F", "birth_year_min": 1991}
    batch.verify_signature(key.public_key())
    with pytest.raises(IntegrityError):
        batch.verify_signature(Ed25519PrivateKey.generate().public_key())
    batch.check_compatible(schema_fingerprints={"sha256:abc"}, secret_check="00ff")
    with pytest.raises(SchemaMismatch, match="esquema"):
        batch.check_compatible(schema_fingerprints={"sha256:x"}, secret_check="00ff")
    with pytest.raises(SchemaMismatch, match="secreto"):
        batch.check_compatible(schema_fingerprints={"sha256:abc"}, secret_check="11")
    assert list(tmp_path.iterdir()) == [tmp_path / "b"]  # no temporary files left


def test_tampered_body_and_truncation_are_refused(tmp_path: Path) -> None:
    _write(tmp_path / "b", Ed25519PrivateKey.generate())
    data = bytearray((tmp_path / "b").read_bytes())
    data[-5] ^= 1
    with pytest.raises(InputError, match="hash"):
        read_batch(bytes(data))
    with pytest.raises(InputError):
        read_batch(bytes(data[:-10]))
    with pytest.raises(InputError, match="magic"):
        read_batch(b"hello world, not a batch")


def test_unknown_attribute_is_refused(tmp_path: Path) -> None:
    writer = BatchWriter(
        tmp_path / "b", source="reta", schema_id="s", schema_fingerprint="f",
        secret_check="k", clk_bits=8, signing_key=Ed25519PrivateKey.generate(),
    )
    with pytest.raises(InputError, match="no permitidos"):
        writer.add(record_ref=bytes(32), clk=b"\0", locator=bytes(LOCATOR_SIZE),
                   attributes={"nombres": "X"})
    writer.abort()
    assert list(tmp_path.iterdir()) == []
