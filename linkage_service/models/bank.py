"""Tables of the pseudonymous historical bank: persons, memberships, lineage, linkage jobs,
the clerical-review queue and the link / no-link decisions (see docs/bank.md).

A record is named here by its *logical* key ``(source_id, record_ref)``, not by the row id of
one version: a re-uploaded record gets a new ``encoded_record`` row but stays the same record, so
memberships, review pairs and decisions survive updates. ``Membership.record_row_id`` pins the
version that was linked, so a job can tell which records changed since.

Nothing here holds an identifier: pseudonyms are random (``P-`` + 10 base32 characters from
``secrets``), evidence is similarity and content attributes, actors are token labels.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from linkage_service.models.common import UTCDateTime, utcnow

__all__ = [
    "DECISION_KINDS",
    "JOB_STATUSES",
    "LINEAGE_KINDS",
    "OPEN_JOB_STATUSES",
    "PERSON_STATUSES",
    "REVIEW_STAGES",
    "REVIEW_STATUSES",
    "Decision",
    "LineagePublic",
    "LinkJob",
    "LinkJobPublic",
    "Membership",
    "Person",
    "PersonLineage",
    "ReviewPair",
    "ReviewVote",
]

PersonStatus = Literal["active", "merged", "split", "retired"]
PERSON_STATUSES: tuple[str, ...] = ("active", "merged", "split", "retired")
LINEAGE_KINDS: tuple[str, ...] = ("merge", "split")
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed", "interrupted")
# A job in one of these holds the bank's one job lane (unique index uq_link_job_one_open).
OPEN_JOB_STATUSES: tuple[str, ...] = ("queued", "running")
_OPEN_JOB = sa.text("status IN ('queued', 'running')")
# ``second_review``: waiting for a second reviewer (two reviewers disagreed, or a link would
# merge two persons already published before the job that raised the pair).
REVIEW_STATUSES: tuple[str, ...] = ("pending", "second_review", "linked", "not_linked",
                                    "superseded")
REVIEW_STAGES: tuple[str, ...] = ("first", "second")
DECISION_KINDS: tuple[str, ...] = ("must", "cannot")


class LinkJob(SQLModel, table=True):
    """One run of the linkage job: status, progress, parameters, counts and timings.

    One job at a time is the database's rule, not the process's: every job has ``lane`` 1 and
    a unique index over ``lane`` for the jobs that are queued or running lets only one of them
    exist, whichever process or PostgreSQL client inserts it. ``owner`` (host:pid:boot token of
    the process running it) and ``heartbeat_at`` tell a live job from one a dead process left.
    """

    __tablename__ = "link_job"
    __table_args__ = (
        Index("uq_link_job_one_open", "lane", unique=True,
              sqlite_where=_OPEN_JOB, postgresql_where=_OPEN_JOB),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="queued", max_length=16, index=True)
    progress: float = 0.0
    stage: str = Field(default="", max_length=60)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    timings: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    error: str | None = Field(default=None, max_length=500)
    requested_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lane: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    owner: str | None = Field(default=None, max_length=120)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LinkJobPublic(SQLModel):
    id: int
    status: str
    progress: float
    stage: str
    parameters: dict[str, Any]
    counts: dict[str, Any]
    timings: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Person(SQLModel, table=True):
    """A person of the bank. ``status`` other than ``active`` means the pseudonym lives on only
    through lineage (merged into another, split into others, or retired: all records withdrawn).
    """

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    pseudonym: str = Field(max_length=16, unique=True, index=True)
    status: str = Field(default="active", max_length=16, index=True)
    created_job_id: int | None = Field(default=None, foreign_key="link_job.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    """Record ``(source_id, record_ref)`` belongs (``current``) or belonged to a person."""

    __tablename__ = "membership"
    __table_args__ = (
        Index("ix_membership_current_record", "current", "source_id", "record_ref"),
        Index("ix_membership_person_current", "person_id", "current"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    source_id: int = Field(foreign_key="source.id")
    record_ref: bytes = Field(sa_type=LargeBinary)
    record_row_id: int = Field(foreign_key="encoded_record.id")
    job_id: int | None = Field(default=None, foreign_key="link_job.id")
    current: bool = True
    since: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PersonLineage(SQLModel, table=True):
    """An edge old pseudonym → new pseudonym left by a merge or a split."""

    __tablename__ = "person_lineage"

    id: int | None = Field(default=None, primary_key=True)
    old_pseudonym: str = Field(max_length=16, index=True)
    new_pseudonym: str = Field(max_length=16, index=True)
    kind: str = Field(max_length=8)
    job_id: int | None = Field(default=None, foreign_key="link_job.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LineagePublic(SQLModel):
    old_pseudonym: str
    new_pseudonym: str
    kind: str
    job_id: int | None
    at: datetime


class ReviewPair(SQLModel, table=True):
    """A pair in the review band, waiting for (or holding) a reviewer's decision.

    Records are ordered (``a`` < ``b`` by source id, then reference), so each pair has one row.
    ``evidence`` holds similarity and agreement flags only, never identities.
    """

    __tablename__ = "review_pair"
    __table_args__ = (
        UniqueConstraint("source_a", "ref_a", "source_b", "ref_b", name="uq_review_pair_records"),
        Index("ix_review_pair_queue", "status", "score", "id"),
        Index("ix_review_pair_sources", "status", "source_a", "source_b"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: int | None = Field(default=None, foreign_key="link_job.id")
    source_a: int = Field(foreign_key="source.id")
    ref_a: bytes = Field(sa_type=LargeBinary)
    source_b: int = Field(foreign_key="source.id")
    ref_b: bytes = Field(sa_type=LargeBinary)
    score: float
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default="pending", max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Bumped by every vote: a decision names the version it saw, so two reviewers deciding one
    # pair at once cannot overwrite each other (the second gets a Conflict).
    votes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    second_reason: str | None = Field(default=None, max_length=16)


class ReviewVote(SQLModel, table=True):
    """One reviewer's vote on a review pair (every vote is kept: agreement is measured on them).
    ``stage`` is ``first`` or ``second`` (the vote of a second review)."""

    __tablename__ = "review_vote"

    id: int | None = Field(default=None, primary_key=True)
    review_pair_id: int = Field(foreign_key="review_pair.id", index=True)
    decision: str = Field(max_length=16)
    stage: str = Field(default="first", max_length=8)
    reviewer: str = Field(max_length=200, index=True)
    token_id: str = Field(max_length=16)
    user_label: str | None = Field(default=None, max_length=200)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Decision(SQLModel, table=True):
    """A must-link or cannot-link between two records, respected by every later job."""

    __tablename__ = "link_decision"
    __table_args__ = (
        UniqueConstraint("source_a", "ref_a", "source_b", "ref_b", name="uq_link_decision_records"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    source_a: int = Field(foreign_key="source.id")
    ref_a: bytes = Field(sa_type=LargeBinary)
    source_b: int = Field(foreign_key="source.id")
    ref_b: bytes = Field(sa_type=LargeBinary)
    review_pair_id: int | None = Field(default=None, foreign_key="review_pair.id")
    decided_by: str = Field(default="", max_length=200)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
