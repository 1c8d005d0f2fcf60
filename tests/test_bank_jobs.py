"""Jobs run in-process (no thread): status, progress, counts, failure kept and audited, and a
job left behind by a stopped process."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from linkage_service.bank.jobs import create_job, get_job, run_job
from linkage_service.models.bank import LinkJob
from linkage_service.models.common import utcnow


def refs(n: int, seed: int) -> list[bytes]:
    return [bytes([seed]) + i.to_bytes(31, "big") for i in range(n)]


def test_run_job_in_process_records_counts_and_timings(service: Any, make_batch: Any) -> None:
    service.uploader("reta").upload(make_batch("reta", refs(30, 1)))
    with Session(service.engine) as s:
        job = create_job(s, requested_by="operator:test", parameters={}, now=utcnow())
        s.commit()
        job_id = job.id
    assert run_job(service.engine, job_id=job_id) == "done"
    with Session(service.engine) as s:
        done = get_job(s, job_id=job_id)
        assert (done.status, done.progress, done.stage) == ("done", 1.0, "terminado")
        assert done.counts["records"] == 30 and done.counts["link_records"] == 30
        assert done.counts["persons_created"] == done.counts["persons_active"]
        assert {"load_s", "link_s", "write_s", "total_s", "link_total_s"} <= set(done.timings)
        assert done.parameters["thresholds"]["method"]
        assert done.started_at is not None and done.finished_at is not None
    assert service.count("audit_entry", "action = 'link.job.done'") == 1
    assert service.count("membership", "current") == 30


def test_failed_job_keeps_its_reason_and_is_audited(service: Any, make_batch: Any) -> None:
    service.uploader("reta").upload(make_batch("reta", refs(3, 1)))
    # A record whose CLK has another length cannot be linked with the rest (the CLK is sealed
    # under the custody key: re-seal the first record with a 64-byte one).
    from linkage_service.custody import custody_key_for, open_record, seal_record

    with Session(service.engine) as s:
        key = custody_key_for(s)
        row = s.execute(sa.text("SELECT id, source_id, record_ref, version, sealed "
                                "FROM encoded_record ORDER BY id LIMIT 1")).one()
        where = {"source_id": row.source_id, "record_ref": bytes(row.record_ref),
                 "version": row.version}
        record = open_record(key, bytes(row.sealed), **where)
        blob = seal_record(key, **where, clk=bytes(64), sections=record.sections,
                           attributes=record.attributes, original_ref=record.record_ref,
                           locator=record.locator)
        s.execute(sa.text("UPDATE encoded_record SET sealed = :b WHERE id = :i"),
                  {"b": blob, "i": row.id})
        s.commit()
    with Session(service.engine) as s:
        job = create_job(s, requested_by="operator:test", parameters={}, now=utcnow())
        s.commit()
        job_id = job.id
    assert run_job(service.engine, job_id=job_id) == "failed"
    with Session(service.engine) as s:
        failed = get_job(s, job_id=job_id)
        assert failed.status == "failed" and "CLKs de distinto largo" in (failed.error or "")
    assert service.count("audit_entry", "action = 'link.job.failed'") == 1
    assert service.count("person") == 0  # nothing half-written


def test_job_left_by_a_stopped_process_is_marked_interrupted(service: Any) -> None:
    with Session(service.engine) as s:
        s.add(LinkJob(status="running", requested_by="operator:old"))
        s.commit()
        fresh = create_job(s, requested_by="operator:test", parameters={}, now=utcnow())
        s.commit()
        assert fresh.status == "queued"
        stale = s.execute(sa.select(LinkJob).where(LinkJob.requested_by == "operator:old")
                          ).scalar_one()
        assert stale.status == "interrupted" and "interrumpido" in (stale.error or "")
    assert run_job(service.engine, job_id=fresh.id) == "done"  # empty bank: nothing to link


def test_nothing_new_skips_the_core_but_applies_withdrawals(service: Any, make_batch: Any) -> None:
    client = service.uploader("reta")
    client.upload(make_batch("reta", refs(4, 1)))

    def job() -> LinkJob:
        with Session(service.engine) as s:
            created = create_job(s, requested_by="operator:test", parameters={}, now=utcnow())
            s.commit()
            job_id = created.id
        assert run_job(service.engine, job_id=job_id) == "done"
        with Session(service.engine) as s:
            return get_job(s, job_id=job_id)

    assert "link_skipped" not in job().counts
    again = job()
    assert again.counts["link_skipped"] == 1 and again.counts["memberships_opened"] == 0
    client.withdraw([refs(4, 1)[0]])
    after = job()
    assert after.counts["link_skipped"] == 1 and after.counts["records_withdrawn_from_persons"] == 1
    client.upload(make_batch("reta", refs(5, 1)[4:]))
    assert "link_skipped" not in job().counts  # a new record: the core runs
