"""One linkage job at a time, enforced by the database, and recovery after a crash.

Concurrent ``POST /jobs`` are fired at real ``vinculo serve`` processes (one, then two on the
same database); afterwards every record has exactly one current membership and the persons are
those of the same history run alone. A server killed with SIGKILL during a job leaves nothing of
it; the restarted service marks it ``interrupted``. Uploads, withdrawals, review decisions and
re-identification approvals racing a job proceed and leave the bank consistent.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from conftest import ServiceHarness
from sqlmodel import Session

from linkage_service.bank.jobs import create_job, recover_jobs, run_job
from linkage_service.bank.linking import core_linker
from linkage_service.models.bank import LinkJob
from linkage_service.models.common import utcnow
from vinculo_common.batch import LOCATOR_SIZE, BatchWriter

pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------- synthetic people


def people_batch(path: Path, *, keys: Path, source: str, people: range, seed: int = 7) -> Path:
    """One record per synthetic person in ``people``; the same person gets nearly the same CLK
    (3 % of bits flipped, by source) and the same attributes in every source, so the linkage
    core has real links to find."""
    from client_sdk.keys import load_linkage_kcv, load_signing_key
    from vinculo_common.schemas import DEFAULT_SCHEMA_ID, load_linkage_schema, schema_fingerprint

    writer = BatchWriter(
        path, source=source, schema_id=DEFAULT_SCHEMA_ID,
        schema_fingerprint=schema_fingerprint(load_linkage_schema(DEFAULT_SCHEMA_ID)),
        secret_check=load_linkage_kcv(keys), clk_bits=1024,
        signing_key=load_signing_key(keys, source),
    )
    noise = np.random.default_rng([seed, sum(source.encode())])
    for p in people:
        bits = np.random.default_rng([seed, p]).random(1024) < 0.35
        flip = noise.random(1024) < 0.03
        clk = np.packbits(bits ^ flip).tobytes()
        writer.add(
            record_ref=source.encode()[:1] + p.to_bytes(31, "big"), clk=clk,
            locator=bytes(LOCATOR_SIZE),
            attributes={"sex": "FM"[p % 2], "birth_year_min": 1970 + p % 40,
                        "birth_year_max": 1970 + p % 40, "nationality": "PER",
                        "ubigeo_birth": "150101", "event_date": "2023-05",
                        "exploitation": ["sexual"]},
        )
    writer.close()
    return path


def partition(engine: Any) -> set[frozenset[tuple[str, bytes]]]:
    """The active persons as sets of (source, record_ref): pseudonyms are random, groups not."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT m.person_id, s.name, m.record_ref FROM membership m "
            "JOIN person p ON p.id = m.person_id JOIN source s ON s.id = m.source_id "
            "WHERE m.current AND p.status = 'active'")).all()
    groups: dict[int, set[tuple[str, bytes]]] = {}
    for pid, source, ref in rows:
        groups.setdefault(int(pid), set()).add((str(source), bytes(ref)))
    return {frozenset(g) for g in groups.values()}


def check_invariants(engine: Any) -> None:
    """Each current record: exactly one current membership, in an active person; nothing
    else holds one."""
    with engine.connect() as conn:
        doubled = conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT source_id, record_ref FROM membership WHERE current "
            "GROUP BY source_id, record_ref HAVING count(*) > 1) d")).scalar_one()
        records = conn.execute(sa.text(
            "SELECT count(*) FROM encoded_record WHERE is_current")).scalar_one()
        members = conn.execute(sa.text(
            "SELECT count(*) FROM membership m JOIN encoded_record r ON r.source_id = "
            "m.source_id AND r.record_ref = m.record_ref AND r.is_current "
            "JOIN person p ON p.id = m.person_id AND p.status = 'active' WHERE m.current"
        )).scalar_one()
        stray = conn.execute(sa.text(
            "SELECT count(*) FROM membership m JOIN person p ON p.id = m.person_id "
            "WHERE m.current AND p.status <> 'active'")).scalar_one()
        open_jobs = conn.execute(sa.text(
            "SELECT count(*) FROM link_job WHERE status IN ('queued', 'running')")).scalar_one()
    assert (doubled, stray, open_jobs) == (0, 0, 0)
    assert members == records, f"{records} current records, {members} current memberships"


def wait_job(url: str, token: str, job_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/api/v1/jobs/{job_id}",
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code == 200 and response.json()["status"] not in ("queued",
                                                                               "running"):
            job: dict[str, Any] = response.json()
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end")


def fire(urls: list[str], token: str, tries: int) -> list[tuple[int, dict[str, Any]]]:
    """``tries`` POST /jobs released at once (a barrier), spread over ``urls``."""
    barrier = threading.Barrier(tries)
    out: list[tuple[int, dict[str, Any]]] = [(0, {})] * tries

    def one(i: int) -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            response = client.post(f"{urls[i % len(urls)]}/api/v1/jobs", json={},
                                   headers={"Authorization": f"Bearer {token}"})
            out[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(tries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def server_env(harness: ServiceHarness) -> dict[str, str]:
    data_dir = harness.settings.data_dir
    return {"VINCULO_DATA_DIR": str(data_dir)} if data_dir else {}


# --------------------------------------------------------------------------- concurrent starts

ROUNDS, TRIES, BASE, STEP = 6, 8, 600, 100


@pytest.mark.timeout(1200)  # two servers to start and six jobs, on a shared machine
def test_concurrent_job_starts_run_exactly_one(
    db_url: str, keys_dir: Path, tmp_path: Path, start_server: Callable[..., Any],
) -> None:
    harness = ServiceHarness(db_url, keys_dir)
    operator = harness.token("operator")
    servers = [start_server(db_url, env=server_env(harness)),
               start_server(db_url, env=server_env(harness))]
    alone = ServiceHarness(f"sqlite:///{tmp_path / 'alone.db'}", keys_dir)
    ran: list[int] = []
    try:
        for r in range(ROUNDS):
            # New people every round (some in both sources), so each job does real linkage.
            lo = 0 if r == 0 else BASE + (r - 1) * STEP
            hi = BASE if r == 0 else lo + STEP
            reta = people_batch(tmp_path / f"reta-{r}.vnb", keys=keys_dir, source="reta",
                                people=range(lo, hi))
            care = people_batch(tmp_path / f"care-{r}.vnb", keys=keys_dir, source="care",
                                people=range(lo + (hi - lo) // 3, hi + (hi - lo) // 3))
            for h in (harness, alone):
                h.uploader("reta").upload(reta)
                h.uploader("care").upload(care)
            # Rounds alternate: all tries at one server, then spread over both.
            urls = [s.url for s in servers] if r % 2 else [servers[0].url]
            answers = fire(urls, operator, TRIES)
            codes = sorted(code for code, _ in answers)
            started = [body["id"] for code, body in answers if code == 202]
            refused = [body for code, body in answers if code == 409]
            assert len(started) + len(refused) == TRIES, codes
            assert all("trabajo de enlace en curso" in b["detail"] for b in refused)
            ran.append(len(started))
            for job_id in started:
                assert wait_job(servers[0].url, operator, job_id)["status"] == "done"
            check_invariants(harness.engine)
            # The same history, one job per round, nobody racing.
            with Session(alone.engine) as s:
                job = create_job(s, requested_by="operator:alone", parameters={}, now=utcnow())
                s.commit()
                assert job.id is not None
            assert run_job(alone.engine, job_id=job.id) == "done"
            assert partition(harness.engine) == partition(alone.engine)
        # Jobs never overlapped in time, and every refusal was audited.
        with harness.engine.connect() as conn:
            spans = conn.execute(sa.text(
                "SELECT started_at, finished_at FROM link_job ORDER BY id")).all()
            denied = conn.execute(sa.text(
                "SELECT count(*) FROM audit_entry WHERE action = 'link.job.create' "
                "AND outcome = 'denied'")).scalar_one()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        assert denied == ROUNDS * TRIES - sum(ran)
        print(f"\nconcurrent job starts ({db_url.split(':')[0]}): {ROUNDS} rounds x {TRIES} "
              f"tries = {ROUNDS * TRIES}; jobs run per round: {ran}")
        # One job per round as a rule; a try delayed past the end of the round's job (a loaded
        # machine) rightly starts the next one: the spans above prove no two ever overlapped.
        assert all(n >= 1 for n in ran), ran
        # Results agree too: each record once, with the same co-members as the lone run.
        for h in (harness, alone):
            rows = h.uploader("reta").get("/results")["results"]
            assert len(rows) == len({r["record_ref"] for r in rows}) == BASE + (ROUNDS - 1) * STEP
    finally:
        alone.close()
        harness.close()


# --------------------------------------------------------------------------- crash recovery


@pytest.mark.timeout(900)
def test_kill_9_during_a_job_leaves_nothing_and_restart_marks_it_interrupted(
    db_url: str, keys_dir: Path, tmp_path: Path, start_server: Callable[..., Any],
) -> None:
    harness = ServiceHarness(db_url, keys_dir)
    operator = harness.token("operator")
    harness.uploader("reta").upload(people_batch(tmp_path / "r.vnb", keys=keys_dir,
                                                 source="reta", people=range(0, 2000)))
    harness.uploader("care").upload(people_batch(tmp_path / "c.vnb", keys=keys_dir,
                                                 source="care", people=range(500, 2500)))
    server = start_server(db_url, env=server_env(harness))
    headers = {"Authorization": f"Bearer {operator}"}
    job_id = httpx.post(f"{server.url}/api/v1/jobs", json={}, headers=headers,
                        timeout=30).json()["id"]
    while True:  # kill as soon as it runs (linking takes seconds on 4,000 records)
        job = httpx.get(f"{server.url}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()
        if job["status"] == "running" and job["progress"] >= 0.1:
            break
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.02)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    assert harness.count("link_job", f"id = {job_id} AND status = 'running'") == 1

    restarted = start_server(db_url, env=server_env(harness))
    job = httpx.get(f"{restarted.url}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()
    assert job["status"] == "interrupted" and "interrumpido" in job["error"]
    # None of its work is there: no person, membership, lineage or review pair of that job.
    for table, column in (("person", "created_job_id"), ("membership", "job_id"),
                          ("person_lineage", "job_id"), ("review_pair", "job_id")):
        assert harness.count(table, f"{column} = {job_id}") == 0, table
    assert harness.count("audit_entry", "action = 'link.job.interrupted'") == 1
    # It does not block the bank: the next job runs and the bank is whole.
    again = httpx.post(f"{restarted.url}/api/v1/jobs", json={}, headers=headers,
                       timeout=30).json()["id"]
    assert wait_job(restarted.url, operator, again)["status"] == "done"
    check_invariants(harness.engine)
    harness.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def open_job(engine: Any, *, owner: str | None, beat_age_s: float) -> int:
    now = utcnow()
    with Session(engine) as s:
        job = LinkJob(status="running", requested_by="operator:old", owner=owner,
                      created_at=now, heartbeat_at=now.fromtimestamp(now.timestamp() - beat_age_s,
                                                                   now.tzinfo))
        s.add(job)
        s.commit()
        assert job.id is not None
        return job.id


def status(engine: Any, job_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT status FROM link_job WHERE id = :i"),
                                {"i": job_id}).scalar_one())


def test_a_crashed_claim_is_recovered_and_a_live_one_is_not(service: ServiceHarness) -> None:
    import socket

    host = socket.gethostname()
    # A live process on this host (pytest's parent) with a fresh heartbeat: left alone, and a
    # new job is refused while it is open.
    live = open_job(service.engine, owner=f"{host}:{os.getppid()}:feedbeef", beat_age_s=0)
    assert recover_jobs(service.engine, lease_s=60) == []
    operator = service.client(service.token("operator"))
    with pytest.raises(Exception) as refused:
        operator.post("/jobs", json={})
    assert getattr(refused.value, "status", None) == 409
    # Its heartbeat stops: after the lease it is taken as dead.
    with service.engine.begin() as conn:
        table = LinkJob.__table__  # type: ignore[attr-defined]
        conn.execute(sa.update(table).where(table.c.id == live)
                     .values(heartbeat_at=utcnow().replace(year=2020)))
    assert recover_jobs(service.engine, lease_s=60) == [live]
    # A dead pid on this host: interrupted at once, however fresh its heartbeat.
    dead = open_job(service.engine, owner=f"{host}:{dead_pid()}:0badf00d", beat_age_s=0)
    assert status(service.engine, dead) == "running"
    assert recover_jobs(service.engine, lease_s=60) == [dead]
    assert status(service.engine, dead) == "interrupted"
    # Another machine with a fresh heartbeat: only the lease can tell, so it stays until then.
    remote = open_job(service.engine, owner="otra-maquina:1234:abcd", beat_age_s=0)
    assert recover_jobs(service.engine, lease_s=60) == []
    assert recover_jobs(service.engine, lease_s=60, now=utcnow().replace(year=2099)) == [remote]
    # The app does the same on start.
    stale = open_job(service.engine, owner=f"{host}:{dead_pid()}:0badf00d", beat_age_s=0)
    from linkage_service.app import create_app

    create_app(service.settings).state.engine.dispose()
    assert status(service.engine, stale) == "interrupted"


def test_a_job_declared_dead_while_running_writes_nothing(
    service: ServiceHarness, tmp_path: Path,
) -> None:
    service.uploader("reta").upload(people_batch(tmp_path / "r.vnb", keys=service.keys,
                                                 source="reta", people=range(0, 200)))
    with Session(service.engine) as s:
        job = create_job(s, requested_by="operator:test", parameters={}, now=utcnow())
        s.commit()
        job_id = job.id
    assert job_id is not None

    def linker(**kwargs: Any) -> Any:
        result = core_linker(**kwargs)
        # Meanwhile another process found this job dead (a long pause, a lost lease): what
        # its recover_jobs writes.
        with service.engine.begin() as conn:
            conn.execute(sa.text("UPDATE link_job SET status = 'interrupted' WHERE id = :i"),
                         {"i": job_id})
        return result

    assert run_job(service.engine, job_id=job_id, linker=linker) == "interrupted"
    assert status(service.engine, job_id) == "interrupted"
    assert service.count("person") == 0 and service.count("membership") == 0


# --------------------------------------------------------------------------- racing a job


def test_uploads_withdrawals_decisions_and_reid_racing_a_job(
    service: ServiceHarness, tmp_path: Path,
) -> None:

    keys = service.keys
    service.uploader("reta").upload(people_batch(tmp_path / "r.vnb", keys=keys, source="reta",
                                                 people=range(0, 300)))
    service.uploader("care").upload(people_batch(tmp_path / "c.vnb", keys=keys, source="care",
                                                 people=range(200, 400)))
    operator = service.client(service.token("operator"))
    first = operator.post("/jobs", json={})["id"]
    deadline = time.monotonic() + 60
    while operator.get(f"/jobs/{first}")["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # A pending pair of two different persons for the reviewer to decide during the next job.
    # (the bank names records by the stored, custody-keyed reference of each source's own ref)
    reta_ref = _stored_ref(service, "reta", b"r" + (5).to_bytes(31, "big"))
    care_ref = _stored_ref(service, "care", b"c" + (390).to_bytes(31, "big"))
    seventh = _stored_ref(service, "reta", b"r" + (7).to_bytes(31, "big"))
    with service.engine.begin() as conn:
        ids = dict(conn.execute(sa.text("SELECT name, id FROM source")).all())
        conn.execute(sa.text(
            "INSERT INTO review_pair (source_a, ref_a, source_b, ref_b, score, evidence, "
            "status, created_at) VALUES (:sa, :ra, :sb, :rb, 0.8, '{}', 'pending', :t)"),
            {"sa": ids["reta"], "ra": reta_ref, "sb": ids["care"], "rb": care_ref,
             "t": utcnow()})
        pseudonym = conn.execute(sa.text(
            "SELECT p.pseudonym FROM person p JOIN membership m ON m.person_id = p.id "
            "WHERE m.current AND m.record_ref = :r"), {"r": seventh}
        ).scalar_one()
    # New records arrive so the next job has work; it is held between linking and writing.
    service.uploader("reta").upload(people_batch(tmp_path / "r2.vnb", keys=keys,
                                                 source="reta", people=range(300, 350)))
    reached, go = threading.Event(), threading.Event()

    def held(**kwargs: Any) -> Any:
        result = core_linker(**kwargs)
        reached.set()
        assert go.wait(60)
        return result

    with Session(service.engine) as s:
        job = create_job(s, requested_by="operator:test", parameters={}, now=utcnow())
        s.commit()
        job_id = job.id
    assert job_id is not None
    done: list[str] = []
    runner = threading.Thread(target=lambda: done.append(
        run_job(service.engine, job_id=job_id, linker=held)))
    runner.start()
    assert reached.wait(60)
    # While it runs: a second job is refused; everything else proceeds.
    with pytest.raises(Exception) as refused:
        operator.post("/jobs", json={})
    assert getattr(refused.value, "status", None) == 409
    service.uploader("reta").upload(people_batch(tmp_path / "r3.vnb", keys=keys,
                                                 source="reta", people=range(350, 360)))
    service.uploader("care").upload(people_batch(tmp_path / "c2.vnb", keys=keys, source="care",
                                                 people=range(210, 212), seed=8))  # new versions
    withdrawn = b"c" + (250).to_bytes(31, "big")
    assert service.uploader("care").withdraw([withdrawn])["withdrawn"] == 1
    reviewer = service.client(service.token("reviewer"))
    pair = reviewer.get("/review")["pairs"][0]
    assert reviewer.post(f"/review/{pair['id']}", json={"decision": "link"})["status"] == "linked"
    requester = service.client(service.token("reid_requester"))
    approver = service.client(service.token("reid_approver"))
    rq = requester.create_reid_request(persons=[pseudonym], legal_basis="Ley 28950, art. 7",
                                       purpose="Carpeta fiscal sintética 1-2026")
    assert approver.approve_reid(rq["id"], reason="procede")["status"] == "approved"
    go.set()
    runner.join(60)
    assert done == ["done"]
    # The job wrote its own snapshot: the decided pair stays decided, the withdrawn record
    # keeps its membership until the next job (as after any withdrawal), new records wait.
    assert service.count("review_pair", f"id = {pair['id']} AND status = 'linked'") == 1
    stored = _stored_ref(service, "care", withdrawn)  # the bank names it under custody
    assert service.count("membership", "current AND record_ref = "
                         + ("X'" + stored.hex() + "'" if "sqlite" in service.db_url
                            else "'\\x" + stored.hex() + "'::bytea")) == 1
    # The next job applies everything that happened meanwhile, and the bank is whole.
    again = operator.post("/jobs", json={})["id"]
    deadline = time.monotonic() + 60
    while operator.get(f"/jobs/{again}")["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    check_invariants(service.engine)
    groups = partition(service.engine)
    assert not any(("care", withdrawn) in g for g in groups)
    assert any({("reta", reta_ref), ("care", care_ref)} <= g for g in groups)  # the decision
    assert sum(len(g) for g in groups) == 360 + 200 - 1


def _stored_ref(service: Any, source: str, ref: bytes) -> bytes:
    """The reference the bank stores for a source's own ``ref`` (a custody-keyed HMAC)."""
    from sqlmodel import Session

    from linkage_service.custody import custody_key_for
    from linkage_service.models import Source

    with Session(service.engine) as session:
        source_id = session.execute(
            sa.select(Source.id).where(Source.name == source)).scalar_one()  # type: ignore[arg-type]
        return custody_key_for(session).stored_ref(int(source_id), ref)
