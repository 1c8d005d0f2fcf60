"""Linkage jobs: create, run (in-process, optionally on a background thread), report.

A job reads the current records and the reviewers' decisions, runs the pure linkage core
(``linkage_service.linkage.link``) over arrays, and writes the outcome in ONE transaction (with
its audit entry): either the whole new state of the bank is visible, or none of it. Progress is
written in small separate transactions, so ``GET /api/v1/jobs/{id}`` can follow it.

One job at a time: creating a job while another is queued or running in this process raises
Conflict. A job left ``queued``/``running`` by a process that stopped is marked ``failed`` when
the next job is created.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from linkage_service.bank.linking import Linker, run_linkage
from linkage_service.bank.records import (
    BankRecords,
    DecisionPairs,
    load_current_records,
    load_decisions,
)
from linkage_service.bank.writer import ClusterOutcome, write_outcome
from linkage_service.logs import log_event
from linkage_service.models.bank import LinkJob, LinkJobPublic
from linkage_service.models.common import utcnow
from vinculo_common.errors import Conflict, NotFound, VinculoError

__all__ = ["create_job", "forget_job", "get_job", "job_public", "run_job", "start_job"]

_JOB: sa.Table = LinkJob.__table__  # type: ignore[attr-defined]
# Jobs running in this process, by (database, job id): one process may serve several databases.
_ALIVE: set[tuple[str, int]] = set()
_ALIVE_LOCK = threading.Lock()
_ACTOR = "service:link-job"


def _db_key(bind: Any) -> str:
    return str(bind.url.render_as_string(hide_password=True))


def create_job(
    session: Session, *, requested_by: str, parameters: dict[str, Any], now: datetime
) -> LinkJob:
    """Queue a job (flushes; the caller commits). Raises Conflict while another one runs.

    Example: ``create_job(session, requested_by="operator:ab12", parameters={}, now=utcnow())``
    """
    db = _db_key(session.get_bind())
    with _ALIVE_LOCK:
        open_jobs = session.execute(
            sa.select(LinkJob).where(_JOB.c.status.in_(("queued", "running")))
        ).scalars().all()
        for job in open_jobs:
            if (db, job.id) in _ALIVE:
                raise Conflict(
                    f"ya hay un trabajo de enlace en curso (job {job.id}): espere a que termine "
                    "(a linkage job is already running)"
                )
            job.status = "failed"
            job.error = "interrumpido: el servicio se detuvo durante el trabajo (interrupted)"
            job.finished_at = now
        job = LinkJob(status="queued", parameters=dict(parameters), requested_by=requested_by,
                      created_at=now)
        session.add(job)
        session.flush()
        assert job.id is not None
        _ALIVE.add((db, job.id))
        return job


def list_jobs(session: Session, *, limit: int = 50) -> list[LinkJob]:
    """The latest jobs, newest first."""
    rows = session.execute(sa.select(LinkJob).order_by(_JOB.c.id.desc()).limit(limit))
    return list(rows.scalars())


def get_job(session: Session, *, job_id: int) -> LinkJob:
    job = session.get(LinkJob, job_id)
    if job is None:
        raise NotFound("trabajo de enlace desconocido (unknown job)")
    return job


def job_public(job: LinkJob) -> LinkJobPublic:
    return LinkJobPublic.model_validate(job, from_attributes=True)


def _update(engine: Engine, job_id: int, **values: Any) -> None:
    with Session(engine) as session:
        session.execute(sa.update(_JOB).where(_JOB.c.id == job_id).values(**values))
        session.commit()


def _audit(session: Session, *, action: str, job_id: int, reason: str | None,
           outcome: str) -> None:
    from linkage_service.api.deps import audit_record_function

    record = audit_record_function()
    if record is not None:
        record(session, actor=_ACTOR, action=action, objects=[f"job:{job_id}"], reason=reason,
               outcome=outcome)


def _nothing_to_link(
    engine: Engine, *, records: BankRecords, decisions: DecisionPairs, job_id: int
) -> bool:
    if len(records) == 0 or int(records.old_person.min()) < 0:
        return False
    with Session(engine) as session:
        last = session.execute(
            sa.select(_JOB.c.counts).where(_JOB.c.status == "done", _JOB.c.id != job_id)
            .order_by(_JOB.c.id.desc()).limit(1)
        ).scalar()
    if not isinstance(last, dict):
        return False
    return bool(last.get("decisions_version") == decisions.version)


def run_job(
    engine: Engine,
    *,
    job_id: int,
    linker: Linker | None = None,
    clock: Callable[[], datetime] = utcnow,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> str:
    """Run a queued job to the end in this thread; return its final status (done / failed).

    A failure is kept in the job (``error``: the error's message, never data) and audited; it
    does not raise, so a background thread never dies silently.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        with Session(engine) as session:
            job = get_job(session, job_id=job_id)
            parameters = dict(job.parameters or {})
        _update(engine, job_id, status="running", started_at=clock(), stage="cargando",
                progress=0.02)

        def progress(stage: str, fraction: float) -> None:
            _update(engine, job_id, stage=stage[:60], progress=round(0.1 + 0.75 * fraction, 3))

        t0 = time.perf_counter()
        with Session(engine) as session:
            records = load_current_records(session)
            decisions = load_decisions(session, records=records)
        timings["load_s"] = round(time.perf_counter() - t0, 3)
        _update(engine, job_id, stage="enlazando", progress=0.1)

        t0 = time.perf_counter()
        if _nothing_to_link(engine, records=records, decisions=decisions, job_id=job_id):
            # Every record is linked as it is and no decision changed: the core would only
            # return the bank as it stands, so do not run it (withdrawals are still applied).
            outcome = ClusterOutcome(labels=records.old_person.copy())
            link_counts = {"skipped": 1}
            used = {**parameters, "note": "sin registros nuevos ni decisiones nuevas: "
                    "el núcleo no se ejecutó (nothing new to link)"}
        else:
            outcome, link_counts, used = run_linkage(
                records=records, decisions=decisions, parameters=parameters,
                progress=progress, linker=linker,
            )
        timings["link_s"] = round(time.perf_counter() - t0, 3)
        timings.update(outcome.timings)
        _update(engine, job_id, stage="guardando", progress=0.88)

        t0 = time.perf_counter()
        with Session(engine) as session:
            now = clock()
            counts: dict[str, Any] = write_outcome(
                session, records=records, outcome=outcome, job_id=job_id, now=now,
                random_bytes=random_bytes,
            )
            counts.update({f"link_{k}": v for k, v in link_counts.items()})
            counts["decisions_must_link"] = len(decisions.must_link)
            counts["decisions_cannot_link"] = len(decisions.cannot_link)
            counts["decisions_version"] = decisions.version
            timings["write_s"] = round(time.perf_counter() - t0, 3)
            timings["total_s"] = round(time.perf_counter() - started, 3)
            session.execute(sa.update(_JOB).where(_JOB.c.id == job_id).values(
                status="done", progress=1.0, stage="terminado", counts=counts, timings=timings,
                parameters=used, finished_at=now,
            ))
            _audit(session, action="link.job.done", job_id=job_id, reason=None, outcome="ok")
            session.commit()
        log_event("link.job.done", job_id=job_id, count=counts.get("records"),
                  duration_ms=int(1000 * timings["total_s"]))
        return "done"
    except Exception as exc:  # kept in the job: a background thread must not die silently
        message = str(exc) if isinstance(exc, VinculoError) else type(exc).__name__
        log_event("link.job.failed", level=40, job_id=job_id, error=type(exc).__name__)
        timings["total_s"] = round(time.perf_counter() - started, 3)
        with Session(engine) as session:
            session.execute(sa.update(_JOB).where(_JOB.c.id == job_id).values(
                status="failed", stage="falló", error=message[:500], timings=timings,
                finished_at=clock(),
            ))
            _audit(session, action="link.job.failed", job_id=job_id, reason=message[:500],
                   outcome="failed")
            session.commit()
        return "failed"
    finally:
        with _ALIVE_LOCK:
            _ALIVE.discard((_db_key(engine), job_id))


def start_job(engine: Engine, *, job_id: int, linker: Linker | None = None) -> threading.Thread:
    """Run the job on a daemon thread and return the thread (callers poll the job row)."""
    thread = threading.Thread(
        target=run_job, kwargs={"engine": engine, "job_id": job_id, "linker": linker},
        name=f"vinculo-link-job-{job_id}", daemon=True,
    )
    thread.start()
    return thread


def forget_job(engine: Engine, job_id: int) -> None:
    """Drop a job that will never run (its creation was rolled back) from this process."""
    with _ALIVE_LOCK:
        _ALIVE.discard((_db_key(engine), job_id))
