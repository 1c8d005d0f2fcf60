"""The bank's writer and readers on a real database, with hand-made clusterings.

Lineage after merges and splits, withdrawal, results limited to a source's own records, review
queue and decisions. The linkage core is exercised end to end in test_bank_service.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from linkage_service.bank import (
    bank_snapshot,
    decide_pair,
    list_pending,
    person_view,
    records_of_persons,
    resolve_pseudonym,
    results_for_source,
)
from linkage_service.bank.persons import current_records
from linkage_service.bank.records import load_current_records, load_decisions
from linkage_service.bank.writer import ClusterOutcome, ReviewCandidate, write_outcome
from linkage_service.db import make_engine, migrate
from linkage_service.models import EncodedRecord, Source, Upload
from linkage_service.models.bank import LinkJob, Membership, Person, PersonLineage
from vinculo_common.errors import Conflict, NotFound

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'bank.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


class Bank:
    """A tiny bank: two sources, records added by short name (synthetic, no identities)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.refs: dict[str, tuple[int, bytes]] = {}
        with Session(engine) as s:
            ids = []
            for name in ("reta", "care"):
                src = Source(name=name, secret_check="k", signing_public_key_pem="-",
                             box_public_key_pem="-", signing_key_id="s", box_key_id="b")
                s.add(src)
                s.flush()
                up = Upload(source_id=src.id, body_sha256=name, schema_id="x",
                            schema_fingerprint="f", format_version=1, clk_bits=64)
                s.add(up)
                s.flush()
                ids.append((src.id, up.id))
            s.commit()
        self.sources = {"reta": ids[0], "care": ids[1]}
        self.job = 0

    def add(self, name: str, source: str, *, event_date: str = "2024-05-01",
            ubigeo: str = "150101") -> None:
        sid, uid = self.sources[source]
        ref = hashlib.sha256(name.encode()).digest()
        with Session(self.engine) as s:
            latest = s.execute(
                sa.select(sa.func.max(EncodedRecord.version)).where(  # type: ignore[arg-type]
                    EncodedRecord.source_id == sid, EncodedRecord.record_ref == ref)
            ).scalar()
            if latest:
                s.execute(sa.update(EncodedRecord).where(
                    EncodedRecord.source_id == sid, EncodedRecord.record_ref == ref  # type: ignore[arg-type]
                ).values(is_current=False))
            s.add(EncodedRecord(source_id=sid, record_ref=ref, version=(latest or 0) + 1,
                                clk=bytes(8), locator=b"sealed-" + name.encode(), upload_id=uid,
                                sex="F", birth_year_min=2001, birth_year_max=2001,
                                event_date=event_date, ubigeo_event=ubigeo,
                                exploitation="laboral;sexual"))
            s.commit()
        self.refs[name] = (sid, ref)

    def withdraw(self, name: str) -> None:
        sid, ref = self.refs[name]
        with Session(self.engine) as s:
            s.execute(sa.update(EncodedRecord).where(
                EncodedRecord.source_id == sid, EncodedRecord.record_ref == ref,  # type: ignore[arg-type]
                EncodedRecord.is_current.is_(True),  # type: ignore[attr-defined]
            ).values(is_current=False, withdrawn_at=T0))
            s.commit()

    def link(self, groups: list[set[str]], review: list[tuple[str, str, float]] = ()) -> dict:
        """Write a clustering given as groups of record names (every current record once)."""
        self.job += 1
        with Session(self.engine) as s:
            job = LinkJob(status="running")
            s.add(job)
            s.flush()
            records = load_current_records(s)
            names = {v: k for k, v in self.refs.items()}
            label_of = {name: i for i, g in enumerate(groups) for name in g}
            labels = np.array([label_of[names[records.key(i)]] for i in range(len(records))])
            cands = [ReviewCandidate(left=records.index[self.refs[a]],
                                     right=records.index[self.refs[b]], score=sc,
                                     evidence={"dice": sc})
                     for a, b, sc in review]
            counts = write_outcome(s, records=records, job_id=job.id,
                                   outcome=ClusterOutcome(labels=labels, review=cands),
                                   now=T0 + timedelta(days=self.job))
            job.status = "done"  # one open job at a time: the next call writes another
            s.commit()
            return counts

    def person_of(self, name: str) -> str:
        sid, ref = self.refs[name]
        with Session(self.engine) as s:
            return s.execute(
                sa.select(Person.pseudonym).join(Membership, Membership.person_id == Person.id)  # type: ignore[arg-type]
                .where(Membership.source_id == sid, Membership.record_ref == ref,  # type: ignore[arg-type]
                       Membership.current.is_(True))  # type: ignore[attr-defined]
            ).scalar_one()


@pytest.fixture
def bank(engine: Engine) -> Bank:
    return Bank(engine)


def test_first_job_creates_persons_and_untouched_persons_keep_pseudonyms(bank: Bank) -> None:
    for name, src in [("a1", "reta"), ("a2", "care"), ("b1", "reta")]:
        bank.add(name, src)
    counts = bank.link([{"a1", "a2"}, {"b1"}])
    assert counts["persons_created"] == 2
    pa, pb = bank.person_of("a1"), bank.person_of("b1")
    assert bank.person_of("a2") == pa != pb
    bank.add("a3", "care")  # next month: joins A; B untouched
    bank.add("c1", "care")
    counts = bank.link([{"a1", "a2", "a3"}, {"b1"}, {"c1"}])
    assert (bank.person_of("a1"), bank.person_of("a3"), bank.person_of("b1")) == (pa, pa, pb)
    assert counts["persons_created"] == 1 and counts["memberships_opened"] == 2


def test_merge_keeps_survivor_and_lineage_is_followed(bank: Bank) -> None:
    for name, src in [("a1", "reta"), ("a2", "care"), ("b1", "reta")]:
        bank.add(name, src)
    bank.link([{"a1", "a2"}, {"b1"}])
    pa, pb = bank.person_of("a1"), bank.person_of("b1")
    counts = bank.link([{"a1", "a2", "b1"}])
    assert counts["persons_merged"] == 1 and counts["persons_created"] == 0
    assert bank.person_of("b1") == pa
    with Session(bank.engine) as s:
        assert resolve_pseudonym(s, pseudonym=pb) == [pa]
        assert resolve_pseudonym(s, pseudonym=pa) == [pa]
        assert {r[0] for r in records_of_persons(s, [pb])} == {"reta", "care"}
        view = person_view(s, pseudonym=pb)
        assert view["status"] == "merged" and view["current"][0]["pseudonym"] == pa
        assert view["lineage"][0]["kind"] == "merge"


def test_split_creates_new_pseudonyms_with_lineage(bank: Bank) -> None:
    for name, src in [("a1", "reta"), ("a2", "care"), ("a3", "care")]:
        bank.add(name, src)
    bank.link([{"a1", "a2", "a3"}])
    pa = bank.person_of("a1")
    counts = bank.link([{"a1", "a2"}, {"a3"}])
    assert counts["persons_split"] == 1 and counts["persons_created"] == 2
    p1, p3 = bank.person_of("a1"), bank.person_of("a3")
    assert len({pa, p1, p3}) == 3
    with Session(bank.engine) as s:
        assert resolve_pseudonym(s, pseudonym=pa) == sorted([p1, p3])
        kinds = set(s.execute(sa.select(PersonLineage.kind)).scalars())
        assert kinds == {"split"}
        # a merge after the split: the old pseudonym still resolves, through two steps
    bank.link([{"a1", "a2", "a3"}])
    with Session(bank.engine) as s:
        assert resolve_pseudonym(s, pseudonym=pa) == [bank.person_of("a1")]


def test_withdrawn_record_leaves_its_person_and_empty_person_retires(bank: Bank) -> None:
    for name, src in [("a1", "reta"), ("a2", "care"), ("b1", "reta")]:
        bank.add(name, src)
    bank.link([{"a1", "a2"}, {"b1"}])
    pa, pb = bank.person_of("a1"), bank.person_of("b1")
    bank.withdraw("a2")
    bank.withdraw("b1")
    counts = bank.link([{"a1"}])
    assert counts["records_withdrawn_from_persons"] == 2 and counts["persons_retired"] == 1
    assert bank.person_of("a1") == pa
    with Session(bank.engine) as s:
        assert [r[0] for r in records_of_persons(s, [pa])] == ["reta"]
        assert resolve_pseudonym(s, pseudonym=pb) == []
        assert person_view(s, pseudonym=pb)["status"] == "retired"
        with pytest.raises(NotFound):
            resolve_pseudonym(s, pseudonym="P-AAAAAAAAAA")


def test_updated_record_keeps_its_person(bank: Bank) -> None:
    bank.add("a1", "reta")
    bank.add("a2", "care")
    bank.link([{"a1", "a2"}])
    pa = bank.person_of("a1")
    bank.add("a1", "reta", event_date="2024-06-01")  # a new version of the same record
    with Session(bank.engine) as s:
        records = load_current_records(s)
    changed = records.index[bank.refs["a1"]]
    assert records.old_person[changed] == -1  # re-linked by the core as a new record
    assert records.linked_person[changed] == records.old_person[1 - changed] >= 0
    counts = bank.link([{"a1", "a2"}])
    assert bank.person_of("a1") == pa and counts["persons_created"] == 0
    with Session(bank.engine) as s:
        shown = person_view(s, pseudonym=pa)["current"][0]["records"]
        pid = s.execute(sa.select(Person.id).where(Person.pseudonym == pa)).scalar_one()
        held = current_records(s, person_ids=[pid])
    assert len(shown) == 2  # the page shows the coarse release (custody.release), not the dates
    assert sorted(r["attributes"]["event_date"] for r in held) == ["2024-05-01", "2024-06-01"]


def test_results_show_only_the_sources_own_records(bank: Bank) -> None:
    bank.add("a1", "reta")
    bank.add("a2", "care", event_date="2023-02-10", ubigeo="170101")
    bank.add("a3", "reta")
    bank.add("b1", "care")
    bank.link([{"a1", "a2", "a3"}, {"b1"}])
    reta_id = bank.sources["reta"][0]
    with Session(bank.engine) as s:
        page = results_for_source(s, source_id=reta_id)
    assert page["total"] == 2 and page["next_offset"] is None
    own = {bank.refs["a1"][1].hex(), bank.refs["a3"][1].hex()}
    assert {r["record_ref"] for r in page["results"]} == own
    for r in page["results"]:
        assert r["person_id"] == bank.person_of("a1")
        # Another source's record: month and province only.
        assert r["other_sources"] == [{"source": "care", "event_date": "2023-02",
                                       "ubigeo_event": "1701", "ubigeo_residence": None}]
        assert set(r["same_source_refs"]) == own - {r["record_ref"]}
    with Session(bank.engine) as s:
        one = results_for_source(s, source_id=reta_id, limit=1)
    assert len(one["results"]) == 1 and one["next_offset"] == 1


def test_review_queue_decisions_are_kept_for_later_jobs(bank: Bank) -> None:
    for name, src in [("a1", "reta"), ("a2", "care"), ("b1", "reta"), ("b2", "care")]:
        bank.add(name, src)
    counts = bank.link([{"a1"}, {"a2"}, {"b1"}, {"b2"}],
                       review=[("a1", "a2", 0.8), ("b1", "b2", 0.82), ("a2", "a1", 0.8)])
    assert counts["review_pairs_new"] == 2
    with Session(bank.engine) as s:
        pending = list_pending(s)
        assert [p["score"] for p in pending] == [0.82, 0.8]
        assert pending[0]["left"]["source"] != pending[0]["right"]["source"]
        assert pending[0]["agreement"]["sex"] == "agree"
        assert "record_ref" not in pending[0]["left"]
        decide_pair(s, pair_id=pending[0]["id"], decision="link", decided_by="reviewer:x",
                    now=T0)
        decide_pair(s, pair_id=pending[1]["id"], decision="not_link", decided_by="reviewer:x",
                    now=T0)
        s.commit()
        records = load_current_records(s)
        decisions = load_decisions(s, records=records)
    assert len(decisions.must_link) == 1 and len(decisions.cannot_link) == 1
    with Session(bank.engine) as s:
        assert list_pending(s) == []
    bank.withdraw("a2")
    with Session(bank.engine) as s, pytest.raises(Conflict):
        decide_pair(s, pair_id=pending[1]["id"], decision="link", decided_by="reviewer:x",
                    now=T0)


def test_pending_pair_is_superseded_when_linked(bank: Bank) -> None:
    bank.add("a1", "reta")
    bank.add("a2", "care")
    bank.link([{"a1"}, {"a2"}], review=[("a1", "a2", 0.8)])
    counts = bank.link([{"a1", "a2"}])
    assert counts["review_pairs_superseded"] == 1


def test_snapshot_has_one_row_per_current_linked_record(bank: Bank) -> None:
    bank.add("a1", "reta")
    bank.add("a2", "care")
    bank.add("b1", "reta")
    bank.link([{"a1", "a2"}, {"b1"}])
    with Session(bank.engine) as s:
        frame = bank_snapshot(s)
    assert len(frame) == 3 and frame["person_id"].nunique() == 2
    assert frame["exploitation"].iloc[0] == ["laboral", "sexual"]
    assert str(frame["birth_year_min"].dtype) == "Int64"
    assert "record_ref" not in frame.columns and "locator" not in frame.columns
    from linkage_service.stats import SNAPSHOT_COLUMNS

    assert tuple(frame.columns) == SNAPSHOT_COLUMNS  # the contract every statistic reads
