"""The whole path with the real linkage core: encode → upload → link → results, in-process on
SQLite and PostgreSQL, and through the real ``vinculo`` commands against ``vinculo serve``.

Synthetic people only (invented names and documents). Each person below is registered with
the same identifiers in every source where she appears, so the expected clustering is certain;
what is tested is the bank around the core: pseudonyms, increments, decisions, withdrawal,
results resolved locally, and that no source sees another's records.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from client_sdk.results import fetch_results, resolve_results, wait_for_job
from tests.conftest import run_vinculo
from vinculo_common.errors import ServiceError

HEADER = ("record_id,nombres,apellido_paterno,apellido_materno,sexo,fecha_nacimiento,edad,"
          "tipo_documento,numero_documento,nacionalidad,ubigeo_nacimiento,ubigeo_residencia,"
          "fecha_hecho,ubigeo_hecho,forma_explotacion")

PEOPLE = {  # invented
    "A": "YESICA MARLENI,HUAMANTICA,ORCOSUPA,F,2003-04-17,,DNI,70412388,PER,080101,080101",
    "B": "ROSMERY,CCALLOQUISPE,TICONA,F,1999-11-02,,DNI,45120977,PER,210101,210101",
    "C": "DAYANA LISBETH,VILCAPOMA,ARHUIRE,F,2006-01-30,,,,VEN,,150101",
    "D": "KATHERIN,QUILLAHUAMAN,SONCCO,F,2001-07-09,,DNI,71550412,PER,050101,050101",
    "E": "JHOSELYN,PARIAPAZA,CUTIPA,F,1997-03-21,,DNI,44018265,PER,040101,040101",
    "F": "MILAGROS ELIZABETH,CHUQUIMIA,LLAVILLA,F,2004-09-12,,DNI,72201934,PER,230101,230101",
    "B2": "ROSMERI,CCALLOQUISPE,TICONA,F,1999-11-02,,DNI,45129077,PER,210101,210101",
}


def write_export(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """rows: (record_id, person letter, event date) → a canonical CSV."""
    lines = [HEADER]
    for record_id, person, event_date in rows:
        lines.append(f"{record_id},{PEOPLE[person]},{event_date},150101,sexual")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def encode(tmp: Path, keys: Path, source: str, rows: list[tuple[str, str, str]],
           name: str) -> Path:
    from client_sdk.encode_export import encode_file

    out = tmp / f"{name}.vnb"
    encode_file(source=source, input_path=write_export(tmp / f"{name}.csv", rows),
                keys_dir=keys, output=out, strict=True)
    return out


def person_by_record(service: Any, keys: Path, source: str) -> dict[str, str]:
    client = service.uploader(source)
    rows = resolve_results(list(fetch_results(client)), keys_dir=keys, source=source)
    return {r["record_id"]: r["person_id"] for r in rows}


def run_job(service: Any, **body: float) -> dict[str, Any]:
    operator = service.client(service.token("operator"))
    job = operator.post("/jobs", json=body)
    assert job["status"] == "queued"
    return wait_for_job(operator, int(job["id"]), poll_s=0.1, timeout_s=120, echo=False)


FIRST = {
    "reta": [("R-001", "A", "2022-03-01"), ("R-002", "B", "2022-05-10"),
             ("R-003", "C", "2022-07-15"), ("R-004", "A", "2023-08-20")],
    "care": [("C-01", "A", "2022-03-09"), ("C-02", "B", "2022-06-01"),
             ("C-03", "D", "2022-09-30")],
    "sistra": [("S-1", "C", "2022-08-01"), ("S-2", "E", "2022-10-10")],
}


@pytest.fixture
def loaded(service: Any, keys_dir: Path, tmp_path: Path) -> Any:
    for source, rows in FIRST.items():
        service.uploader(source).upload(encode(tmp_path, keys_dir, source, rows, source))
    return service


def test_round_trip_incremental_withdrawal(loaded: Any, keys_dir: Path, tmp_path: Path) -> None:
    service = loaded
    job = run_job(service)
    assert job["counts"]["records"] == 9 and job["counts"]["persons_created"] == 5
    assert job["parameters"]["thresholds"]["method"] == "em-posterior"  # chosen from the data
    reta = person_by_record(service, keys_dir, "reta")
    care = person_by_record(service, keys_dir, "care")
    sistra = person_by_record(service, keys_dir, "sistra")
    assert set(reta) == {"R-001", "R-002", "R-003", "R-004"}  # own records only
    assert reta["R-001"] == reta["R-004"] == care["C-01"]  # A: twice in RETA, once in care
    assert reta["R-002"] == care["C-02"] and reta["R-003"] == sistra["S-1"]
    assert len({reta["R-001"], reta["R-002"], reta["R-003"], care["C-03"], sistra["S-2"]}) == 5

    raw = {r["record_ref"]: r for r in fetch_results(service.uploader("reta"))}
    a_row = next(r for r in raw.values() if r["person_id"] == reta["R-001"])
    assert sorted(o["source"] for o in a_row["other_sources"]) == ["care"]
    assert a_row["other_sources"][0]["event_date"] == "2022-03"  # coarsened by the SDK

    # Next month: a new SISTRA upload links into the existing persons without renaming them.
    service.uploader("sistra").upload(encode(tmp_path, keys_dir, "sistra",
                                             [("S-3", "A", "2024-01-05"),
                                              ("S-4", "F", "2024-02-01")], "sistra2"))
    job = run_job(service)
    assert job["counts"]["persons_created"] == 1 and job["counts"]["persons_merged"] == 0
    assert person_by_record(service, keys_dir, "reta") == reta
    assert person_by_record(service, keys_dir, "care") == care
    sistra2 = person_by_record(service, keys_dir, "sistra")
    assert sistra2["S-3"] == reta["R-001"] and sistra2["S-1"] == sistra["S-1"]

    # Withdrawal: care withdraws D's only record; D's person is retired, nobody else changes.
    refs = {r["person_id"]: r["record_ref"] for r in fetch_results(service.uploader("care"))}
    service.uploader("care").withdraw([bytes.fromhex(refs[care["C-03"]])], reason="duplicado")
    job = run_job(service)
    assert job["counts"]["persons_retired"] == 1
    care2 = person_by_record(service, keys_dir, "care")
    assert set(care2) == {"C-01", "C-02"} and care2["C-01"] == care["C-01"]
    operator = service.client(service.token("operator"))
    assert operator.get(f"/persons/{care['C-03']}")["status"] == "retired"
    assert operator.get(f"/persons/{care['C-01']}")["current"][0]["sources"] == [
        "care", "reta", "sistra"]


def test_review_decisions_are_respected_by_later_jobs(
    service: Any, keys_dir: Path, tmp_path: Path
) -> None:
    # B is registered by care with a typo in her name and a transposed DNI: a likely pair that
    # a wide review band sends to a reviewer.
    service.uploader("reta").upload(encode(tmp_path, keys_dir, "reta",
                                           [("R-002", "B", "2022-05-10")], "r"))
    service.uploader("care").upload(encode(tmp_path, keys_dir, "care",
                                           [("C-02", "B2", "2022-06-01"),
                                            ("C-03", "D", "2022-09-30")], "c"))
    run_job(service, upper_threshold=1.0, lower_threshold=0.0)
    reviewer = service.client(service.token("reviewer"))
    # The sides show only the k-anonymous release (three records: nothing but the source);
    # the agreement flags come from the exact values. Only B and B2 share a place of birth.
    pairs = [p for p in reviewer.get("/review")["pairs"]
             if p["agreement"].get("ubigeo_birth") == "agree"]
    assert len(pairs) == 1, "the B pair should wait for review in a wide band"
    pair = pairs[0]
    assert pair["left"].keys() == pair["right"].keys() == {"source"}
    assert {pair["left"]["source"], pair["right"]["source"]} == {"reta", "care"}
    assert pair["evidence"]["comparisons"]["sex"] == "agree"
    assert pair["evidence"]["reason"] == "band"  # why it waits: between the two thresholds

    def persons() -> tuple[str, str]:
        reta = person_by_record(service, keys_dir, "reta")
        care = person_by_record(service, keys_dir, "care")
        return reta["R-002"], care["C-02"]

    reviewer.post(f"/review/{pair['id']}", json={"decision": "not_link"})
    run_job(service)
    b_reta, b_care = persons()
    assert b_reta != b_care
    run_job(service, upper_threshold=0.5, lower_threshold=0.5)  # a band that would link them
    assert persons() == (b_reta, b_care)

    # The reviewer changes her mind: link → the next job merges, keeping one pseudonym.
    reviewer.post(f"/review/{pair['id']}", json={"decision": "link"})
    job = run_job(service, upper_threshold=1.0, lower_threshold=1.0)
    assert job["counts"]["persons_merged"] == 1
    merged, _ = persons()
    assert persons() == (merged, merged) and merged in (b_reta, b_care)
    gone = b_care if merged == b_reta else b_reta
    operator = service.client(service.token("operator"))
    view = operator.get(f"/persons/{gone}")
    assert view["status"] == "merged" and [p["pseudonym"] for p in view["current"]] == [merged]
    run_job(service)
    assert persons() == (merged, merged)

    # ... and back: not_link splits the person; both parts get new pseudonyms, and both old
    # pseudonyms (the survivor and the one merged into it) still lead to the right persons.
    reviewer.post(f"/review/{pair['id']}", json={"decision": "not_link"})
    job = run_job(service)
    assert job["counts"]["persons_split"] == 1
    part_reta, part_care = persons()
    assert len({part_reta, part_care, merged, gone}) == 4
    for old in (merged, gone):
        view = operator.get(f"/persons/{old}")
        assert sorted(p["pseudonym"] for p in view["current"]) == sorted([part_reta, part_care])
    assert operator.get(f"/persons/{merged}")["status"] == "split"


def test_one_job_at_a_time_and_status(loaded: Any) -> None:
    operator = loaded.client(loaded.token("operator"))
    first = operator.post("/jobs", json={})
    try:
        operator.post("/jobs", json={})
    except ServiceError as exc:
        assert exc.status == 409
    done = wait_for_job(operator, int(first["id"]), poll_s=0.1, timeout_s=120, echo=False)
    assert done["progress"] == 1.0 and done["finished_at"] is not None
    assert set(done["timings"]) >= {"load_s", "link_s", "write_s", "total_s"}
    assert loaded.count("audit_entry", "action = 'link.job.done'") >= 1
    with pytest.raises(ServiceError) as info:
        operator.post("/jobs", json={"upper_threshold": 0.5, "lower_threshold": 0.9})
    assert info.value.status == 422
    with pytest.raises(ServiceError) as info:
        operator.get("/jobs/9999")
    assert info.value.status == 404


@pytest.mark.slow
def test_cli_against_a_real_server(db_url: str, keys_dir: Path, tmp_path: Path,
                                   start_server: Any) -> None:
    env = {} if db_url.startswith("sqlite") else {"VINCULO_DATA_DIR": str(tmp_path)}
    run_vinculo("admin", "migrate", "--db", db_url, env=env)
    for source in FIRST:
        run_vinculo("admin", "source", "add", "--db", db_url, "--source", source,
                    "--keys", str(keys_dir), env=env)
    server = start_server(db_url, env=env)

    def token(role: str, source: str | None = None) -> str:
        extra = ["--source", source] if source else []
        out = run_vinculo("admin", "token", "create", "--db", db_url, "--role", role, *extra,
                          env=env)
        return out.stdout.split()[-1]

    uploader = {s: token("uploader", s) for s in FIRST}
    for source, rows in FIRST.items():
        batch = encode(tmp_path, keys_dir, source, rows, f"cli-{source}")
        run_vinculo("upload", str(batch), "--server", server.url, "--token", uploader[source])
    linked = run_vinculo("link", "--server", server.url, "--token", token("operator"), "--wait")
    assert linked.stdout.strip().isdigit()
    assert "terminado" in linked.stderr
    out = tmp_path / "reta-results.csv"
    run_vinculo("results", "--source", "reta", "--server", server.url, "--token",
                uploader["reta"], "--keys", str(keys_dir), "--output", str(out))
    with open(out, encoding="utf-8") as fh:
        rows = {r["record_id"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"R-001", "R-002", "R-003", "R-004"}
    assert rows["R-001"]["person_id"] == rows["R-004"]["person_id"]
    assert rows["R-001"]["other_sources"] == "care"
    assert rows["R-001"]["same_source_record_ids"] == "R-004"
    assert rows["R-003"]["other_sources"] == "sistra"
    assert rows["R-003"]["other_events"] == "sistra|2022-08|1501"  # month and province
    # Another source's token cannot read RETA's results, and wrong keys cannot open them.
    bad = run_vinculo("results", "--source", "reta", "--server", server.url, "--token",
                      uploader["care"], "--keys", str(keys_dir), "--output",
                      str(tmp_path / "x.csv"), check=False)
    assert bad.returncode != 0
    failed = run_vinculo("link", "--server", server.url, "--token", uploader["reta"], "--wait",
                         check=False)
    assert failed.returncode != 0
    if db_url.startswith("sqlite"):
        # No identifier of the input in the database, the server's log or a response.
        import httpx

        from tests.privacy_scan import identifiers_of, scan_bytes, scan_paths

        ids = identifiers_of(sorted(tmp_path.glob("cli-*.csv")))
        assert ids["names"] and ids["record_ids"]
        db_file = Path(db_url.removeprefix("sqlite:///"))
        files = [db_file, db_file.with_name(db_file.name + "-wal"), server.stderr_path]
        assert scan_paths(files, ids) == []
        raw = httpx.get(server.url + "/api/v1/results",
                        headers={"Authorization": f"Bearer {uploader['reta']}"}).content
        assert scan_bytes(raw, ids, "results") == []
