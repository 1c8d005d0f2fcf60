"""Benchmark: migrating a bank to another linkage schema (``vinculo admin schema-migrate``).

A bank built from ``vinculo synth`` registries (profile ``default``) encoded by the SDK under
``--from`` (a fresh key ceremony, SQLite in a temporary folder, the real linkage job) is moved
to ``--to`` by the domain functions the CLI calls: start, each source's migration batch (its
same export re-encoded with the same keys), finish (cut-over + re-link). Prints the time of the
cut-over and of the re-link, the overlap report ``finish`` keeps (persons kept, records with the
same pseudonym, pair recall / precision against the old persons) and the pairwise precision,
recall and F1 of the bank's persons against the synthetic truth before and after: what the
change of schema costs the bank's linkage.

    timeout 1800 .venv/bin/python benchmarks/schema_migration.py --people 3000 --seed 41 \\
        --from vinculo-v4 --to vinculo-v3
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SOURCES = ("reta", "sistra", "care")


def _pairs(groups: dict[str, set[tuple[str, str]]]) -> set[frozenset[tuple[str, str]]]:
    out: set[frozenset[tuple[str, str]]] = set()
    for members in groups.values():
        ordered = sorted(members)
        for i, a in enumerate(ordered):
            out.update(frozenset((a, b)) for b in ordered[i + 1:])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--from", dest="source_schema", default="vinculo-v4")
    parser.add_argument("--to", dest="target", default="vinculo-v3")
    args = parser.parse_args()

    import sqlalchemy as sa
    from sqlmodel import Session

    from client_sdk.encode_export import encode_file
    from client_sdk.keys import init_keys, load_linkage_kcv, load_record_ref_key
    from client_sdk.record_encoder import record_ref
    from linkage_service.bank.jobs import create_job, run_job
    from linkage_service.bank.migration import finish_migration, start_migration
    from linkage_service.custody import custody_key_for
    from linkage_service.db import make_engine, migrate
    from linkage_service.models import Source, SourceCreate
    from linkage_service.models.common import utcnow
    from linkage_service.store.migration_batches import store_migration_batch
    from linkage_service.store.sources import register_source
    from linkage_service.store.uploads import check_batch, store_batch
    from vinculo_common.batch import read_batch
    from vinculo_common.keyfiles import KeyDir
    from vinculo_common.schemas import load_linkage_schema, schema_fingerprint
    from vinculo_lab.synth import generate, profile, write_dataset

    work = Path(tempfile.mkdtemp(prefix="vinculo-bench-migration-"))
    keys, data = work / "claves", work / "datos"
    init_keys(keys_dir=keys, sources=list(SOURCES))
    write_dataset(generate(people=args.people, seed=args.seed, config=profile("default")), data)
    t0 = time.perf_counter()
    batches: dict[tuple[str, str], Path] = {}
    for schema in (args.source_schema, args.target):
        for source in SOURCES:
            out = work / f"{source}.{schema}.vnb"
            encode_file(source=source, input_path=data / f"{source}.csv", keys_dir=keys,
                        output=out, schema_id=schema)
            batches[(source, schema)] = out
    encode_s = time.perf_counter() - t0

    engine = make_engine(f"sqlite:///{work / 'banco.db'}")
    migrate(engine)
    ids: dict[str, int] = {}
    with Session(engine) as session:
        for source in SOURCES:
            paths = KeyDir(keys).source(source)
            row = register_source(session, source=SourceCreate(
                name=source, secret_check=load_linkage_kcv(keys),
                signing_public_key_pem=paths.signing_pub.read_text(),
                box_public_key_pem=paths.box_pub.read_text()))
            assert row.id is not None
            ids[source] = row.id
        session.commit()

    def upload(source: str, schema: str, migration_id: int | None = None) -> None:
        batch = read_batch(batches[(source, schema)].read_bytes())
        with Session(engine) as session:
            src = session.get(Source, ids[source])
            assert src is not None
            check_batch(batch, source=src, schema_fingerprints={
                schema_fingerprint(load_linkage_schema(schema))})
            if migration_id is None:
                store_batch(session, batch=batch, source=src, uploaded_by="bench")
            else:
                store_migration_batch(session, batch=batch, source=src,
                                      migration_id=migration_id, uploaded_by="bench")
            session.commit()

    for source in SOURCES:
        upload(source, args.source_schema)
    with Session(engine) as session:
        job = create_job(session, requested_by="bench", now=utcnow(),
                         parameters={"linkage_schema": args.source_schema})
        session.commit()
        job_id = int(job.id or 0)
    t0 = time.perf_counter()
    assert run_job(engine, job_id=job_id) == "done"
    first_s = time.perf_counter() - t0

    truth: dict[tuple[str, str], str] = {}
    with open(data / "truth.csv", encoding="utf-8", newline="") as fh:
        truth = {(r["source"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
    with Session(engine) as session:
        custody = custody_key_for(session)
    stored = {}
    for (source, record_id) in truth:
        ref = record_ref(load_record_ref_key(keys, source), record_id)
        stored[(ids[source], custody.stored_ref(ids[source], ref))] = (source, record_id)

    def quality() -> tuple[float, float, float]:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT source_id, record_ref, person_id FROM membership WHERE current")).all()
        bank: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for source_id, ref, person in rows:
            key = stored.get((int(source_id), bytes(ref)))
            if key is not None:
                bank[str(person)].add(key)
        linked = {k for members in bank.values() for k in members}
        real: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for key, person in truth.items():
            if key in linked:
                real[person].add(key)
        found, true = _pairs(bank), _pairs(real)
        hit = len(found & true)
        p = hit / len(found) if found else 1.0
        r = hit / len(true) if true else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    before = quality()
    migration = start_migration(engine, target=args.target, actor="bench")
    for source in SOURCES:
        upload(source, args.target, migration_id=int(migration["id"]))
    t0 = time.perf_counter()
    done = finish_migration(engine, actor="bench")
    finish_s = time.perf_counter() - t0
    after = quality()
    report = done["report"]
    overlap = report["overlap"]
    with engine.connect() as conn:
        timings = conn.execute(sa.text("SELECT timings FROM link_job WHERE id = :i"),
                               {"i": done["relink_job_id"]}).scalar_one()
    print(f"{args.people} personas sintéticas (seed {args.seed}), {overlap['records']} registros; "
          f"{args.source_schema} → {args.target}")
    print(f"  codificar 2 × 3 fuentes: {encode_s:.1f} s; primer enlace ({args.source_schema}): "
          f"{first_s:.1f} s")
    print(f"  finish (cambio + VACUUM + re-enlace): {finish_s:.1f} s; re-enlace: {timings}")
    print(f"  cambio: {report['switch']}")
    print(f"  personas intactas {overlap['persons_kept']} de {overlap['persons_before']} "
          f"({overlap['persons_kept_share']:.4f}); registros con el mismo seudónimo "
          f"{overlap['records_same_person']} de {overlap['records']}; pares conservados "
          f"{overlap['pair_recall']}, pares nuevos correctos {overlap['pair_precision']}")
    print(f"  personas del re-enlace: {report['job_counts']}")
    print(f"  contra la verdad sintética: antes P {before[0]:.4f} R {before[1]:.4f} "
          f"F1 {before[2]:.4f}; después P {after[0]:.4f} R {after[1]:.4f} F1 {after[2]:.4f}")
    engine.dispose()


if __name__ == "__main__":
    main()
