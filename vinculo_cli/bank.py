"""``vinculo link`` (start a linkage job, optionally wait for it) and ``vinculo results``
(download a source's results and resolve them to local record ids with the source's own keys).

``vinculo results`` needs only the keys directory: each result carries the record's sealed
locator, which only the source's X25519 private key opens, checked against the record reference
(so the service cannot substitute another record's id).
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vinculo_cli.client import ServerOption, TokenOption, service_client

if TYPE_CHECKING:
    from client_sdk.api_client import ServiceClient

__all__ = ["RESULT_COLUMNS", "fetch_results", "register", "resolve_results", "wait_for_job"]

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
            job: dict[str, Any] = client.get(f"/jobs/{job_id}")
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
        if job["status"] == "failed":
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
        page = client.get("/results", params={"offset": offset, "limit": page_size})
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

    from client_sdk.encoding import open_locators

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


def link(
    server: ServerOption,
    token: TokenOption,
    wait: Annotated[bool, typer.Option("--wait", help="esperar el fin y mostrar el avance")] =
    False,
    upper: Annotated[float | None, typer.Option(
        "--upper", help="umbral superior (enlace automático); por defecto el del servicio")] =
    None,
    lower: Annotated[float | None, typer.Option(
        "--lower", help="umbral inferior (revisión manual); por defecto el del servicio")] =
    None,
) -> None:
    """Inicia un trabajo de enlace sobre todo el banco (start a linkage job).

    Imprime en stdout el número del trabajo. Con --wait muestra el avance en stderr y termina
    con error si el trabajo falla. Requiere un token de rol operator.

    Ejemplo: vinculo link --server http://127.0.0.1:8000 --token vnc_… --wait
    """
    body = {k: v for k, v in (("upper_threshold", upper), ("lower_threshold", lower))
            if v is not None}
    with service_client(server, token) as client:
        job = client.post("/jobs", json=body)
        print(job["id"])
        sys.stdout.flush()
        if wait:
            done = wait_for_job(client, int(job["id"]))
            counts = done.get("counts", {})
            print(
                f"trabajo {job['id']} terminado: {counts.get('records', 0)} registros, "
                f"{counts.get('persons_active', 0)} personas, "
                f"{counts.get('review_pairs_new', 0)} pares nuevos para revisión",
                file=sys.stderr,
            )


def results(
    source: Annotated[str, typer.Option("--source", help="su fuente (reta, sistra, care…)")],
    server: ServerOption,
    token: TokenOption,
    keys: Annotated[Path, typer.Option("--keys", help="carpeta de claves de la institución")],
    output: Annotated[Path, typer.Option("--output", help="archivo CSV de salida")],
) -> None:
    """Descarga los resultados de su fuente y los resuelve a sus record_id locales.

    Para cada registro propio: record_id, person_id (seudónimo), en qué otros registros
    aparece la persona (other_sources) con fechas y lugares del hecho (other_events), y sus
    otros registros en la misma fuente. Solo necesita la carpeta de claves, no la exportación.

    Ejemplo: vinculo results --source reta --server http://srv:8000 --keys claves --output r.csv
    """
    from vinculo_common.keyfiles import check_source_name

    check_source_name(source)
    with service_client(server, token) as client:
        fetched = list(fetch_results(client))
    rows = resolve_results(fetched, keys_dir=keys, source=source)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(RESULT_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(output)
    linked = sum(1 for r in rows if r["other_sources"])
    print(f"{len(rows)} registros escritos en {output}; {linked} aparecen en otros registros",
          file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("link")(link)
    app.command("results")(results)
