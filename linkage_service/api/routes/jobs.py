"""Linkage jobs: ``POST /api/v1/jobs`` starts one, ``GET /api/v1/jobs/{job_id}`` follows it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from linkage_service.api.deps import (
    AuditDep,
    RequireRole,
    SessionDep,
    SettingsDep,
    record_outside_request,
)
from linkage_service.api.openapi import IdPath, errors
from linkage_service.auth import Actor
from linkage_service.bank.jobs import (
    create_job,
    forget_job,
    get_job,
    job_public,
    list_jobs,
    start_job,
)
from linkage_service.bank.migration import bank_schema
from linkage_service.models.bank import LinkJobPublic
from linkage_service.models.common import utcnow
from vinculo_common.errors import Conflict, InputError

__all__ = ["JobCreate", "router"]

router = APIRouter(prefix="/jobs", tags=["jobs"])


class JobCreate(BaseModel):
    """Optional fixed thresholds on the match probability for this run; by default the
    linkage core chooses them from the data (expected false-link and missed-link rates).
    Strict: ``false`` or ``"0.5"`` is not a threshold."""

    model_config = ConfigDict(strict=True)

    upper_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    lower_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


@router.post("", status_code=202, responses=errors(409))
def start(
    request: Request,
    session: SessionDep,
    audit: AuditDep,
    settings: SettingsDep,
    body: JobCreate | None = None,
    actor: Actor = RequireRole("operator"),
) -> LinkJobPublic:
    """Queue a linkage job over the whole bank and start it in the background (202).

    One job at a time, whichever server process is asked: while a job is queued or running
    a second request gets 409 (audited as ``link.job.create``, outcome ``denied``).

    Example: ``POST /api/v1/jobs {}`` → ``{"id": 4, "status": "queued", …}``
    """
    body = body or JobCreate(upper_threshold=settings.match_upper_threshold,
                             lower_threshold=settings.match_lower_threshold)
    # The bank's one schema: the core applies its Dice calibration (a hardened schema's).
    # A bank migrated to another schema links under that one (bank.migration).
    migrated = bank_schema(session)
    parameters = {**body.model_dump(exclude_none=True),
                  "linkage_schema": migrated[0] if migrated else settings.linkage_schema}
    if parameters.get("lower_threshold", 0.0) > parameters.get("upper_threshold", 1.0):
        raise InputError("lower_threshold debe ser ≤ upper_threshold")
    try:
        job = create_job(session, requested_by=actor.label, parameters=parameters, now=utcnow(),
                         lease_s=settings.job_lease_seconds)
    except Conflict as exc:
        # The request's transaction is gone with the refused INSERT: audit on its own.
        session.rollback()
        record_outside_request(request.app.state.engine, actor=actor.label,
                               action="link.job.create", objects=["job"],
                               reason=str(exc)[:500], outcome="denied")
        raise
    assert job.id is not None
    try:
        audit("link.job.create", objects=[f"job:{job.id}"])
        session.commit()
    except BaseException:
        forget_job(request.app.state.engine, job.id)
        raise
    start_job(request.app.state.engine, job_id=job.id, lease_s=settings.job_lease_seconds)
    return job_public(job)


@router.get("")
def listing(
    session: SessionDep, audit: AuditDep, actor: Actor = RequireRole("operator"),
) -> list[LinkJobPublic]:
    """The latest 50 jobs, newest first.

    Example: ``GET /api/v1/jobs`` → ``[{"id": 4, "status": "done", …}, …]``
    """
    jobs = [job_public(job) for job in list_jobs(session)]
    audit("link.job.list", objects=[f"job:{job.id}" for job in jobs[:1]])
    session.commit()
    return jobs


@router.get("/{job_id}", responses=errors(404))
def status(
    job_id: IdPath, session: SessionDep, audit: AuditDep, actor: Actor = RequireRole("operator"),
) -> LinkJobPublic:
    """Status, progress, parameters, counts and timings of a job.

    Example: ``GET /api/v1/jobs/4`` → ``{"status": "running", "progress": 0.4, …}``
    """
    job = job_public(get_job(session, job_id=job_id))
    audit("link.job.read", objects=[f"job:{job_id}"])
    session.commit()
    return job
