"""Two people acting on the same thing at the same moment, through the API over a real
database (SQLite and PostgreSQL): reviewers voting on one pair with the same view of it, and
approvers approving (or denying) one re-identification request, uploaders sending one file.
Exactly one wins; the others are told (409; for the file, "already stored"), nothing is counted
twice, every attempt is in the audit log, the audit chain still verifies."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from linkage_service.audit import verify
from tests.conftest import ServiceHarness
from tests.test_console import build_bank
from tests.test_reid_api import client_for
from vinculo_common.errors import ServiceError

ROUNDS = 4


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once (a barrier), each in its thread; the answers or the errors' status."""
    gate = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        gate.wait()
        try:
            answers[i] = calls[i]()
        except ServiceError as exc:
            answers[i] = exc.status

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_reviewers_voting_at_once_on_one_pair(service: ServiceHarness, make_batch: Any) -> None:
    build_bank(service, make_batch)
    reviewers = [client_for(service, "reviewer", user=f"revisor.{i}") for i in range(4)]
    pair = reviewers[0].get("/review", params={"limit": 1})["pairs"][0]
    votes = pair.get("votes", 0)
    answers = _race([
        (lambda r=r: r.post(f"/review/{pair['id']}", json={
            "decision": "not_link", "reason": "otra persona", "expected_votes": votes}))
        for r in reviewers])
    won = [a for a in answers if isinstance(a, dict)]
    assert len(won) == 1 and Counter(a for a in answers if not isinstance(a, dict)) == {409: 3}
    with service.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM review_vote WHERE review_pair_id = :p"),
                            {"p": pair["id"]}).scalar_one() == votes + 1
    assert verify(service.engine, service.app.state.service_key.public_key()).ok


def test_approvers_approving_one_request_at_once(
    service: ServiceHarness, make_batch: Any,
) -> None:
    bank = build_bank(service, make_batch)
    requester = client_for(service, "reid_requester", user="ana.requester")
    for round_ in range(ROUNDS):
        request = requester.create_reid_request(
            persons=[bank["pseudonyms"][round_]], legal_basis="Ley 28950",
            purpose=f"Carpeta fiscal {round_:04d}-2026 (sintética)")
        approvers = [client_for(service, "reid_approver", user=f"aprobador.{round_}.{i}")
                     for i in range(3)]
        rid = request["id"]
        answers = _race([(lambda a=a, rid=rid: a.approve_reid(rid, reason="procede"))
                         for a in approvers])
        won = [a for a in answers if isinstance(a, dict)]
        assert len(won) == 1 and won[0]["status"] == "approved", answers
        assert all(a == 409 for a in answers if not isinstance(a, dict)), answers
    with service.engine.connect() as conn:
        approvals = Counter(str(o) for (o,) in conn.execute(sa.text(
            "SELECT outcome FROM audit_entry WHERE action = 'reid.request.approve'")))
    assert approvals["ok"] == ROUNDS
    assert verify(service.engine, service.app.state.service_key.public_key()).ok


def test_a_denial_and_an_approval_at_once(service: ServiceHarness, make_batch: Any) -> None:
    bank = build_bank(service, make_batch)
    requester = client_for(service, "reid_requester", user="ana.requester")
    outcomes: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        request = requester.create_reid_request(
            persons=[bank["pseudonyms"][round_]], legal_basis="Ley 28950",
            purpose=f"Carpeta fiscal {round_:04d}-2026 (sintética)")
        yes = client_for(service, "reid_approver", user=f"aprueba.{round_}")
        no = client_for(service, "reid_approver", user=f"deniega.{round_}")
        rid = request["id"]
        answers = _race([
            lambda yes=yes, rid=rid: yes.approve_reid(rid, reason="procede"),
            lambda no=no, rid=rid: no.post(f"/reid/requests/{rid}/deny",
                                           json={"reason": "no procede"}),
        ])
        won = [a for a in answers if isinstance(a, dict)]
        assert len(won) == 1 and [a for a in answers if not isinstance(a, dict)] == [409]
        final = requester.get(f"/reid/requests/{request['id']}")["status"]
        assert final == won[0]["status"] in ("approved", "denied")
        outcomes[final] += 1
        with service.engine.connect() as conn:
            packages = conn.execute(sa.text(
                "SELECT count(*) FROM reid_package WHERE request_id = :r"),
                {"r": request["id"]}).scalar_one()
        assert (packages > 0) == (final == "approved")
    assert verify(service.engine, service.app.state.service_key.public_key()).ok



def test_one_batch_uploaded_many_times_at_once(service: ServiceHarness, make_batch: Any) -> None:
    """The same file sent by several uploads at the same moment is stored once; every sender
    gets a success (one ``stored``, the others the same upload again), none a 5xx."""
    batch = make_batch("reta", [bytes([7]) + i.to_bytes(31, "big") for i in range(50)])
    uploaders = [service.uploader("reta") for _ in range(6)]
    answers = _race([(lambda u=u: u.upload(batch)) for u in uploaders])
    assert all(isinstance(a, dict) for a in answers), answers
    assert len({a["id"] for a in answers}) == 1
    with service.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM upload")).scalar_one() == 1
        assert conn.execute(sa.text(
            "SELECT count(*) FROM encoded_record WHERE is_current")).scalar_one() == 50
        stored = Counter(str(a) for (a,) in conn.execute(sa.text(
            "SELECT action FROM audit_entry WHERE action LIKE 'upload.%'")))
    assert stored["upload.store"] == 1 and stored["upload.repeat"] == 5
