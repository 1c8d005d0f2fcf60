"""Review, results and persons over HTTP against the real app, on SQLite and PostgreSQL.

The clustering is written with the bank's real writer from hand-made groups, so these tests pin
what each role sees (and never sees) independently of the linkage core; test_bank_service.py
runs the whole path with the core.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlmodel import Session

from linkage_service.bank.records import load_current_records
from linkage_service.bank.writer import ClusterOutcome, ReviewCandidate, write_outcome
from linkage_service.custody import custody_key_for
from linkage_service.models.bank import LinkJob
from linkage_service.models.common import utcnow
from vinculo_common.errors import ServiceError


def refs(n: int, seed: int) -> list[bytes]:
    return [bytes([seed]) + i.to_bytes(31, "big") for i in range(n)]


RETA, CARE = refs(3, 1), refs(2, 2)


def link_groups(service: Any, groups: list[list[bytes]],
                review: list[tuple[bytes, bytes, float]] = ()) -> None:
    """Write a clustering (groups of record refs) with the real writer."""
    with Session(service.engine) as s:
        job = LinkJob(status="running")
        s.add(job)
        s.flush()
        records = load_current_records(s)
        # The bank names records by their stored reference (custody): map the sources' refs.
        key, present = custody_key_for(s), set(records.record_refs)
        sources = {int(x) for x in records.source_ids}

        def stored(ref: bytes) -> bytes:
            return next(v for v in (key.stored_ref(sid, ref) for sid in sources) if v in present)

        groups = [[stored(ref) for ref in group] for group in groups]
        review = [(stored(a), stored(b), sc) for a, b, sc in review]
        label = {ref: g for g, group in enumerate(groups) for ref in group}
        labels = np.array([label[records.record_refs[i]] for i in range(len(records))])
        row = {ref: i for i, ref in enumerate(records.record_refs)}
        cands = [ReviewCandidate(left=row[a], right=row[b], score=sc, evidence={"dice": sc})
                 for a, b, sc in review]
        write_outcome(s, records=records, outcome=ClusterOutcome(labels=labels, review=cands),
                      job_id=job.id, now=utcnow())
        job.status = "done"  # one open job at a time: the next call writes another
        s.commit()


@pytest.fixture
def linked(service: Any, make_batch: Any) -> Any:
    service.uploader("reta").upload(make_batch("reta", RETA))
    service.uploader("care").upload(make_batch("care", CARE))
    link_groups(service, [[RETA[0], CARE[0], RETA[2]], [RETA[1]], [CARE[1]]],
                review=[(RETA[1], CARE[1], 0.81)])
    return service


def test_results_show_a_source_only_its_own_records(linked: Any) -> None:
    reta = linked.uploader("reta").get("/results")
    care = linked.uploader("care").get("/results")
    assert {r["record_ref"] for r in reta["results"]} == {r.hex() for r in RETA}
    assert {r["record_ref"] for r in care["results"]} == {r.hex() for r in CARE}
    by_ref = {r["record_ref"]: r for r in reta["results"]}
    first = by_ref[RETA[0].hex()]
    assert [o["source"] for o in first["other_sources"]] == ["care"]
    assert first["same_source_refs"] == [RETA[2].hex()]
    assert first["person_id"] == by_ref[RETA[2].hex()]["person_id"]
    assert by_ref[RETA[1].hex()]["other_sources"] == []
    # Nothing of another source's records leaks, not even its references.
    text = str(reta)
    assert all(r.hex() not in text for r in CARE)
    assert linked.count("audit_entry", "action = 'results.read'") == 2


def test_results_refuse_other_roles(linked: Any) -> None:
    with pytest.raises(ServiceError) as info:
        linked.client(linked.token("analyst")).get("/results")
    assert info.value.status == 403


def test_review_lists_identity_free_evidence_and_keeps_decisions(linked: Any) -> None:
    reviewer = linked.client(linked.token("reviewer"))
    pairs = reviewer.get("/review")["pairs"]
    assert len(pairs) == 1
    pair = pairs[0]
    assert pair["score"] == 0.81 and pair["evidence"] == {"dice": 0.81}
    assert {pair["left"]["source"], pair["right"]["source"]} == {"reta", "care"}
    assert pair["agreement"]["sex"] == "agree"
    text = str(pair)
    assert all(r.hex() not in text for r in RETA + CARE) and "locator" not in text
    decided = reviewer.post(f"/review/{pair['id']}", json={"decision": "not_link",
                                                            "reason": "años distintos"})
    assert decided["status"] == "not_linked"
    assert reviewer.get("/review")["pairs"] == []
    assert linked.count("link_decision", "kind = 'cannot'") == 1
    assert linked.count("audit_entry", "action = 'review.not_link'") == 1
    with pytest.raises(ServiceError) as info:
        reviewer.post("/review/999", json={"decision": "link"})
    assert info.value.status == 404
    with pytest.raises(ServiceError) as info:
        reviewer.post(f"/review/{pair['id']}", json={"decision": "maybe"})
    assert info.value.status == 422
    with pytest.raises(ServiceError) as info:
        linked.client(linked.token("operator")).get("/review")
    assert info.value.status == 403


def test_persons_follow_lineage_for_operator_and_analyst(linked: Any) -> None:
    results = linked.uploader("reta").get("/results")["results"]
    by_ref = {r["record_ref"]: r["person_id"] for r in results}
    big, alone = by_ref[RETA[0].hex()], by_ref[RETA[1].hex()]
    link_groups(linked, [[RETA[0], CARE[0], RETA[2], RETA[1]], [CARE[1]]])  # merge
    for role in ("operator", "analyst"):
        view = linked.client(linked.token(role)).get(f"/persons/{alone}")
        assert view["status"] == "merged"
        assert [p["pseudonym"] for p in view["current"]] == [big]
        assert view["current"][0]["sources"] == ["care", "reta"]
        assert len(view["current"][0]["records"]) == 4
        assert "record_ref" not in str(view) and "locator" not in str(view)
    operator = linked.client(linked.token("operator"))
    with pytest.raises(ServiceError) as info:
        operator.get("/persons/P-AAAAAAAAAA")
    assert info.value.status == 404
    with pytest.raises(ServiceError) as info:
        operator.get("/persons/not-a-pseudonym")
    assert info.value.status == 422
    with pytest.raises(ServiceError) as info:
        linked.uploader("reta").get(f"/persons/{big}")
    assert info.value.status == 403
    assert linked.count("audit_entry", "action = 'person.read'") == 2
