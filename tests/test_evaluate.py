"""``vinculo evaluate``: the real path on a tiny synthetic directory, its report and plot, and
``--mapping`` on a registry written in RETA's own layout. Only synthetic people."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vinculo_common.errors import InputError
from vinculo_common.paths import schemas_dir
from vinculo_lab.evaluation.report import read_plaintext, upper_grid
from vinculo_lab.evaluation.run import bank_summary, parse_mappings, read_truth
from vinculo_lab.synth import generate, profile, write_dataset

REPO = Path(__file__).resolve().parent.parent
PEOPLE = 150
F1_FLOOR = 0.6  # clkhash + anonlink as they come score 0.61 on held-out registries

# RETA's own layout (schemas/sources/reta.json), with one header only a custom mapping knows.
_RETA_HEADERS = {
    "record_id": "REGISTRO POLICIAL", "apellido_paterno": "APELLIDO PATERNO",
    "apellido_materno": "APELLIDO MATERNO", "nombres": "NOMBRES", "sexo": "SEXO",
    "fecha_nacimiento": "FEC. NACIMIENTO", "edad": "EDAD", "tipo_documento": "TIPO DOC.",
    "numero_documento": "DOC. IDENTIDAD", "nacionalidad": "NACIONALIDAD",
    "ubigeo_nacimiento": "UBIGEO NAC.", "ubigeo_residencia": "UBIGEO DOMICILIO",
    "fecha_hecho": "FEC. INTERVENCIÓN", "ubigeo_hecho": "UBIGEO INTERVENCIÓN",
    "forma_explotacion": "FINALIDAD DE EXPLOTACIÓN",
}
_SEX = {"F": "2", "M": "1"}
_DOC = {"DNI": "1", "CE": "2", "PASAPORTE": "3", "PTP": "4", "CPP": "5", "OTRO": "6", "": "0"}
_NATIONALITY = {"PER": "PERUANA (O)", "VEN": "VENEZOLANA (O)", "COL": "COLOMBIANA (O)"}
_FORMS = {"sexual": "EXPLOTACIÓN SEXUAL", "laboral": "EXPLOTACIÓN LABORAL",
          "mendicidad": "MENDICIDAD"}


def _to_reta_layout(canonical: Path, out: Path) -> int:
    """Rewrite a canonical export as RETA writes it: its headers, its codes, DD/MM/YYYY dates,
    Windows-1252, ';' separated, plus a column the mapping ignores. Returns the row count."""
    with open(canonical, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out, "w", encoding="cp1252", errors="replace", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow([*_RETA_HEADERS.values(), "DEPENDENCIA POLICIAL"])
        for row in rows:
            cells = []
            for column in _RETA_HEADERS:
                value = row[column]
                if column == "sexo":
                    value = _SEX.get(value.strip().upper(), value)
                elif column == "tipo_documento":
                    value = _DOC.get(value.strip().upper(), value)
                elif column == "nacionalidad":
                    value = _NATIONALITY.get(value.strip().upper(), value)
                elif column == "forma_explotacion":
                    value = _FORMS.get(value, value)
                elif column in ("fecha_nacimiento", "fecha_hecho") and len(value) == 10 \
                        and value[4] == "-":
                    value = f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
                cells.append(value)
            writer.writerow([*cells, "DIVINDAT"])
    return len(rows)


def _custom_reta_mapping(path: Path) -> Path:
    document = json.loads((schemas_dir() / "sources" / "reta.json").read_text(encoding="utf-8"))
    document.pop("$schema", None)
    document["columns"]["record_id"] = ["REGISTRO POLICIAL"]
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _vinculo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "vinculo_cli.main", *args],
                            capture_output=True, text=True, cwd=REPO, env=dict(os.environ),
                            timeout=600, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"vinculo {args[0]} failed: {result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evaluate") / "datos"
    write_dataset(generate(people=PEOPLE, seed=11, config=profile("default")), out)
    return out


# ----------------------------------------------------------------------------- fast


def test_parse_mappings_and_refusals() -> None:
    assert parse_mappings(["reta=a.json", " care = b.json "]) == {"reta": "a.json",
                                                                   "care": "b.json"}
    for bad in ("reta", "=a.json", "reta="):
        with pytest.raises(InputError):
            parse_mappings([bad])


def test_bank_summary_counts_persons_and_spread() -> None:
    predicted = {("reta", "1"): "A", ("reta", "2"): "A", ("care", "1"): "A",
                 ("sistra", "1"): "B", ("care", "2"): "C"}
    summary = bank_summary(predicted)
    assert summary["persons"] == 3 and summary["records"] == 5
    assert summary["records_per_source"] == {"care": 2, "reta": 2, "sistra": 1}
    assert summary["persons_by_number_of_sources"] == {1: 2, 2: 1}
    assert summary["persons_in_2plus_sources"] == 1
    assert summary["persons_with_repeat_in_one_source"] == 1


def test_read_plaintext_through_a_mapping_gives_canonical_rows(
    synth_dir: Path, tmp_path: Path
) -> None:
    reta = tmp_path / "reta.csv"
    n = _to_reta_layout(synth_dir / "reta.csv", reta)
    mapping = _custom_reta_mapping(tmp_path / "mapeo.json")
    canonical = read_plaintext(synth_dir / "reta.csv")
    mapped = read_plaintext(reta, mapping=mapping)
    assert len(mapped) == len(canonical) == n
    for record_id, row in canonical.items():
        surname = row["apellido_paterno"]
        if surname.encode("cp1252", errors="replace").decode("cp1252") == surname:
            assert mapped[record_id]["apellido_paterno"] == surname  # unchanged by the layout
        if row["sexo"].strip().upper() in _SEX:
            assert mapped[record_id]["sexo"] == row["sexo"].strip().upper()  # code mapped back
    with pytest.raises(InputError):
        read_plaintext(reta)  # without the mapping, the record_id column is unknown


def test_read_truth_refuses_missing_columns(tmp_path: Path) -> None:
    bad = tmp_path / "truth.csv"
    bad.write_text("source,record_id\nreta,R1\n", encoding="utf-8")
    with pytest.raises(InputError, match="person_id"):
        read_truth(bad)
    with pytest.raises(InputError):
        read_truth(tmp_path / "absent.csv")


# ----------------------------------------------------------------------------- real path


@pytest.mark.slow
def test_evaluate_reports_scores_review_band_kinds_and_sweep(
    synth_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    result = _vinculo("evaluate", "--data", str(synth_dir), "--out", str(out))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    for key in ("scores", "review_band", "recall_by_kind", "sweep", "bank", "service",
                "records", "timings"):
        assert key in report, key
    truth = read_truth(synth_dir / "truth.csv")
    assert report["records"]["in_truth"] == len(truth)
    assert report["scores"]["n_records"] == len(truth)
    for part in ("all_pairs", "cross_source"):
        assert set(report["scores"][part]) >= {"precision", "recall", "f1"}
    assert report["scores"]["all_pairs"]["f1"] >= F1_FLOOR
    band = report["review_band"]
    assert 0 <= band["records"] <= len(truth)
    assert band["percent_of_records"] == pytest.approx(100 * band["records"] / len(truth),
                                                       abs=0.01)
    kinds = {row["kind"]: row for row in report["recall_by_kind"]}
    assert kinds["all"]["pairs"] == report["scores"]["all_pairs"]["true_pairs"]
    assert kinds["all"]["found"] == report["scores"]["all_pairs"]["true_positives"]
    assert len(kinds) > 5  # the plaintext was read: pairs fall into named kinds
    sweep = report["sweep"]
    assert [p["upper_threshold"] for p in sweep["points"]] == list(upper_grid())
    # The sweep re-runs the core in-process: at the service's settings it must reproduce the
    # service's clustering, or the sweep would describe something else.
    assert sweep["in_process_vs_service"]["pairs_f1"] == pytest.approx(1.0)
    assert sweep["as_service"]["scores"]["all_pairs"] == report["scores"]["all_pairs"]
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "precisión" in result.stdout and "núcleo de enlace" in result.stdout
    # The baselines on the same records (issue 13), and what the SDK kept.
    records = report["records"]
    assert records["rejected_share"] == pytest.approx(
        sum(records["rejected"].values()) / len(truth), abs=1e-4)
    assert report["scores_kept_records"]["n_records"] == sum(records["encoded"].values())
    base = report["baselines"]
    assert base["records"] == len(truth)
    for name in ("exact_document", "clkhash_anonlink"):
        scores = base[name] if name == "exact_document" else base[name]["best"]
        assert 0 < scores["all_pairs"]["f1"] < report["scores"]["all_pairs"]["f1"], name
    kept = report["baselines_kept_records"]
    assert kept["records"] == report["scores_kept_records"]["n_records"]
    assert "línea base" in result.stdout


@pytest.mark.slow
def test_evaluate_mapping_reads_reta_own_layout(synth_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "datos"
    data.mkdir()
    rows = _to_reta_layout(synth_dir / "reta.csv", data / "reta.csv")
    for name in ("sistra.csv", "care.csv", "truth.csv"):
        (data / name).write_bytes((synth_dir / name).read_bytes())
    mapping = _custom_reta_mapping(tmp_path / "mapeo_reta.json")

    refused = _vinculo("evaluate", "--data", str(data), "--out", str(tmp_path / "sin"),
                       "--no-sweep", check=False)
    assert refused.returncode != 0 and "record_id" in refused.stderr

    out = tmp_path / "con"
    _vinculo("evaluate", "--data", str(data), "--out", str(out), "--no-sweep",
             "--no-baselines", "--mapping", f"reta={mapping}")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["mappings"] == {"reta": str(mapping)}
    assert report["records"]["encoded"]["reta"] + report["records"]["rejected"]["reta"] == rows
    assert report["records"]["encoded"]["reta"] >= 0.95 * rows
    assert report["scores"]["n_unknown"] == 0  # RETA's record ids came back as truth knows them
    assert report["scores"]["all_pairs"]["f1"] >= F1_FLOOR
    assert not (out / "sweep.png").exists()


@pytest.mark.slow
def test_evaluate_with_another_schema_encodes_and_serves_with_it(
    synth_dir: Path, tmp_path: Path
) -> None:
    """--schema measures a hardened encoding (issue 7) through the same real path."""
    from vinculo_common.batch import read_batch

    out = tmp_path / "v2"
    _vinculo("evaluate", "--data", str(synth_dir), "--out", str(out), "--no-sweep",
             "--no-baselines", "--schema", "vinculo-v2")
    batch = read_batch(out / "run" / "batches" / "reta.vnb")
    assert batch.header["schema_id"] == "vinculo-v2"
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["scores"]["all_pairs"]["f1"] >= F1_FLOOR  # the service accepted and linked it
