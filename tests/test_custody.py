"""Custody: encodings and content attributes sealed at rest under a key that is not in the
database; a stolen database file yields neither; per-record routes show only a coarse,
k-anonymous release; a bank from before custody is sealed in place.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import ServiceHarness, write_batch
from sqlalchemy.orm import Session

from linkage_service.custody import (
    DEV_CUSTODY_KEY,
    CustodyKey,
    custody_key_for,
    key_from_file,
    key_from_passphrase,
    new_key_file,
    open_record,
    seal_record,
)
from linkage_service.custody.records import encrypt_bank, opened, record_columns
from linkage_service.custody.release import LEVELS, choose_policy, release_of
from vinculo_common.batch import read_batch
from vinculo_common.errors import ConfigError, IntegrityError

# Values that appear nowhere else in a bank: if they are in the file, the row leaked.
MARKERS = {"event_date": "2019-04-17", "ubigeo_birth": "250302", "ubigeo_residence": "080901",
           "ubigeo_event": "211101"}


def _marked_attributes() -> dict[str, Any]:
    return {"sex": "F", "birth_year_min": 1987, "birth_year_max": 1987, "age_at_event": 31,
            "nationality": "VEN", "exploitation": ["sexual"], **MARKERS}


def _file_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def _leaks(data: bytes, clks: np.ndarray) -> list[str]:
    found = [f"{k}={v}" for k, v in MARKERS.items() if v.encode() in data]
    found += [f"clk {i}" for i, clk in enumerate(clks) if bytes(clk[:16]) in data]
    return found


def test_seal_opens_only_with_its_key_and_its_row() -> None:
    key = CustodyKey(bytes(range(32)))
    blob = seal_record(key, source_id=2, record_ref=b"\x07" * 32, version=3, clk=b"\xff" * 128,
                       sections={"doc_hash": b"\x01" * 32, "family": None},
                       attributes={"sex": "F", "event_date": "2019-04-17"})
    record = open_record(key, blob, source_id=2, record_ref=b"\x07" * 32, version=3)
    assert record.clk == b"\xff" * 128
    assert record.sections == {"doc_hash": b"\x01" * 32, "family": None}
    assert record.attributes == {"sex": "F", "event_date": "2019-04-17"}
    assert b"2019-04-17" not in blob and b"\xff" * 16 not in blob
    with pytest.raises(IntegrityError, match="clave de custodia"):
        open_record(CustodyKey(bytes(32)), blob, source_id=2, record_ref=b"\x07" * 32, version=3)
    for moved in ({"source_id": 1, "record_ref": b"\x07" * 32, "version": 3},
                  {"source_id": 2, "record_ref": b"\x08" * 32, "version": 3},
                  {"source_id": 2, "record_ref": b"\x07" * 32, "version": 4}):
        with pytest.raises(IntegrityError):
            open_record(key, blob, **moved)  # type: ignore[arg-type]
    # A fresh nonce per row: the same record sealed twice gives two different ciphertexts.
    again = seal_record(key, source_id=2, record_ref=b"\x07" * 32, version=3, clk=b"\xff" * 128,
                        sections={"doc_hash": b"\x01" * 32, "family": None},
                        attributes={"sex": "F", "event_date": "2019-04-17"})
    assert again != blob


def test_key_file_and_passphrase(tmp_path: Path) -> None:
    key = new_key_file(tmp_path / "custodia.key")
    assert (tmp_path / "custodia.key").stat().st_mode & 0o777 == 0o600
    assert key_from_file(tmp_path / "custodia.key").key_id == key.key_id
    with pytest.raises(ConfigError, match="no se sobrescribe"):
        new_key_file(tmp_path / "custodia.key")
    (tmp_path / "bad.key").write_text("not hex")
    with pytest.raises(ConfigError, match="64 dígitos") as info:
        key_from_file(tmp_path / "bad.key")
    assert "not hex" not in str(info.value)
    with pytest.raises(ConfigError, match="no existe"):
        key_from_file(tmp_path / "missing.key")
    assert key_from_passphrase("frase larga del custodio").key_id != key.key_id
    with pytest.raises(ConfigError, match="12 caracteres"):
        key_from_passphrase("corta")


def test_production_refuses_to_start_without_a_custody_key(tmp_path: Path) -> None:
    from linkage_service.settings import load_settings

    base = {"database_url": f"sqlite:///{tmp_path / 'b.db'}", "environment": "production",
            "service_key_passphrase": "una frase de servicio larga"}
    with pytest.raises(ConfigError, match="clave de custodia"):
        load_settings(**base)
    with pytest.raises(ConfigError, match="clave de custodia"):
        load_settings(**base, custody_key_passphrase="changethis")
    new_key_file(tmp_path / "k.key")
    assert load_settings(**base, custody_key_file=tmp_path / "k.key").custody_key_file


def test_a_bank_refuses_another_custody_key(tmp_path: Path, keys_dir: Path) -> None:
    new_key_file(tmp_path / "a.key")
    new_key_file(tmp_path / "b.key")
    db = f"sqlite:///{tmp_path / 'bank.db'}"
    from linkage_service.app import create_app
    from linkage_service.settings import Settings

    first = ServiceHarness(db, keys_dir, custody_key_file=tmp_path / "a.key")
    first.close()
    with pytest.raises(ConfigError, match="no es la que selló este banco"):
        create_app(Settings(database_url=db, custody_key_file=tmp_path / "b.key"))
    again = create_app(Settings(database_url=db, custody_key_file=tmp_path / "a.key"))
    again.state.engine.dispose()


def test_database_file_holds_no_encodings_and_no_attributes(tmp_path: Path,
                                                            keys_dir: Path) -> None:
    new_key_file(tmp_path / "custodia.key")
    db = tmp_path / "bank.db"
    service = ServiceHarness(f"sqlite:///{db}", keys_dir,
                             custody_key_file=tmp_path / "custodia.key")
    try:
        batch = write_batch(tmp_path / "reta.vnb", keys=keys_dir, source="reta",
                            refs=[bytes([i]) * 32 for i in range(1, 13)],
                            attributes=_marked_attributes())
        uploaded = read_batch(batch)
        clks = uploaded.clks
        service.uploader("reta").upload(batch)
        with Session(service.engine) as session:
            rows = session.execute(sa.select(*record_columns())).all()
            key = custody_key_for(session)
            assert not key.is_development
            # The service opens them: the same CLKs and attributes as uploaded.
            assert sorted(opened(key, r).clk for r in rows) == sorted(bytes(c) for c in clks)
            assert {opened(key, r).attributes["ubigeo_event"] for r in rows} == {"211101"}
        with service.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        service.close()
    data = _file_bytes(db)
    assert _leaks(data, clks) == []
    # Nor the source's own references (its reference key would find its records) or locators.
    assert not [r for r in uploaded.record_refs if bytes(r) in data]
    assert not [loc for loc in uploaded.locators if bytes(loc)[:16] in data]
    # Nor does any cell, read as a thief would with sqlite3 (no key).
    with sqlite3.connect(db) as conn:
        cells = conn.execute("SELECT * FROM encoded_record").fetchall()
    text = repr(cells).encode()
    assert all(v.encode() not in text for v in MARKERS.values())


def _unseal_into_clear_columns(engine: sa.Engine) -> None:
    """Make the bank look like one from before custody: clear columns, no ``sealed``."""
    from linkage_service.models import EncodedRecord
    from vinculo_common.batch import RECORD_SECTIONS

    table: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        key = custody_key_for(session)
        for row in session.execute(sa.select(*record_columns())).all():
            record = opened(key, row)
            session.execute(sa.update(table).where(table.c.id == row.id).values(
                sealed=None, clk=record.clk, record_ref=record.record_ref, locator=record.locator,
                **{n: record.sections.get(n) for n in RECORD_SECTIONS}, **record.attributes))
        session.commit()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _legacy_person_and_pair(session: Session, records: Any) -> None:
    """A person holding every record, a review pair and a decision, named by the old refs."""
    from linkage_service.models.bank import Decision, Membership, Person, ReviewPair

    person = Person(pseudonym="P-BBBBBBBBBB")
    session.add(person)
    session.flush()
    for i, ref in enumerate(records.record_refs):
        session.add(Membership(person_id=person.id, source_id=int(records.source_ids[i]),
                               record_ref=ref, record_row_id=int(records.row_ids[i])))
    a, b = (int(records.source_ids[0]), records.record_refs[0]), \
        (int(records.source_ids[1]), records.record_refs[1])
    pair = ReviewPair(source_a=a[0], ref_a=a[1], source_b=b[0], ref_b=b[1], score=0.5)
    session.add(pair)
    session.flush()
    session.add(Decision(kind="must", source_a=a[0], ref_a=a[1], source_b=b[0], ref_b=b[1],
                         review_pair_id=pair.id))
    session.commit()


def test_encrypt_an_existing_bank_in_place(tmp_path: Path, keys_dir: Path) -> None:
    from linkage_service.bank.records import load_current_records

    db = tmp_path / "bank.db"
    service = ServiceHarness(f"sqlite:///{db}", keys_dir)
    try:
        batch = write_batch(tmp_path / "reta.vnb", keys=keys_dir, source="reta",
                            refs=[bytes([i]) * 32 for i in range(1, 9)],
                            attributes=_marked_attributes())
        clks = read_batch(batch).clks
        service.uploader("reta").upload(batch)
        _unseal_into_clear_columns(service.engine)
        assert _leaks(_file_bytes(db), clks)  # the legacy bank holds them in clear
        with Session(service.engine) as session:
            before = load_current_records(session)
            _legacy_person_and_pair(session, before)
        assert encrypt_bank(service.engine, CustodyKey(DEV_CUSTODY_KEY)) == 8
        assert encrypt_bank(service.engine, CustodyKey(DEV_CUSTODY_KEY)) == 0  # idempotent
        with Session(service.engine) as session:
            after = load_current_records(session)
    finally:
        service.close()
    # What the linkage job reads is unchanged, so its results are; the references are the
    # stored ones now (an HMAC under the custody key), in the same order.
    assert np.array_equal(before.clks, after.clks)
    assert before.attributes == after.attributes and before.sections == after.sections
    key = CustodyKey(DEV_CUSTODY_KEY)
    assert after.record_refs == [key.stored_ref(int(s), r)
                                 for s, r in zip(before.source_ids, before.record_refs,
                                                 strict=True)]
    # Memberships, review pairs and decisions follow the rename.
    stored = set(after.record_refs)
    with sqlite3.connect(db) as conn:
        named = [bytes(r) for (r,) in conn.execute("SELECT record_ref FROM membership")]
        named += [bytes(r) for pair in conn.execute("SELECT ref_a, ref_b FROM review_pair")
                  for r in pair]
        named += [bytes(r) for pair in conn.execute("SELECT ref_a, ref_b FROM link_decision")
                  for r in pair]
    assert len(named) == 8 + 2 + 2 and set(named) <= stored
    # VACUUM rewrote the file: the old clear pages are gone.
    assert _leaks(_file_bytes(db), clks) == []


def test_encrypt_refuses_a_bank_sealed_with_another_key(tmp_path: Path, keys_dir: Path) -> None:
    service = ServiceHarness(f"sqlite:///{tmp_path / 'bank.db'}", keys_dir)
    try:
        with pytest.raises(ConfigError, match="no es la que selló"):
            encrypt_bank(service.engine, CustodyKey(bytes(32)))
    finally:
        service.close()


def test_release_is_coarse_and_k_anonymous() -> None:
    from vinculo_lab.attacks.join import consistency, normalize_release

    rng = np.random.default_rng(5)
    records = []
    for i in range(400):
        records.append(("reta", {
            "sex": "F" if i % 3 else "M", "birth_year_min": 1980 + int(rng.integers(0, 25)),
            "birth_year_max": None, "age_at_event": int(rng.integers(12, 40)),
            "nationality": "PER" if i % 7 else "VEN",
            "ubigeo_birth": f"{int(rng.integers(1, 25)):02d}0101",
            "ubigeo_residence": "150101", "ubigeo_event": f"{int(rng.integers(1, 25)):02d}0201",
            "event_date": f"20{int(rng.integers(18, 24))}-0{int(rng.integers(1, 9))}-11",
            "exploitation": "sexual" if i % 2 else "laboral",
        }))
    for record in records:
        record[1]["birth_year_max"] = record[1]["birth_year_min"]
    policy = choose_policy(records)
    shown = [policy.release(s, a) for s, a in records]
    assert policy.level > 0  # the finest level would leave most records alone in their group
    assert sum(1 for r in shown if not r) <= 0.2 * len(records)
    for release in shown:
        assert "event_date" not in release and "age_at_event" not in release
        for name in ("ubigeo_birth", "ubigeo_residence", "ubigeo_event"):
            assert release.get(name) is None or len(release[name]) == 2
    # Whoever holds the plaintext finds at least k candidates for every record.
    candidates = consistency([normalize_release(a) for _s, a in records],
                             [normalize_release(r) for r in shown]).sum(axis=1)
    assert candidates.min() >= policy.min_group
    assert release_of(records[0][1], level=len(LEVELS) - 1) == {}


def test_person_view_and_review_show_the_release_not_the_values(tmp_path: Path,
                                                                keys_dir: Path) -> None:
    from linkage_service.bank.persons import current_records, person_view
    from linkage_service.bank.review import list_pending
    from linkage_service.models.bank import Person, ReviewPair

    service = ServiceHarness(f"sqlite:///{tmp_path / 'bank.db'}", keys_dir)
    try:
        batch = write_batch(tmp_path / "reta.vnb", keys=keys_dir, source="reta",
                            refs=[bytes([i]) * 32 for i in range(1, 13)],
                            attributes=_marked_attributes())
        service.uploader("reta").upload(batch)
        with Session(service.engine) as session:
            # Persons and a review pair as a job would leave them (hand-made, two records).
            from linkage_service.models import EncodedRecord

            table: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
            rows = session.execute(sa.select(table.c.id, table.c.source_id,
                                             table.c.record_ref)).all()
            person = Person(pseudonym="P-AAAAAAAAAA")
            session.add(person)
            session.flush()
            from linkage_service.models.bank import Membership

            for row in rows:
                session.add(Membership(person_id=person.id, source_id=row.source_id,
                                       record_ref=row.record_ref, record_row_id=row.id))
            session.add(ReviewPair(source_a=rows[0].source_id, ref_a=rows[0].record_ref,
                                   source_b=rows[1].source_id, ref_b=rows[1].record_ref,
                                   score=0.7))
            session.flush()
            view = person_view(session, pseudonym="P-AAAAAAAAAA")
            shown = view["current"][0]["records"]
            assert len(shown) == 12 and len(current_records(session, person_ids=[person.id])) == 12
            pair = list_pending(session)[0]
    finally:
        service.close()
    text = repr((shown, pair["left"], pair["right"]))
    for value in (*MARKERS.values(), "1987", "31"):
        assert value not in text
    # Twelve identical records: one group of 12 ≥ 10, shown at the finest level.
    assert shown[0] == {"source": "reta", "sex": "F", "birth_year_band": "1985-1989",
                        "age_band": "25-34", "nationality": "VEN", "ubigeo_birth": "25",
                        "ubigeo_residence": "08", "ubigeo_event": "21", "event_year": "2019",
                        "exploitation": "sexual"}
    # The reviewer still sees where the exact values agree.
    assert pair["agreement"]["event_date"] == "agree"
    assert pair["agreement"]["ubigeo_event"] == "agree"
