"""Results of a source, as an institution gets them: wait for a linkage job, page through the
source's results, and open the sealed locators locally into its own record ids.

The CLI (``vinculo link``, ``vinculo results``) and the evaluation run call these functions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from client_sdk.api_client import ServiceClient

__all__ = ["RESULT_COLUMNS", "fetch_results", "resolve_results", "wait_for_job"]

RESULT_COLUMNS = ("record_id", "person_id", "other_sources", "other_events",
                  "same_source_record_ids")


def wait_for_job(
    client: ServiceClient, job_id: int, *, poll_s: float = 1.0, timeout_s: float | None = None,
    echo: bool = True,
) -> dict[str, Any]:
    """Poll a job until it is done; return it. Raises ServiceError if it failed or timed out."""
    from vinculo_common.errors import ServiceError

    start = time.monotonic()
    shown = None
    while True:
        try:
            job = client.get_job(job_id)
        except ServiceError as exc:
            # A big job's final write holds SQLite's lock for a while: 503 means "ask again".
            if exc.status != 503 or (timeout_s is not None
                                     and time.monotonic() - start > timeout_s):
                raise
            time.sleep(poll_s)
            continue
        line = f"trabajo {job_id}: {job['status']} {job['stage']} {100 * job['progress']:.0f}%"
        if echo and line != shown:
            print(line, file=sys.stderr)
            shown = line
        if job["status"] == "done":
            return job
        if job["status"] in ("failed", "interrupted"):
            raise ServiceError(f"el trabajo de enlace {job_id} falló: {job.get('error')} "
                               "(linkage job failed)")
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise ServiceError(f"el trabajo de enlace {job_id} no terminó en {timeout_s:.0f} s "
                               "(timeout)")
        time.sleep(poll_s)


def fetch_results(client: ServiceClient, *, page_size: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every result of the token's source, page after page."""
    offset: int | None = 0
    while offset is not None:
        page = client.results_page(offset=offset, limit=page_size)
        yield from page["results"]
        offset = page["next_offset"]


def resolve_results(
    results: list[dict[str, Any]], *, keys_dir: Path, source: str
) -> list[dict[str, str]]:
    """Open the sealed locators locally and return CSV rows (RESULT_COLUMNS).

    Example: ``resolve_results(list(fetch_results(client)), keys_dir=Path("keys"),
    source="reta")[0]["record_id"]``
    """
    import base64

    from client_sdk.record_encoder import open_locators

    refs = [bytes.fromhex(r["record_ref"]) for r in results]
    locators = [base64.b64decode(r["locator"]) for r in results]
    ids = open_locators(keys_dir, source, locators, refs)
    id_of_ref = {r["record_ref"]: record_id for r, record_id in zip(results, ids, strict=True)}
    rows = []
    for r, record_id in zip(results, ids, strict=True):
        others = r["other_sources"]
        rows.append({
            "record_id": record_id,
            "person_id": r["person_id"] or "",
            "other_sources": ";".join(sorted({o["source"] for o in others})),
            "other_events": ";".join(
                f"{o['source']}|{o.get('event_date') or ''}|{o.get('ubigeo_event') or ''}"
                for o in others
            ),
            "same_source_record_ids": ";".join(
                sorted(id_of_ref[x] for x in r["same_source_refs"] if x in id_of_ref)
            ),
        })
    rows.sort(key=lambda row: row["record_id"])
    return rows
