"""Uploads against the real app in-process, on SQLite and PostgreSQL: every refusal reason,
atomicity, idempotence, versions and withdrawal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from vinculo_common.errors import ServiceError
from vinculo_common.schemas import load_linkage_schema, schema_fingerprint


def refs(n: int, seed: int = 0) -> list[bytes]:
    return [bytes([seed]) + i.to_bytes(31, "big") for i in range(n)]


def _nothing_stored(service: Any) -> None:
    assert service.count("upload") == 0
    assert service.count("encoded_record") == 0


def test_upload_is_stored_and_repeat_changes_nothing(service: Any, make_batch: Any) -> None:
    batch = make_batch("reta", refs(5))
    client = service.uploader("reta")
    first = client.upload(batch)
    assert first["created"] is True
    assert (first["source"], first["record_count"], first["new_count"]) == ("reta", 5, 5)
    assert first["status"] == "stored"
    assert service.count("encoded_record", "is_current") == 5
    again = client.upload(batch)
    assert again["created"] is False and again["id"] == first["id"]
    assert service.count("upload") == 1 and service.count("encoded_record") == 5
    assert client.get(f"/uploads/{first['id']}")["record_count"] == 5
    # CLK and attributes are sealed under the custody key: the clear columns stay empty, and
    # the row opens (bound to its source, reference and version) to the 128-byte CLK and the
    # typed attributes.
    import sqlalchemy as sa

    from linkage_service.custody import custody_key_for, open_record

    with service.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT source_id, record_ref, version, sealed, clk, sex, birth_year_min, "
            "exploitation FROM encoded_record LIMIT 1"
        )).one()
    assert bytes(row.clk) == b"" and row.sex is None and row.birth_year_min is None
    assert row.exploitation is None
    from sqlalchemy.orm import Session

    with Session(service.engine) as session:
        key = custody_key_for(session)
    opened = open_record(key, bytes(row.sealed), source_id=row.source_id,
                         record_ref=bytes(row.record_ref), version=row.version)
    assert len(opened.clk) == 128
    assert (opened.attributes["sex"], opened.attributes["birth_year_min"],
            opened.attributes["exploitation"]) == ("F", 1990, "sexual")


def test_known_ref_becomes_new_version(service: Any, make_batch: Any) -> None:
    client = service.uploader("reta")
    client.upload(make_batch("reta", refs(4)))
    second = client.upload(make_batch("reta", refs(6)[2:]))  # 2 known, 2 new
    assert (second["new_count"], second["updated_count"]) == (2, 2)
    assert service.count("encoded_record") == 8
    assert service.count("encoded_record", "is_current") == 6
    assert service.count("encoded_record", "version = 2") == 2
    assert service.count("encoded_record", "version = 2 AND is_current") == 2


def test_withdrawal(service: Any, make_batch: Any) -> None:
    client = service.uploader("reta")
    client.upload(make_batch("reta", refs(3)))
    result = client.withdraw([refs(3)[0], os.urandom(32)], reason="duplicado")
    assert result == {"withdrawn": 1, "not_found": 1}
    assert service.count("encoded_record", "is_current") == 2
    assert service.count("encoded_record", "withdrawn_at IS NOT NULL") == 1
    # Another source cannot withdraw reta's records.
    other = service.uploader("sistra").withdraw([refs(3)[1]])
    assert other == {"withdrawn": 0, "not_found": 1}
    with pytest.raises(ServiceError) as bad:
        client.post("/records/withdraw", json={"record_refs": ["zz-not-hex"]})
    assert bad.value.status == 422

# A schema the project knows but this bank does not use: one bank, one schema.
V2_FINGERPRINT = schema_fingerprint(load_linkage_schema("vinculo-v2"))


@pytest.mark.parametrize(
    ("options", "status", "words"),
    [
        ({"signing_source": "sistra"}, 422, "firma"),
        ({"fingerprint": "sha256:" + "0" * 64}, 422, "esquema"),
        ({"fingerprint": V2_FINGERPRINT}, 422, "esquema"),
        ({"secret_check": "0123456789abcdef"}, 422, "secreto"),
        ({"batch_source": "sistra", "signing_source": "sistra"}, 403, "otra fuente"),
    ],
    ids=["forged-signature", "other-schema", "known-but-not-this-banks-schema", "other-secret",
         "other-source"],
)
def test_refusals_say_why_and_store_nothing(
    service: Any, make_batch: Any, options: dict[str, Any], status: int, words: str
) -> None:
    batch = make_batch("reta", refs(3), **options)
    with pytest.raises(ServiceError) as refused:
        service.uploader("reta").upload(batch)
    assert refused.value.status == status
    assert words in str(refused.value)
    _nothing_stored(service)


def test_truncated_and_garbage_bodies(service: Any, make_batch: Any, tmp_path: Path) -> None:
    data = make_batch("reta", refs(3)).read_bytes()
    client = service.uploader("reta")
    for body, words in ((data[:-7], "truncado"), (b"hola, no soy un lote", "no es un lote"),
                        (b"", "truncado")):
        with pytest.raises(ServiceError) as refused:
            client.post("/uploads", content=body,
                        headers={"Content-Type": "application/octet-stream"})
        assert refused.value.status == 422 and words in str(refused.value)
    _nothing_stored(service)


def test_size_limits(service_factory: Any, make_batch: Any) -> None:
    service = service_factory(max_upload_bytes=4000, max_upload_records=3)
    client = service.uploader("reta")
    big = make_batch("reta", refs(30))
    with pytest.raises(ServiceError) as declared:
        client.upload(big)  # Content-Length says too much: refused before reading
    assert declared.value.status == 413 and "tamaño máximo" in str(declared.value)

    def chunks() -> Any:  # no Content-Length: the stream limit catches it
        data = big.read_bytes()
        for i in range(0, len(data), 500):
            yield data[i : i + 500]

    with pytest.raises(ServiceError) as streamed:
        client.request("POST", "/uploads", content=chunks(),
                       headers={"Content-Type": "application/octet-stream"})
    assert streamed.value.status == 413
    with pytest.raises(ServiceError) as too_many:
        client.upload(make_batch("reta", refs(4), clk_bits=64))
    assert too_many.value.status == 422 and "máximo" in str(too_many.value)
    _nothing_stored(service)


def test_failure_mid_insert_leaves_nothing(service: Any, make_batch: Any) -> None:
    """A database failure on the 7th record row rolls back the upload and the 6 rows before."""
    import sqlalchemy as sa

    with service.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(sa.text(
                "CREATE TRIGGER fail_mid BEFORE INSERT ON encoded_record "
                "WHEN (SELECT count(*) FROM encoded_record) >= 6 "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            ))
        else:
            conn.execute(sa.text(
                "CREATE FUNCTION fail_mid() RETURNS trigger AS $$ BEGIN "
                "IF (SELECT count(*) FROM encoded_record) >= 6 THEN "
                "RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            conn.execute(sa.text(
                "CREATE TRIGGER fail_mid BEFORE INSERT ON encoded_record "
                "FOR EACH ROW EXECUTE FUNCTION fail_mid()"
            ))
    with pytest.raises(ServiceError) as failed:
        service.uploader("reta").upload(make_batch("reta", refs(10)))
    assert failed.value.status == 503 and "no se guardó nada" in str(failed.value)
    assert "injected" not in str(failed.value)
    _nothing_stored(service)


def test_upload_status_is_private_to_the_source(service: Any, make_batch: Any) -> None:
    upload = service.uploader("reta").upload(make_batch("reta", refs(2)))
    with pytest.raises(ServiceError) as hidden:
        service.uploader("sistra").get(f"/uploads/{upload['id']}")
    assert hidden.value.status == 404
    operator = service.client(service.token("operator"))
    assert operator.get(f"/uploads/{upload['id']}")["source"] == "reta"
    assert [u["id"] for u in operator.get("/uploads")] == [upload["id"]]
    assert service.uploader("sistra").get("/uploads") == []
