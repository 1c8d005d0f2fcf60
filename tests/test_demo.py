"""``vinculo demo`` end to end, and the privacy scan of what a demo run leaves behind.

One real demo run (``--keep``) feeds every test here: its printed metrics, then a scan of the
service's SQLite database (and -wal), the server's log and every HTTP response body the run
received, for any identifier of the synthetic input (names, document numbers, full birth
dates, record ids), with ``tests/privacy_scan.py``. Controls plant identifiers in copies of
the same artefacts and check the scan finds them, so a clean result means something.

How the scan avoids false alarms without going blind: ``tests/privacy_scan.py``
(``scan_demo_artefacts``).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from privacy_scan import (
    date_forms,
    needles,
    scan_database,
    scan_demo_artefacts,
    scan_responses,
    scan_text,
)

REPO = Path(__file__).resolve().parent.parent
PEOPLE = 300
F1_FLOOR = 0.6  # clkhash + anonlink as they come score 0.61 on held-out registries

# About 15 s on an idle 2-core machine, 80 s on a loaded one: slow by the house rule (> 30 s).
pytestmark = pytest.mark.slow
_METRIC = re.compile(r"(todos los pares|entre fuentes)[^:]*: precisión ([0-9.]+)\s+"
                     r"exhaustividad ([0-9.]+)\s+F1 ([0-9.]+)")


# ----------------------------------------------------------------------------- the run


class DemoRun:
    def __init__(self, result: subprocess.CompletedProcess[str], keep: Path) -> None:
        self.result = result
        self.keep = keep
        self.data = keep / "datos"
        self.work = keep / "trabajo"

    @property
    def inputs(self) -> list[Path]:
        return [self.data / f"{s}.csv" for s in ("reta", "sistra", "care")]

    @property
    def database_files(self) -> list[Path]:
        db = self.work / "service" / "bank.db"
        return [p for p in (db, db.with_name("bank.db-wal")) if p.is_file()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    keep = tmp_path_factory.mktemp("demo") / "kept"
    result = subprocess.run(
        [sys.executable, "-m", "vinculo_cli.main", "demo", "--people", str(PEOPLE), "--seed",
         "5", "--keep", str(keep)],
        capture_output=True, text=True, cwd=REPO, env=dict(os.environ), timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return DemoRun(result, keep)


def test_demo_prints_quality_and_bank_summary(demo: DemoRun) -> None:
    out = demo.result.stdout
    metrics = {m.group(1): tuple(float(x) for x in m.groups()[1:]) for m in _METRIC.finditer(out)}
    assert set(metrics) == {"todos los pares", "entre fuentes"}, out
    for precision, recall, f1 in metrics.values():
        assert 0.0 <= precision <= 1.0 and 0.0 <= recall <= 1.0
        assert f1 == pytest.approx(2 * precision * recall / (precision + recall), abs=0.002)
    assert metrics["todos los pares"][2] >= F1_FLOOR, out

    with open(demo.data / "truth.csv", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    persons = int(re.search(r"personas \(persons\): (\d+)", out).group(1))  # type: ignore[union-attr]
    per_source = dict(re.findall(r"(reta|sistra|care) (\d+)", out.split("por fuente")[1]
                                 .splitlines()[0]))
    assert sum(int(n) for n in per_source.values()) == len(truth)
    assert 0 < persons <= len(truth)
    spread = int(re.search(r"2\+ registros \(persons in 2\+ registries\): (\d+)",  # type: ignore[union-attr]
                           out).group(1))
    assert 0 < spread <= persons
    assert re.search(r"pares pendientes de revisión \(pending review pairs\): \d+", out)
    assert "Tiempo total" in out
    # The results files are what each source's `vinculo results` would write.
    for source in ("reta", "sistra", "care"):
        with open(demo.work / "results" / f"{source}.csv", encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        assert header[:2] == ["record_id", "person_id"]


def test_no_identifier_in_database_log_or_responses(demo: DemoRun, tmp_path: Path) -> None:
    ids, clashes = needles(demo.inputs)
    assert all(ids[kind] for kind in ("names", "documents", "birth_dates", "record_ids"))
    assert clashes < len(ids["birth_dates"]) / 10  # the exclusion stays a small minority
    assert demo.database_files and demo.database_files[0].stat().st_size > 0
    log = demo.work / "service" / "server.log"
    responses = demo.work / "responses.log"
    assert b"upload.stored" in log.read_bytes()  # the log is the server's, and not empty
    assert responses.read_bytes().count(b"--- ") >= 10  # uploads, job, results, review
    assert b"/api/v1/results" in responses.read_bytes()
    findings = scan_demo_artefacts(database=demo.database_files, server_log=log,
                                   responses=responses, ids=ids, scratch=tmp_path / "db")
    assert findings == []


def test_scan_finds_identifiers_where_they_are(demo: DemoRun, tmp_path: Path) -> None:
    """Controls: the input itself, and the demo's own artefacts with a planted leak."""
    ids, _ = needles(demo.inputs)
    for path in demo.inputs:
        kinds = {kind for _, kind in scan_text(path.read_bytes(), ids, path.name)}
        assert kinds == {"names", "documents", "birth_dates", "record_ids"}, path.name

    with open(demo.inputs[0], encoding="utf-8", newline="") as fh:
        victim = next(r for r in csv.DictReader(fh)
                      if r["numero_documento"].strip().isdigit()
                      and len(r["numero_documento"].strip()) >= 8
                      and len(date_forms(r["fecha_nacimiento"])) == 4
                      and max(len(t) for t in r["apellido_paterno"].split()) >= 6
                      and date_forms(r["fecha_nacimiento"]) <= ids["birth_dates"])
    leaks = {
        "names": victim["apellido_paterno"],
        "documents": victim["numero_documento"].strip(),
        "birth_dates": victim["fecha_nacimiento"],
        "record_ids": victim["record_id"],
    }
    kinds = set(leaks)
    planted = " ; ".join(leaks.values())
    # In the database: a row in a table of the service, as a careless column would hold it.
    copies = tmp_path / "db"
    copies.mkdir()
    for path in demo.database_files:
        shutil.copy(path, copies / path.name)
    con = sqlite3.connect(copies / "bank.db")
    con.execute("CREATE TABLE leak_probe (note TEXT)")
    con.executemany("INSERT INTO leak_probe VALUES (?)", [(f"x {v} y",) for v in leaks.values()])
    con.commit()
    con.close()
    db_files = [p for p in (copies / "bank.db", copies / "bank.db-wal") if p.is_file()]
    assert {k for _, k in scan_database(db_files, ids, tmp_path / "scratch")} == kinds
    # In a response body (JSON escapes and all) and in the log, as an echo of input would be.
    responses = tmp_path / "responses.log"
    responses.write_bytes((demo.work / "responses.log").read_bytes()
                          + b"--- GET /api/v1/results 200\n"
                          + json.dumps({"detail": f"registro {planted}"}).encode() + b"\n")
    assert {k for _, k in scan_responses(responses, ids)} == kinds
    log = (demo.work / "service" / "server.log").read_bytes() + json.dumps(
        {"event": "error", "error": planted}, ensure_ascii=False).encode() + b"\n"
    assert {k for _, k in scan_text(log, ids, "log")} == kinds
    # A record id "sealed" the wrong way (base64 of the clear id) is cut out of the text view
    # as an opaque token, and found once decoded.
    sealed = tmp_path / "sealed.log"
    sealed.write_bytes(b'{"locator":"' + base64.b64encode(
        f"ref:{victim['record_id']}:pad-0".encode()) + b'"}')
    assert "record_ids" in {k for _, k in scan_responses(sealed, ids)}
