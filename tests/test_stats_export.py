"""Exports (CSV, JSON, README, charts, HTML) and the service route that serves the tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_stats_synthetic import make_bank

from client_sdk.stats_export import CHARTS, export_tables, fetch_tables
from linkage_service.stats import build_tables
from vinculo_common.errors import ServiceError


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    snapshot, _ = make_bank(500, seed=4)
    tables = build_tables(snapshot, min_cell=10)
    out = tmp_path_factory.mktemp("stats")
    export_tables(tables, output=out, html_report=True)
    return out, tables


def test_one_csv_and_one_json_per_table(exported: tuple[Path, dict[str, Any]]) -> None:
    out, tables = exported
    for name, table in tables.items():
        with (out / f"{name}.csv").open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == table["columns"]
        assert len(rows) == len(table["rows"]) + 1
        if "personas" in table["columns"]:
            where = table["columns"].index("personas")
            for written, row in zip(rows[1:], table["rows"], strict=True):
                assert written[where] == ("" if row[where] is None else str(row[where]))
        assert json.loads((out / f"{name}.json").read_text(encoding="utf-8")) == table
    assert any(r[-1] == "" for r in csv.reader(
        (out / "personas_por_nacimiento_distrito.csv").open(encoding="utf-8-sig")))


def test_readme_in_spanish_lists_every_table(exported: tuple[Path, dict[str, Any]]) -> None:
    out, tables = exported
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "Celda mínima: 10 personas" in readme
    assert "Privacidad diferencial: no se agregó ruido" in readme
    for name in tables:
        assert f"`{name}.csv`" in readme


def test_charts_are_rendered(exported: tuple[Path, dict[str, Any]]) -> None:
    out, _ = exported
    for chart in CHARTS:
        data = (out / chart).read_bytes()
        assert data.startswith(b"\x89PNG")
        assert len(data) > 15_000, chart


def test_html_report_holds_tables_and_charts(exported: tuple[Path, dict[str, Any]]) -> None:
    out, tables = exported
    page = (out / "informe.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(CHARTS)
    assert "http://" not in page and "https://" not in page  # readable offline
    for table in tables.values():
        assert table["title"].replace("&", "&amp;") in page
    total = tables["personas_por_sexo"]["rows"][-1][-1]
    assert f'<td class="n">{total}</td>' in page


def test_dp_publication_says_so_in_readme(tmp_path: Path) -> None:
    snapshot, _ = make_bank(120, seed=6)
    tables = build_tables(snapshot, dp_epsilon=1.0, rng=np.random.default_rng(0))
    export_tables(tables, output=tmp_path)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "Privacidad diferencial: SÍ" in readme and "ε = 1.0" in readme


# ------------------------------------------------------------------------- through the service

def _refs(n: int, seed: int) -> list[bytes]:
    return [bytes([seed]) + i.to_bytes(31, "big") for i in range(n)]


RETA, CARE = _refs(14, 31), _refs(12, 32)


@pytest.fixture
def bank_service(service: Any, make_batch: Any) -> Any:
    """14 synthetic persons: 12 in RETA and care, 2 in RETA only, linked with the bank's real
    writer from hand-made groups (independent of the linkage core)."""
    return _fill_bank(service, make_batch)


def _fill_bank(service: Any, make_batch: Any) -> Any:
    from sqlmodel import Session

    from linkage_service.bank.records import load_current_records
    from linkage_service.bank.writer import ClusterOutcome, write_outcome
    from linkage_service.models.bank import LinkJob
    from linkage_service.models.common import utcnow

    service.uploader("reta").upload(make_batch("reta", RETA))
    service.uploader("care").upload(make_batch("care", CARE))
    person = {ref: i for i, ref in enumerate(RETA)} | {ref: i for i, ref in enumerate(CARE)}
    with Session(service.engine) as session:
        job = LinkJob(status="running")
        session.add(job)
        session.flush()
        records = load_current_records(session)
        # The bank names records by their stored reference (custody): map back to the sources'.
        from linkage_service.custody import custody_key_for

        key = custody_key_for(session)
        own = {key.stored_ref(int(records.source_ids[i]), ref): ref
               for i in range(len(records)) for ref in (*RETA, *CARE)}
        labels = np.array([person[own[records.record_refs[i]]] for i in range(len(records))])
        write_outcome(session, records=records, outcome=ClusterOutcome(labels=labels),
                      job_id=job.id, now=utcnow())
        session.commit()
    return service


def test_route_serves_suppressed_tables_to_analysts(bank_service: Any, tmp_path: Path) -> None:
    from sqlmodel import Session

    from linkage_service.bank.snapshot import bank_snapshot

    with Session(bank_service.engine) as session:
        snapshot = bank_snapshot(session)
    assert snapshot["person_id"].nunique() == 14 and len(snapshot) == 26
    analyst = bank_service.client(bank_service.token("analyst"))
    answer = analyst.get("/stats/tables")
    assert answer["min_cell"] == 10 and answer["dp_epsilon"] is None
    assert answer["tables"]["personas_por_sexo"]["rows"] == [["Mujer", 14], ["Total", 14]]
    overlap = {r[0]: r[-1] for r in answer["tables"]["superposicion_registros"]["rows"]}
    assert overlap["Solo policía (RETA)"] is None  # 2 persons: suppressed
    assert overlap["Policía (RETA) y atención (CARE)"] is None  # its complement
    assert overlap["Total"] == 14
    body = json.dumps(answer)
    for pseudonym in set(snapshot["person_id"]):
        assert pseudonym not in body
    tables = fetch_tables(server="http://testserver", token="", min_cell=15, client=analyst)
    assert tables["personas_por_sexo"]["rows"] == [["Mujer", None], ["Total", None]]
    files = export_tables(tables, output=tmp_path / "out", html_report=True)
    assert (tmp_path / "out" / "informe.html") in files


def test_route_adds_dp_noise_when_the_service_is_configured(
    db_url: str, keys_dir: Path, make_batch: Any
) -> None:
    from conftest import ServiceHarness
    from sqlmodel import Session

    from linkage_service.bank.snapshot import bank_snapshot
    from linkage_service.stats import build_tables

    harness = _fill_bank(ServiceHarness(db_url, keys_dir, stats_min_cell_floor=1,
                                        stats_dp_epsilon=0.5), make_batch)
    analyst = harness.client(harness.token("analyst"))
    noisy = analyst.get("/stats/tables", params={"min_cell": 1})
    assert noisy == analyst.get("/stats/tables", params={"min_cell": 1})  # no averaging away
    assert noisy["dp_epsilon"] == 0.5
    with Session(harness.engine) as session:
        exact = build_tables(bank_snapshot(session), min_cell=1)

    def cells(tables: dict[str, Any]) -> list[Any]:
        return [row[-1] for t in tables.values() for row in t["rows"]]

    pairs = list(zip(cells(json.loads(json.dumps(exact))), cells(noisy["tables"]), strict=True))
    # Cells published in both (noise can push a small count under min_cell: suppressed). Tables
    # share their cells (margins, department/province), so values repeat and the changed share
    # is not per-cell independent; but with ε = 0.5 each distinct count keeps its exact value
    # with probability about 0.24 only, so some published count must differ.
    shown = [(a, b) for a, b in pairs if a is not None and b is not None]
    assert len(shown) >= 10
    assert any(a != b for a, b in shown)


def test_route_refuses_min_cell_below_floor_and_other_roles(bank_service: Any) -> None:
    analyst = bank_service.client(bank_service.token("analyst"))
    with pytest.raises(ServiceError) as refused:
        analyst.get("/stats/tables", params={"min_cell": 3})
    assert refused.value.status == 422 and "por debajo del mínimo" in str(refused.value)
    operator = bank_service.client(bank_service.token("operator"))
    with pytest.raises(ServiceError) as denied:
        operator.get("/stats/tables")
    assert denied.value.status == 403
