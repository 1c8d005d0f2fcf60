"""The pseudonymous historical bank, as plain functions over a session (see docs/bank.md).

- ``bank.records``: current records → arrays for the linkage core; decisions as index pairs
- ``bank.linking``: the executor that runs the core (``linkage_service.linkage``)
- ``bank.plan``: which person each new cluster is (stable pseudonyms, merges, splits) — pure
- ``bank.writer``: writes persons, memberships, lineage and review pairs in one transaction
- ``bank.jobs``: linkage jobs (queue, run in-process or on a thread, progress, counts)
- ``bank.persons``: following lineage, a person's records, ``records_of_persons`` (reid)
- ``bank.review``: the review queue and link / not-link decisions
- ``bank.results``: results for a source (its own records only)
- ``bank.snapshot``: the bank as a DataFrame for statistics
- ``bank.migration``: moving the bank to another linkage schema (migration batches, cut-over,
  re-link, overlap report)
"""

from __future__ import annotations

from linkage_service.bank.jobs import create_job, get_job, job_public, run_job, start_job
from linkage_service.bank.persons import (
    current_records,
    person_view,
    records_of_persons,
    resolve_pseudonym,
)
from linkage_service.bank.pseudonyms import check_pseudonym, new_pseudonym
from linkage_service.bank.results import results_for_source
from linkage_service.bank.review import decide_pair, list_pending
from linkage_service.bank.snapshot import bank_snapshot

__all__ = [
    "bank_snapshot",
    "check_pseudonym",
    "create_job",
    "current_records",
    "decide_pair",
    "get_job",
    "job_public",
    "list_pending",
    "new_pseudonym",
    "person_view",
    "records_of_persons",
    "resolve_pseudonym",
    "results_for_source",
    "run_job",
    "start_job",
]
