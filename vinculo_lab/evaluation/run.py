"""The real linkage path on a data directory, end to end: the engine of ``vinculo demo`` and
``vinculo evaluate``.

keys init → encode ×N (the SDK's ``encode_file``, with ``--mapping`` files when given) →
register the sources and create tokens (what the ``vinculo admin`` commands do) → a **real**
``vinculo serve`` subprocess on a free port and a fresh SQLite file → upload ×N → link and wait
→ results ×N, opened locally with each source's keys → the server is stopped, always.

Everything the run leaves is under ``work_dir``::

    keys/                       key material of the run (demo ceremony)
    batches/<source>.vnb        encoding batches (+ .rejects.csv)
    service/bank.db[-wal]       the service's database
    service/server.log          the server's stderr (its structured log)
    responses.log               every HTTP response body received (with record_responses)
    results/<source>.csv        ``vinculo results`` output per source

The data directory holds one export per source (``<source>.csv`` or ``<source>.xlsx``) and,
for scoring, ``truth.csv`` (``source,record_id,person_id``).

>>> run = run_pipeline(data_dir=Path("datos"), work_dir=Path("trabajo"))  # doctest: +SKIP
>>> len(run.predicted), run.job["status"]                                   # doctest: +SKIP
(7105, 'done')
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vinculo_common.errors import InputError, ServiceError
from vinculo_common.schemas import DEFAULT_SCHEMA_ID

__all__ = [
    "DEFAULT_SOURCES",
    "PipelineRun",
    "ServerProcess",
    "bank_summary",
    "find_export",
    "parse_mappings",
    "read_truth",
    "run_pipeline",
    "start_server",
]

DEFAULT_SOURCES = ("reta", "sistra", "care")
_EXPORT_SUFFIXES = (".csv", ".xlsx", ".txt")
Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class PipelineRun:
    """What one run of the real path produced (see the module docstring for the files)."""

    work_dir: Path
    sources: tuple[str, ...]
    predicted: dict[tuple[str, str], str]  # (source, record_id) -> person pseudonym
    encoded: dict[str, int]  # source -> records encoded
    rejected: dict[str, int]  # source -> rows rejected by the SDK
    job: dict[str, Any]  # the finished job as the API returned it
    review_pending: int  # pending review pairs (GET /review)
    bank: dict[str, Any]  # bank_summary of the results
    timings: dict[str, float] = field(default_factory=dict)
    server_url: str = ""

    @property
    def keys_dir(self) -> Path:
        return self.work_dir / "keys"

    @property
    def database(self) -> Path:
        return self.work_dir / "service" / "bank.db"

    @property
    def server_log(self) -> Path:
        return self.work_dir / "service" / "server.log"

    @property
    def responses_log(self) -> Path:
        return self.work_dir / "responses.log"

    def batch(self, source: str) -> Path:
        return self.work_dir / "batches" / f"{source}.vnb"


def parse_mappings(items: Sequence[str]) -> dict[str, str]:
    """``["reta=m.json"]`` → ``{"reta": "m.json"}``; refuses a malformed item.

    >>> parse_mappings(["reta=schemas/sources/reta.json"])
    {'reta': 'schemas/sources/reta.json'}
    """
    out: dict[str, str] = {}
    for item in items:
        source, sep, path = item.partition("=")
        if not sep or not source.strip() or not path.strip():
            raise InputError(f"--mapping espera FUENTE=ARCHIVO, no {item!r} (expected SOURCE=FILE)")
        out[source.strip()] = path.strip()
    return out


def find_export(data_dir: Path, source: str) -> Path:
    """The export of ``source`` in ``data_dir``: ``<source>.csv``, ``.xlsx`` or ``.txt``.

    Raises InputError naming what was looked for.
    """
    for suffix in _EXPORT_SUFFIXES:
        path = data_dir / f"{source}{suffix}"
        if path.is_file():
            return path
    wanted = ", ".join(f"{source}{s}" for s in _EXPORT_SUFFIXES)
    raise InputError(f"no se encontró la exportación de {source} en {data_dir} (se buscó: "
                     f"{wanted}) (export not found)")


def read_truth(path: Path) -> dict[tuple[str, str], str]:
    """``truth.csv`` (``source,record_id,person_id``) as ``{(source, record_id): person_id}``."""
    if not path.is_file():
        raise InputError(f"falta {path}: se necesita la verdad conocida (truth.csv missing)")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"source", "record_id", "person_id"} - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"{path}: faltan las columnas {', '.join(sorted(missing))}")
        return {(row["source"], row["record_id"]): row["person_id"] for row in reader}


def bank_summary(predicted: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    """Persons, records per source and persons in 2+ registries, from the sources' results.

    >>> s = bank_summary({("reta", "1"): "P1", ("care", "9"): "P1", ("reta", "2"): "P2"})
    >>> s["persons"], s["records_per_source"], s["persons_in_2plus_sources"]
    (2, {'care': 1, 'reta': 2}, 1)
    """
    per_source: dict[str, int] = {}
    sources_of: dict[str, set[str]] = {}
    per_person_source: dict[tuple[str, str], int] = {}
    for (source, _), person in predicted.items():
        per_source[source] = per_source.get(source, 0) + 1
        sources_of.setdefault(person, set()).add(source)
        per_person_source[(person, source)] = per_person_source.get((person, source), 0) + 1
    spread: dict[int, int] = {}
    for found in sources_of.values():
        spread[len(found)] = spread.get(len(found), 0) + 1
    return {
        "persons": len(sources_of),
        "records": len(predicted),
        "records_per_source": dict(sorted(per_source.items())),
        "persons_by_number_of_sources": dict(sorted(spread.items())),
        "persons_in_2plus_sources": sum(n for k, n in spread.items() if k >= 2),
        "persons_with_repeat_in_one_source": len(
            {person for (person, _), n in per_person_source.items() if n >= 2}),
    }


# ----------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A ``vinculo serve`` subprocess; ``stop()`` ends it (SIGTERM, then SIGKILL)."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self, *, grace_s: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace_s)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


def _launch(*, database: Path, service_key: Path, log_path: Path,
            schema_id: str = DEFAULT_SCHEMA_ID) -> ServerProcess:
    port = _free_port()
    env = {**os.environ, "VINCULO_SERVICE_KEY_PATH": str(service_key),
           "VINCULO_LINKAGE_SCHEMA": schema_id}
    env.pop("VINCULO_DATABASE_URL", None)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vinculo_cli.main", "serve", "--db",
             f"sqlite:///{database}", "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
        )
    return ServerProcess(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path)


def _wait_healthy(server: ServerProcess, *, timeout_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if server.process.poll() is not None:
            raise ServiceError(f"el servicio terminó al arrancar (código "
                               f"{server.process.returncode}): {server.log_tail()} "
                               "(server exited on start-up)", 0)
        try:
            if httpx.get(server.url + "/api/v1/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServiceError(f"el servicio no respondió en {timeout_s:.0f} s "
                               "(server did not become healthy)", 0)
        time.sleep(0.2)


def start_server(*, database: Path, service_key: Path, log_path: Path,
                 timeout_s: float = 120.0) -> ServerProcess:
    """Start a real ``vinculo serve`` on a free local port; wait for ``/api/v1/health``.

    The server's stderr (its JSON log) goes to ``log_path``. ``service_key`` is the service's
    signing key of the key ceremony, so institutions' pinned public key matches. Stop it with
    ``stop()``.

    Example: ``start_server(database=Path("t/bank.db"), service_key=Path("keys/service/
    signing.key"), log_path=Path("t/server.log")).stop()``
    """
    server = _launch(database=database, service_key=service_key, log_path=log_path)
    try:
        _wait_healthy(server, timeout_s=timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


# ----------------------------------------------------------------------------- the steps


def _admin(db_url: str, sources: Sequence[str], keys_dir: Path) -> dict[str, str]:
    """Register the sources and create the run's tokens as ``vinculo admin source add`` and
    ``vinculo admin token create`` do (the functions behind them, audited the same way).

    Returns tokens by name: ``uploader:<source>``, ``operator``, ``reviewer``.
    """
    from linkage_service.admin import create_api_token, register_source_from_keys
    from linkage_service.db import make_engine, migrate

    engine = make_engine(db_url)
    migrate(engine)
    actor = "cli:admin"
    tokens: dict[str, str] = {}
    try:
        for source in sources:
            register_source_from_keys(engine, source=source, keys=keys_dir, actor=actor)
            tokens[f"uploader:{source}"], _ = create_api_token(
                engine, role="uploader", source=source, user=f"demo.{source}", actor=actor)
        for role in ("operator", "reviewer"):
            tokens[role], _ = create_api_token(engine, role=role, source=None,
                                               user=f"demo.{role}", actor=actor)
    finally:
        engine.dispose()
    return tokens


class _ResponseRecorder:
    """httpx response hook: appends each response's status line and body to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_bytes(b"")

    def __call__(self, response: Any) -> None:
        response.read()
        request = response.request
        with open(self.path, "ab") as fh:
            fh.write(f"--- {request.method} {request.url.path} {response.status_code}\n".encode())
            fh.write(response.content)
            fh.write(b"\n")


def _client(url: str, token: str, recorder: _ResponseRecorder | None) -> Any:
    import httpx

    from client_sdk.api_client import ServiceClient

    hooks: dict[str, list[Callable[..., Any]]] = {"response": [recorder]} if recorder else {}
    return ServiceClient(url, token, client=httpx.Client(timeout=600.0, event_hooks=hooks))


def _pending_reviews(client: Any, *, fallback: int, max_pages: int = 10) -> int:
    """Pending review pairs, counted through ``GET /review`` page by page; past ``max_pages``
    pages of 1,000 (a queue too long to be worth paging) the job's own count, ``fallback``."""
    total = 0
    for page_number in range(max_pages):
        page = client.get("/review", params={"limit": 1000, "offset": 1000 * page_number})
        total += len(page["pairs"])
        if len(page["pairs"]) < 1000:
            return total
    return max(total, fallback)


def run_pipeline(
    *,
    data_dir: Path,
    work_dir: Path,
    sources: Sequence[str] = DEFAULT_SOURCES,
    mappings: Mapping[str, str] | None = None,
    record_responses: bool = False,
    schema_id: str = DEFAULT_SCHEMA_ID,
    echo: Echo | None = _stderr,
) -> PipelineRun:
    """Run the real path on ``data_dir`` inside ``work_dir`` (must be empty or absent).

    ``mappings``: source → mapping file (or source name) for exports in another layout.
    ``record_responses``: keep every HTTP response body in ``work_dir/responses.log`` (for the
    privacy scan). ``schema_id``: the linkage schema the sources encode with and the service
    accepts (``vinculo-v2`` to measure hardening). ``echo``: progress lines (Spanish), default
    stderr; None for silence.
    The server is stopped whatever happens.
    """
    from client_sdk.encode_export import encode_file
    from client_sdk.keys import init_keys
    from client_sdk.results import fetch_results, resolve_results, wait_for_job

    say = echo or (lambda _message: None)
    data_dir, work_dir = Path(data_dir), Path(work_dir)
    mappings = dict(mappings or {})
    unknown = set(mappings) - set(sources)
    if unknown:
        raise InputError(f"--mapping para fuentes desconocidas: {', '.join(sorted(unknown))} "
                         f"(fuentes: {', '.join(sources)})")
    exports = {source: find_export(data_dir, source) for source in sources}
    if work_dir.exists() and any(work_dir.iterdir()):
        raise InputError(f"la carpeta de trabajo {work_dir} no está vacía (work dir not empty)")
    for sub in ("batches", "service", "results"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        timings[name] = round(time.perf_counter() - started, 2)

    t0 = time.perf_counter()
    keys_dir = work_dir / "keys"
    init_keys(keys_dir=keys_dir, sources=list(sources))
    step("keys_s", t0)

    # The server boots (imports, migrations) while the sources encode: same result, less wait.
    database = work_dir / "service" / "bank.db"
    server = _launch(database=database, service_key=keys_dir / "service" / "signing.key",
                     log_path=work_dir / "service" / "server.log", schema_id=schema_id)
    try:
        t0 = time.perf_counter()
        encoded: dict[str, int] = {}
        rejected: dict[str, int] = {}
        for source in sources:
            summary = encode_file(source=source, input_path=exports[source], keys_dir=keys_dir,
                                  output=work_dir / "batches" / f"{source}.vnb",
                                  mapping=mappings.get(source), schema_id=schema_id)
            encoded[source], rejected[source] = summary.encoded, summary.rejected
            say(f"  {source}: {summary.encoded} registros codificados, {summary.rejected} "
                "rechazados")
        step("encode_s", t0)
        t0 = time.perf_counter()
        _wait_healthy(server)
        step("server_wait_s", t0)
        say(f"  servicio en {server.url} (base {database.name})")

        t0 = time.perf_counter()
        tokens = _admin(f"sqlite:///{database}", sources, keys_dir)
        step("admin_s", t0)

        recorder = _ResponseRecorder(work_dir / "responses.log") if record_responses else None
        t0 = time.perf_counter()
        for source in sources:
            with _client(server.url, tokens[f"uploader:{source}"], recorder) as client:
                client.upload(work_dir / "batches" / f"{source}.vnb")
        step("upload_s", t0)

        t0 = time.perf_counter()
        with _client(server.url, tokens["operator"], recorder) as client:
            started = client.post("/jobs", json={})
            job = wait_for_job(client, int(started["id"]), poll_s=0.25, echo=False)
        step("link_s", t0)
        counts = job.get("counts") or {}
        say(f"  enlace: {counts.get('records', '?')} registros → "
            f"{counts.get('persons_active', '?')} personas")

        t0 = time.perf_counter()
        predicted: dict[tuple[str, str], str] = {}
        for source in sources:
            with _client(server.url, tokens[f"uploader:{source}"], recorder) as client:
                rows = resolve_results(list(fetch_results(client)), keys_dir=keys_dir,
                                       source=source)
            _write_results(work_dir / "results" / f"{source}.csv", rows)
            for row in rows:
                if row["person_id"]:
                    predicted[(source, row["record_id"])] = row["person_id"]
        with _client(server.url, tokens["reviewer"], recorder) as client:
            review_pending = _pending_reviews(
                client, fallback=int(counts.get("review_pairs_new") or 0))
        step("results_s", t0)
    finally:
        server.stop()
    return PipelineRun(work_dir=work_dir, sources=tuple(sources), predicted=predicted,
                       encoded=encoded, rejected=rejected, job=job,
                       review_pending=review_pending, bank=bank_summary(predicted),
                       timings=timings, server_url=server.url)


def _write_results(path: Path, rows: list[dict[str, str]]) -> None:
    from client_sdk.results import RESULT_COLUMNS

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(RESULT_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
