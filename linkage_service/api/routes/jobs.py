"""Linkage jobs: ``POST /api/v1/jobs`` starts one, ``GET /api/v1/jobs/{job_id}`` follows it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from linkage_service.api.deps import RequireRole, SessionDep, SettingsDep
from linkage_service.api.openapi import IdPath, errors
from linkage_service.auth import Actor
from linkage_service.bank.jobs import job_public, launch_job, read_job, read_jobs
from linkage_service.models.bank import LinkJobPublic

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
    session: SessionDep,
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
    job = launch_job(session, actor=actor, upper_threshold=body.upper_threshold,
                     lower_threshold=body.lower_threshold,
                     linkage_schema=settings.linkage_schema, lease_s=settings.job_lease_seconds)
    return job_public(job)


@router.get("")
def listing(
    session: SessionDep, actor: Actor = RequireRole("operator"),
) -> list[LinkJobPublic]:
    """The latest 50 jobs, newest first.

    Example: ``GET /api/v1/jobs`` → ``[{"id": 4, "status": "done", …}, …]``
    """
    jobs = read_jobs(session, actor=actor)
    session.commit()
    return jobs


@router.get("/{job_id}", responses=errors(404))
def status(
    job_id: IdPath, session: SessionDep, actor: Actor = RequireRole("operator"),
) -> LinkJobPublic:
    """Status, progress, parameters, counts and timings of a job.

    Example: ``GET /api/v1/jobs/4`` → ``{"status": "running", "progress": 0.4, …}``
    """
    job = read_job(session, actor=actor, job_id=job_id)
    session.commit()
    return job
