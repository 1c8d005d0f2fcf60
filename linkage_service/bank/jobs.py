"""Linkage jobs: create, run (in-process, optionally on a background thread), report.

A job runs the pure linkage core over the bank's arrays and writes its whole outcome, with its
audit entry, in ONE transaction; progress goes in small separate ones. One job at a time,
enforced by a unique index over open jobs (Conflict, 409); a job whose process died is marked
``interrupted`` and never commits (its owner, heartbeat and lease: docs/operations.md).

"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linkage_service.audit import record
from linkage_service.audit.log import record_alone
from linkage_service.auth import Actor
from linkage_service.bank.linking import Linker, run_linkage
from linkage_service.bank.records import (
    BankRecords,
    DecisionPairs,
    load_current_records,
    load_decisions,
)
from linkage_service.bank.writer import ClusterOutcome, write_outcome
from linkage_service.logs import log_event
from linkage_service.models.bank import OPEN_JOB_STATUSES, LinkJob, LinkJobPublic
from linkage_service.models.common import utcnow
from linkage_service.store.migration_batches import bank_schema
from vinculo_common.errors import Conflict, InputError, NotFound, VinculoError

__all__ = ["DEFAULT_LEASE_S", "JobLost", "create_job", "forget_job", "get_job", "job_public",
           "launch_job", "list_jobs", "process_owner", "read_job", "read_jobs", "recover_jobs",
           "run_job", "start_job"]

_JOB: sa.Table = LinkJob.__table__  # type: ignore[attr-defined]
_OPEN = _JOB.c.status.in_(OPEN_JOB_STATUSES)
# Jobs running in this process, by (database, job id): one process may serve several databases.
_ALIVE: set[tuple[str, int]] = set()
_ALIVE_LOCK = threading.Lock()
_ACTOR = "service:link-job"
# This process's boot token: a restarted container may get the same pid as the process it
# replaced, never the same token.
_BOOT = secrets.token_hex(4)
DEFAULT_LEASE_S = 120.0
INTERRUPTED = ("interrumpido: el proceso que lo ejecutaba se detuvo; nada de su trabajo quedó "
               "escrito (interrupted: its process stopped, none of its work was written)")


class JobLost(Conflict):
    """The job was declared dead (interrupted) by another process while it still ran."""


def _db_key(bind: Any) -> str:
    return str(bind.url.render_as_string(hide_password=True))


def _host() -> str:
    return socket.gethostname()[:80]


def process_owner() -> str:
    """``host:pid:boot``, the ``owner`` this process writes on the jobs it runs."""
    return f"{_host()}:{os.getpid()}:{_BOOT}"


def _owner_gone(owner: str | None) -> bool:
    """True when ``owner`` certainly no longer runs: an older version's job (no owner), a pid
    that no longer exists on this host, or this pid with another boot token."""
    parts = (owner or "").split(":")
    if len(parts) < 3:
        return True
    host, pid_text, boot = ":".join(parts[:-2]), parts[-2], parts[-1]
    if host != _host():
        return False  # another machine: only its heartbeat can tell
    if not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return boot != _BOOT
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover_jobs(engine: Engine, *, lease_s: float = DEFAULT_LEASE_S,
                 now: datetime | None = None) -> list[int]:
    """Mark ``interrupted`` (and audit) every open job whose process is gone; return their ids.

    Run when the service starts and before a job is created, so a dead job never blocks the
    bank. A live job is left alone: its pid runs on this host, or its heartbeat is recent.
    """
    now = now or utcnow()
    with Session(engine) as session:
        rows = session.execute(
            sa.select(_JOB.c.id, _JOB.c.owner, _JOB.c.heartbeat_at, _JOB.c.created_at)
            .where(_OPEN)
        ).all()
        ended: list[int] = []
        for job_id, owner, beat, created in rows:
            if (_db_key(engine), int(job_id)) in _ALIVE:
                continue  # running in this very process
            last = beat or created
            if not (_owner_gone(owner) or (now - last).total_seconds() > lease_s):
                continue
            same_beat = _JOB.c.heartbeat_at.is_(None) if beat is None else (
                _JOB.c.heartbeat_at == beat)
            result = session.execute(
                sa.update(_JOB).where(_JOB.c.id == job_id, _OPEN, same_beat)
                .values(status="interrupted", stage="interrumpido", error=INTERRUPTED,
                        finished_at=now)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                _audit(session, action="link.job.interrupted", job_id=int(job_id),
                       reason=INTERRUPTED, outcome="failed")
                ended.append(int(job_id))
        session.commit()
    for job_id in ended:
        log_event("link.job.interrupted", level=30, job_id=job_id)
    return ended


def create_job(
    session: Session, *, requested_by: str, parameters: dict[str, Any], now: datetime,
    lease_s: float = DEFAULT_LEASE_S,
) -> LinkJob:
    """Queue a job (flushes; the caller commits). Raises Conflict while another one is open.

    The unique index decides: on PostgreSQL a second INSERT waits for the first transaction
    and fails when it commits; on SQLite the write lock serialises them the same way.

    Example: ``create_job(session, requested_by="operator:ab12", parameters={}, now=utcnow())``
    """
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    recover_jobs(engine, lease_s=lease_s, now=now)
    job = LinkJob(status="queued", parameters=dict(parameters), requested_by=requested_by,
                  created_at=now, owner=process_owner(), heartbeat_at=now)
    session.add(job)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        open_id = session.execute(sa.select(_JOB.c.id).where(_OPEN)).scalar()
        which = f" (job {open_id})" if open_id is not None else ""
        raise Conflict(
            f"ya hay un trabajo de enlace en curso{which}: espere a que termine "
            "(a linkage job is already running)"
        ) from None
    assert job.id is not None
    with _ALIVE_LOCK:
        _ALIVE.add((_db_key(engine), job.id))
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


def _update(engine: Engine, job_id: int, **values: Any) -> bool:
    """Progress of this process's own open job; False (nothing written) once it is not."""
    with Session(engine) as session:
        result = session.execute(
            sa.update(_JOB)
            .where(_JOB.c.id == job_id, _OPEN, _JOB.c.owner == process_owner())
            .values(heartbeat_at=utcnow(), **values)
        )
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _heartbeat(engine: Engine, job_id: int, stop: threading.Event, every_s: float) -> None:
    while not stop.wait(every_s):
        try:
            if not _update(engine, job_id):
                return
        except Exception as exc:  # a busy database: the next beat tries again
            log_event("link.job.heartbeat_failed", level=30, job_id=job_id,
                      error=type(exc).__name__)


def _audit(session: Session, *, action: str, job_id: int, reason: str | None,
           outcome: str) -> None:
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
    lease_s: float = DEFAULT_LEASE_S,
) -> str:
    """Run a queued job to the end in this thread; return its final status (done / failed /
    interrupted: another process found it dead and nothing was written).

    A failure is kept in the job (``error``: the error's message, never data) and audited; it
    does not raise, so a background thread never dies silently.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(engine, job_id, stop,
                            min(10.0, max(0.5, lease_s / 6))),
                            name=f"vinculo-job-heartbeat-{job_id}", daemon=True)
    try:
        with Session(engine) as session:
            parameters = dict(get_job(session, job_id=job_id).parameters or {})
            claimed = session.execute(
                sa.update(_JOB).where(_JOB.c.id == job_id, _JOB.c.status == "queued")
                .values(status="running", owner=process_owner(), heartbeat_at=clock(),
                        started_at=clock(), stage="cargando", progress=0.02)
            ).rowcount  # type: ignore[attr-defined]
            session.commit()
        if not claimed:
            raise JobLost(f"el trabajo {job_id} ya no está en cola (job is not queued)")
        beat.start()

        def progress(stage: str, fraction: float) -> None:
            _update(engine, job_id, stage=stage[:60], progress=round(0.1 + 0.75 * fraction, 3))

        t0 = time.perf_counter()
        with Session(engine) as session:
            records = load_current_records(session)
            decisions = load_decisions(session, records=records)
        if parameters.get("relink_all"):
            # Every record linked afresh (a change of linkage schema, bank.migration): the core
            # sees no existing person; the writer still maps clusters to the old persons.
            records.old_person[:] = -1
            records.last_model = None
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
            # The claim comes first: it takes SQLite's write lock (the reads below then see one
            # state) and fails when another process has declared this job dead meanwhile.
            mine = session.execute(
                sa.update(_JOB).where(_JOB.c.id == job_id, _JOB.c.status == "running",
                                      _JOB.c.owner == process_owner())
                .values(heartbeat_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if not mine:
                session.rollback()
                raise JobLost(f"el trabajo {job_id} fue declarado interrumpido; no se escribió "
                              "nada (job was declared interrupted, nothing written)")
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
    except JobLost:
        log_event("link.job.lost", level=30, job_id=job_id)
        return "interrupted"
    except Exception as exc:  # kept in the job: a background thread must not die silently
        message = str(exc) if isinstance(exc, VinculoError) else type(exc).__name__
        log_event("link.job.failed", level=40, job_id=job_id, error=type(exc).__name__)
        timings["total_s"] = round(time.perf_counter() - started, 3)
        with Session(engine) as session:
            failed = session.execute(sa.update(_JOB).where(_JOB.c.id == job_id, _OPEN).values(
                status="failed", stage="falló", error=message[:500], timings=timings,
                finished_at=clock(),
            )).rowcount  # type: ignore[attr-defined]
            if failed:
                _audit(session, action="link.job.failed", job_id=job_id, reason=message[:500],
                       outcome="failed")
            session.commit()
        return "failed"
    finally:
        stop.set()
        with _ALIVE_LOCK:
            _ALIVE.discard((_db_key(engine), job_id))


def start_job(engine: Engine, *, job_id: int, linker: Linker | None = None,
              lease_s: float = DEFAULT_LEASE_S) -> threading.Thread:
    """Run the job on a daemon thread and return the thread (callers poll the job row)."""
    thread = threading.Thread(
        target=run_job,
        kwargs={"engine": engine, "job_id": job_id, "linker": linker, "lease_s": lease_s},
        name=f"vinculo-link-job-{job_id}", daemon=True,
    )
    thread.start()
    return thread


def forget_job(engine: Engine, job_id: int) -> None:
    """Drop a job that will never run (its creation was rolled back) from this process."""
    with _ALIVE_LOCK:
        _ALIVE.discard((_db_key(engine), job_id))


# The operator's use cases, for the API and the console alike.

def launch_job(
    session: Session, *, actor: Actor, upper_threshold: float | None,
    lower_threshold: float | None, linkage_schema: str, lease_s: float,
    now: datetime | None = None,
) -> LinkJob:
    """Queue a job, record ``link.job.create`` with it, commit, and start it in the background.

    Thresholds left None are chosen by the core from the data; ``linkage_schema`` is the service's
    one schema (the core applies its Dice calibration). Refuses ``lower_threshold >
    upper_threshold`` (InputError). While another job is open the Conflict is recorded on its
    own (the INSERT's transaction is gone), outcome ``denied``.
    """
    parameters: dict[str, Any] = {
        name: value for name, value in (("upper_threshold", upper_threshold),
                                        ("lower_threshold", lower_threshold))
        if value is not None}
    # A bank migrated while this service ran links under the schema it was switched to.
    migrated = bank_schema(session)
    parameters["linkage_schema"] = migrated[0] if migrated else linkage_schema
    if parameters.get("lower_threshold", 0.0) > parameters.get("upper_threshold", 1.0):
        raise InputError("lower_threshold debe ser ≤ upper_threshold")
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    try:
        job = create_job(session, requested_by=actor.label, parameters=parameters,
                         now=now or utcnow(), lease_s=lease_s)
    except Conflict as exc:
        session.rollback()
        record_alone(engine, actor=actor.label, action="link.job.create", objects=["job"],
                     reason=str(exc)[:500], outcome="denied")
        raise
    assert job.id is not None
    try:
        record(session, actor=actor.label, action="link.job.create", objects=[f"job:{job.id}"])
        session.commit()
    except BaseException:
        forget_job(engine, job.id)
        raise
    start_job(engine, job_id=job.id, lease_s=lease_s)
    return job


def read_jobs(session: Session, *, actor: Actor) -> list[LinkJobPublic]:
    """The latest 50 jobs, newest first; ``link.job.list`` names the newest."""
    jobs = [job_public(job) for job in list_jobs(session)]
    record(session, actor=actor.label, action="link.job.list",
           objects=[f"job:{job.id}" for job in jobs[:1]])
    return jobs


def read_job(session: Session, *, actor: Actor, job_id: int) -> LinkJobPublic:
    """One job's status, progress, parameters and counts; ``link.job.read``."""
    job = job_public(get_job(session, job_id=job_id))
    record(session, actor=actor.label, action="link.job.read", objects=[f"job:{job_id}"])
    return job
