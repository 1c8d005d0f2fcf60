"""Benchmark: server time of every console page with 10,000 review pairs pending.

Builds a SQLite bank (the service's own migrations) holding 2 × N synthetic records (RETA
women and care men, random content attributes and CLKs; no identities exist anywhere), one
person per record created by a first job, and N review pairs raised by a second job (scores
spread over the review band). Then calls each console page in-process with a bearer token
(``fastapi.testclient``: no network, so the time is the server's: routing, queries, audit
entry, template) ``--repeat`` times and prints the median and the worst, in milliseconds.
The goal of issue 17 is every page under 200 ms at N = 10,000.

    .venv/bin/python benchmarks/console.py                 # N = 10,000
    .venv/bin/python benchmarks/console.py --pairs 50000 --repeat 5
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from linkage_service.app import create_app
from linkage_service.auth import create_token
from linkage_service.models import EncodedRecord, Source, Upload
from linkage_service.models.bank import LinkJob, Membership, Person, ReviewPair
from linkage_service.models.common import utcnow
from linkage_service.settings import Settings

_CHUNK = 2000


def _insert(session: Session, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
    table = model.__table__  # type: ignore[attr-defined]
    for start in range(0, len(rows), _CHUNK):
        session.execute(sa.insert(table), rows[start:start + _CHUNK])


def build(db_url: str, pairs: int, seed: int) -> None:
    """Sources, uploads, 2 × ``pairs`` records with persons, and ``pairs`` pending pairs."""
    rng = np.random.default_rng(seed)
    app = create_app(Settings(database_url=db_url))
    engine = app.state.engine
    now = utcnow()
    with Session(engine) as s:
        ids = {}
        for name in ("reta", "care"):
            src = Source(name=name, secret_check="0" * 16, signing_public_key_pem="-",
                         box_public_key_pem="-", signing_key_id="-", box_key_id="-")
            s.add(src)
            s.flush()
            assert src.id is not None
            upload = Upload(source_id=src.id, body_sha256=secrets.token_hex(32),
                            schema_id="bench", schema_fingerprint="bench", format_version=1,
                            clk_bits=1024, record_count=pairs)
            s.add(upload)
            s.flush()
            ids[name] = (int(src.id), int(upload.id))  # type: ignore[arg-type]
        jobs = [LinkJob(status="done", progress=1.0, stage="terminado",
                        counts={"persons_created": 2 * pairs, "review_pairs_new": 0}),
                LinkJob(status="done", progress=1.0, stage="terminado",
                        counts={"persons_created": 0, "review_pairs_new": pairs})]
        s.add_all(jobs)
        s.flush()
        records: list[dict[str, Any]] = []
        persons: list[dict[str, Any]] = []
        members: list[dict[str, Any]] = []
        review: list[dict[str, Any]] = []
        places = ["150101", "150132", "130101", "040101", "250101", "160101", "080101"]
        years = [str(y) for y in range(2018, 2026)]
        for name, sex in (("reta", "F"), ("care", "M")):
            sid, uid = ids[name]
            for i in range(pairs):
                born = int(rng.integers(1975, 2010))
                records.append({
                    "source_id": sid, "record_ref": bytes([sid]) + i.to_bytes(31, "big"),
                    "version": 1, "clk": rng.bytes(128), "locator": rng.bytes(64),
                    "upload_id": uid, "created_at": now, "is_current": True, "sex": sex,
                    "birth_year_min": born, "birth_year_max": born,
                    "nationality": "PER" if rng.random() < 0.8 else "VEN",
                    "ubigeo_birth": places[int(rng.integers(len(places)))],
                    "ubigeo_residence": places[int(rng.integers(len(places)))],
                    "ubigeo_event": places[int(rng.integers(len(places)))],
                    "event_date": f"{years[int(rng.integers(len(years)))]}-0{rng.integers(1, 10)}",
                    "exploitation": ["sexual", "laboral"][int(rng.integers(2))]})
        _insert(s, EncodedRecord, records)
        row_ids = [int(r) for r in s.execute(sa.select(EncodedRecord.id)  # type: ignore[call-overload]
                                              .order_by(EncodedRecord.id)).scalars()]
        for k in range(len(records)):
            persons.append({"pseudonym": f"P-{k:010d}", "status": "active",
                            "created_job_id": jobs[0].id, "created_at": now, "updated_at": now})
        _insert(s, Person, persons)
        person_ids = [int(p) for p in s.execute(sa.select(Person.id)  # type: ignore[call-overload]
                                                 .order_by(Person.id)).scalars()]
        for k, rec in enumerate(records):
            members.append({"person_id": person_ids[k], "source_id": rec["source_id"],
                            "record_ref": rec["record_ref"], "record_row_id": row_ids[k],
                            "job_id": jobs[0].id, "current": True, "since": now})
        _insert(s, Membership, members)
        (reta, _), (care, _) = ids["reta"], ids["care"]
        for i in range(pairs):
            score = float(np.round(rng.uniform(0.55, 0.95), 4))
            review.append({"job_id": jobs[1].id, "source_a": reta,
                           "ref_a": bytes([reta]) + i.to_bytes(31, "big"), "source_b": care,
                           "ref_b": bytes([care]) + i.to_bytes(31, "big"), "score": score,
                           "evidence": {"dice": score, "probability": score},
                           "status": "pending", "created_at": now, "votes": 0})
        _insert(s, ReviewPair, review)
        s.commit()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vinculo-bench-console-"))
    db_url = f"sqlite:///{folder / 'banco.db'}"
    t0 = time.perf_counter()
    build(db_url, args.pairs, args.seed)
    print(f"bank: {2 * args.pairs} records, {args.pairs} pending pairs "
          f"(built in {time.perf_counter() - t0:.1f} s, {db_url})")
    app = create_app(Settings(database_url=db_url))
    tokens = {}
    with Session(app.state.engine) as s:
        for role in ("reviewer", "operator", "analyst", "auditor"):
            tokens[role], _row = create_token(s, role=role, user_label=f"bench.{role}")
        s.commit()
        middle = s.execute(sa.select(ReviewPair.id).order_by(  # type: ignore[call-overload]
            ReviewPair.score.desc()).offset(args.pairs // 2).limit(1)).scalar()  # type: ignore[attr-defined]
    client = TestClient(app)
    last = -(-args.pairs // 20)
    pages = [
        ("reviewer", "GET", "/consola/revision"),
        ("reviewer", "GET", f"/consola/revision?par={middle}"),
        ("reviewer", "GET", "/consola/revision?fuentes=reta:care&min=0.7&max=0.8&trabajo=2"),
        ("reviewer", "GET", "/consola/revision/lista"),
        ("reviewer", "GET", f"/consola/revision/lista?pagina={last}"),
        ("reviewer", "GET", "/consola/revision?cola=second"),
        ("reviewer", "POST", "/consola/revision/{next}"),
        ("reviewer", "GET", "/api/v1/review?limit=20"),
        ("operator", "GET", "/consola/trabajos"),
        ("operator", "GET", "/consola/trabajos/2"),
        ("analyst", "GET", "/consola/estadisticas"),
        ("auditor", "GET", "/consola/auditoria"),
    ]
    print(f"{'page':<62} {'median ms':>9} {'max ms':>8}")
    for role, method, path in pages:
        headers = {"Authorization": f"Bearer {tokens[role]}", "Accept": "text/html"}
        times = []
        for _ in range(args.repeat):
            target = path
            if "{next}" in path:
                pair = client.get("/api/v1/review/next", headers=headers).json()["pair"]
                target = path.replace("{next}", str(pair["id"]))
            start = time.perf_counter()
            if method == "POST":
                answer = client.post(target, headers=headers, follow_redirects=False,
                                     data={"decision": "not_link", "votos": "0"})
            else:
                answer = client.get(target, headers=headers)
            times.append(1000 * (time.perf_counter() - start))
            assert answer.status_code in (200, 303), (target, answer.status_code,
                                                      answer.text[:300])
        print(f"{method + ' ' + path:<62} {statistics.median(times):9.1f} {max(times):8.1f}")


if __name__ == "__main__":
    main()
