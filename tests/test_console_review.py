"""The review queue at work: paging and filters (API and console), votes kept, two reviewers on
one pair (the second is told, nothing is lost), second review when reviewers disagree or a link
would merge two persons already published, and Cohen's κ for the auditor.

``build_review_bank`` is shared with test_console_browser.py.
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
from tests.test_console import MALE, csrf_of, login, refs
from vinculo_common.errors import ServiceError

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _job(s: Session) -> int:
    job = LinkJob(status="done", progress=1.0)
    s.add(job)
    s.flush()
    assert job.id is not None
    return job.id


def build_review_bank(service: Any, make_batch: Any, *, pairs: int = 55,
                      published: int = 5) -> dict[str, Any]:
    """RETA records (women) and care records (men), each its own person, and ``pairs`` review
    pairs RETA[i]×care[i] (scores 0.95 down). The first ``published`` care records were linked by
    an earlier job, so linking those pairs would merge two published persons."""
    reta, care = refs(pairs, 3), refs(pairs, 4)
    service.uploader("reta").upload(make_batch("reta", reta))
    service.uploader("care").upload(make_batch("care", care[:published], attributes=MALE))
    with Session(service.engine) as s:
        job = _job(s)
        records = load_current_records(s)
        write_outcome(s, records=records, job_id=job, now=utcnow(),
                      outcome=ClusterOutcome(labels=np.arange(len(records))))
        s.commit()
    service.uploader("care").upload(make_batch("care", care[published:], attributes=MALE))
    with Session(service.engine) as s:
        job = _job(s)
        records = load_current_records(s)
        # The bank names records by their stored reference (custody): each source's own ref
        # maps to one row through the custody key.
        key = custody_key_for(s)
        row = {(int(records.source_ids[i]), ref): i for i, ref in enumerate(records.record_refs)}

        def at(ref: bytes) -> int:
            return next(i for (sid, stored), i in row.items() if key.stored_ref(sid, ref) == stored)

        review = [ReviewCandidate(left=at(reta[i]), right=at(care[i]),
                                  score=round(0.95 - 0.004 * i, 4),
                                  evidence={"dice": round(0.95 - 0.004 * i, 4)})
                  for i in range(pairs)]
        labels = np.array([records.old_person[i] if records.old_person[i] >= 0 else 10_000 + i
                           for i in range(len(records))])
        write_outcome(s, records=records, job_id=job, now=utcnow(),
                      outcome=ClusterOutcome(labels=labels, review=review))
        s.commit()
    return {"pairs": pairs, "published": published, "job": job}


@pytest.fixture
def queue(service: Any, make_batch: Any) -> dict[str, Any]:
    return build_review_bank(service, make_batch)


def _token(service: Any, user: str, role: str = "reviewer") -> str:
    from linkage_service.auth import create_token

    with Session(service.engine) as s:
        clear, _row = create_token(s, role=role, user_label=user)
        s.commit()
    return clear


@SQLITE
def test_queue_pages_and_filters_in_the_api_and_the_console(service: Any, queue: Any) -> None:
    api = service.client(service.token("reviewer"))
    page = api.get("/review", params={"limit": 20, "offset": 40})
    assert page["total"] == 55 and len(page["pairs"]) == 15
    scores = [p["score"] for p in api.get("/review", params={"limit": 55})["pairs"]]
    assert scores == sorted(scores, reverse=True)
    band = api.get("/review", params={"score_min": 0.9, "score_max": 0.94})
    assert band["total"] == len([s for s in scores if 0.9 <= s <= 0.94]) > 0
    assert api.get("/review", params={"sources": "care:reta"})["total"] == 55
    assert api.get("/review", params={"sources": "reta:sistra"})["total"] == 0
    assert api.get("/review", params={"job_id": queue["job"]})["total"] == 55
    assert api.get("/review", params={"job_id": 1})["total"] == 0
    first = api.get("/review/next")
    assert first["position"] == 1 and first["previous"] is None and first["total"] == 55
    second = api.get("/review/next", params={"after": first["pair"]["id"]})
    assert second["pair"]["id"] == first["next"] and second["previous"] == first["pair"]["id"]
    assert api.get("/review/summary")["source_pairs"] == ["reta:care"]

    client = login(service, service.token("reviewer"))
    html = client.get("/consola/revision/lista?pagina=3").text
    assert "página 3 de 3" in html
    assert html.count('href="/consola/revision?cola=pending&amp;par=') == 15
    one = client.get("/consola/revision?min=0.9&max=0.94").text
    assert f"1 de {band['total']}" in one and 'data-tecla="s"' in one
    assert client.get("/consola/revision?min=x", headers={"Accept": "text/html"}).status_code \
        == 422


@SQLITE
def test_two_reviewers_on_one_pair_the_second_is_told_and_nothing_is_lost(
    service: Any, queue: Any
) -> None:
    ana, beto, carla = (_token(service, u) for u in ("ana", "beto", "carla"))
    pair = service.client(ana).get("/review")["pairs"][-1]  # not a published merge
    pid = pair["id"]
    first = login(service, ana)
    other = login(service, beto)
    page_a = first.get(f"/consola/revision?par={pid}").text
    page_b = other.get(f"/consola/revision?par={pid}").text
    assert first.post(f"/consola/revision/{pid}", data={
        "decision": "link", "votos": "0", "csrf": csrf_of(page_a)}).status_code == 303
    late = other.post(f"/consola/revision/{pid}", data={
        "decision": "not_link", "votos": "0", "reason": "edades distintas",
        "csrf": csrf_of(page_b)})
    assert late.status_code == 409
    assert "otro revisor ya votó" in late.text and "NO se registró" in late.text
    assert 'value="edades distintas"' in late.text  # the reason typed is kept in the form
    assert service.count("review_vote") == 1
    assert service.count("link_decision", "kind = 'must'") == 1
    # Beto, told, still disagrees: his vote now counts and the pair goes to second review.
    again = service.client(beto).post(f"/review/{pid}",
                                      json={"decision": "not_link", "expected_votes": 1})
    assert again["status"] == "second_review" and again["second_reason"] == "disagree"
    assert service.count("link_decision") == 0  # a contested decision is not enforced
    with pytest.raises(ServiceError, match="segunda revisión la hace otra persona"):
        service.client(ana).post(f"/review/{pid}", json={"decision": "link"})
    queue_c = service.client(carla).get("/review", params={"queue": "second"})
    assert [p["id"] for p in queue_c["pairs"]] == [pid]
    assert service.client(ana).get("/review", params={"queue": "second"})["total"] == 0
    final = service.client(carla).post(f"/review/{pid}", json={"decision": "not_link"})
    assert final["status"] == "not_linked" and service.count("link_decision",
                                                             "kind = 'cannot'") == 1
    agreement = service.client(service.token("auditor")).get("/review/agreement")
    assert agreement["pairs"] == 1 and agreement["table"]["link/not_link"] == 1


@SQLITE
def test_a_link_that_merges_published_persons_needs_a_second_reviewer(
    service: Any, queue: Any
) -> None:
    ana, beto = _token(service, "ana"), _token(service, "beto")
    pairs = service.client(ana).get("/review", params={"limit": 100})["pairs"]
    merge = pairs[0]  # RETA[0]×care[0]: care[0] was linked by the first job
    answer = service.client(ana).post(f"/review/{merge['id']}", json={"decision": "link"})
    assert answer["status"] == "second_review" and answer["second_reason"] == "merge"
    assert service.count("link_decision") == 0
    plain = pairs[-1]
    assert service.client(ana).post(f"/review/{plain['id']}",
                                    json={"decision": "link"})["status"] == "linked"
    summary = service.client(ana).get("/review/summary")["counts"]
    assert summary["pending"] == 53 and summary["second_review"] == 1
    assert summary["decided_today_by_me"] == 2 and summary["decided_today"] == 2
    client = login(service, beto)
    html = client.get("/consola/revision?cola=second").text
    assert f"Par {merge['id']}" in html and "uniría dos personas" in html
    done = client.post(f"/consola/revision/{merge['id']}", data={
        "decision": "link", "votos": "1", "cola": "second", "csrf": csrf_of(html)})
    assert done.status_code == 303 and "hecho=linked" in done.headers["location"]
    assert service.count("link_decision", "kind = 'must'") == 2
    agreement = service.client(service.token("auditor")).get("/review/agreement")
    assert agreement["pairs"] == 1 and agreement["kappa"] is None  # one label only: no κ
    auditor = login(service, service.token("auditor"))
    assert "Acuerdo entre revisores" in auditor.get("/consola/auditoria").text


@SQLITE
def test_a_pair_with_a_withdrawn_record_is_a_conflict_to_read_and_to_vote(
    service: Any, queue: Any
) -> None:
    """Reading a pair whose record was withdrawn answers 409, as voting on it does (the state of
    the record, not the request, is the problem); the console says so with the same status."""
    api = service.client(service.token("reviewer"))
    last = api.get("/review", params={"limit": 55})["pairs"][-1]
    assert last["score"] == round(0.95 - 0.004 * 54, 4)
    assert service.uploader("reta").withdraw([refs(55, 3)[54]])["withdrawn"] == 1
    for call in (lambda: api.get(f"/review/{last['id']}"),
                 lambda: api.post(f"/review/{last['id']}", json={"decision": "link"})):
        with pytest.raises(ServiceError, match="retirado") as info:
            call()
        assert info.value.status == 409
    page = login(service, service.token("reviewer")).get(f"/consola/revision?par={last['id']}")
    assert page.status_code == 409 and "retirado" in page.text
