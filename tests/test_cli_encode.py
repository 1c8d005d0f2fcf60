"""``vinculo keys init`` and ``vinculo encode`` through the real console script, plus encoding of
CSV UTF-8 / Windows-1252 / xlsx exports and the strict mode. Synthetic people only."""

from __future__ import annotations

import csv
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from client_sdk.encode_export import encode_file
from client_sdk.keys import load_linkage_kcv, load_signing_public
from vinculo_common.batch import read_batch
from vinculo_common.schemas import DEFAULT_SCHEMA_ID, known_fingerprints

VINCULO = Path(sys.executable).with_name("vinculo")
HEADER = ["record_id", "nombres", "apellido_paterno", "apellido_materno", "sexo",
          "fecha_nacimiento", "edad", "tipo_documento", "numero_documento", "nacionalidad",
          "ubigeo_nacimiento", "ubigeo_residencia", "fecha_hecho", "ubigeo_hecho",
          "forma_explotacion"]
# Synthetic people; names with Ñ and accents so the code-page paths are exercised.
ROWS = [
    ["SYN-A0001", "Yésica Marleny", "Ñaupari", "Huillcahuamán", "F", "2003-04-21", "",
     "DNI", "47120398", "PER", "080101", "170101", "2019-06-02", "170101", "sexual"],
    ["SYN-A0002", "Rosángela", "Peñaloza", "", "FEMENINO", "14/11/2006", "", "", "", "PER",
     "", "170101", "2021-02-17", "170102", "laboral"],
    ["SYN-A0003", "Dayanny Yuliet", "Castellanos", "Briceño", "F", "", "16", "PTP",
     "PT0938271", "VEN", "", "150101", "2022-08-30", "150101", "sexual;laboral"],
    ["SYN-A0004", "Wilmer", "Ccahuana", "Quisocala", "M", "2001-09", "", "DNI", "70913852",
     "PER", "0801", "08", "2020-01-11", "080101", "laboral"],
]


def _run(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(VINCULO), *args], capture_output=True, text=True, timeout=120,
                          check=False)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


def _write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        out.writerows(rows)
    return path


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "claves"
    _run("keys", "init", "--dir", str(root), "--sources", "reta,sistra")
    return root


def test_keys_init_modes_and_refusal(keys_dir: Path) -> None:
    secret = keys_dir / "linkage_secret.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((keys_dir / "sources" / "reta" / "box.key").stat().st_mode) == 0o600
    before = secret.read_bytes()
    proc = _run("keys", "init", "--dir", str(keys_dir), "--sources", "reta", check_rc=None)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "--force" in proc.stderr
    assert secret.read_bytes() == before


def test_encode_csv_utf8_signed_and_stamped(keys_dir: Path, tmp_path: Path) -> None:
    export = _write_csv(tmp_path / "reta.csv", ROWS)
    out = tmp_path / "reta.vnb"
    proc = _run("encode", "--source", "reta", "--input", str(export), "--keys", str(keys_dir),
                "--output", str(out))
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Codificados 4 registros (4 completos, 0 con campos descartados); rechazados 0")
    assert proc.stdout == ""
    batch = read_batch(out)
    assert batch.record_count == 4 and batch.source == "reta"
    batch.verify_signature(load_signing_public(keys_dir, "reta"))
    assert known_fingerprints()[batch.header["schema_fingerprint"]] == DEFAULT_SCHEMA_ID
    batch.check_compatible(schema_fingerprints=set(known_fingerprints()),
                           secret_check=load_linkage_kcv(keys_dir))
    assert (tmp_path / "reta.vnb.rejects.csv").read_text().strip() == "row,column,reason"


def test_cp1252_and_xlsx_give_the_same_encodings(keys_dir: Path, tmp_path: Path) -> None:
    from openpyxl import Workbook

    utf8 = _write_csv(tmp_path / "u.csv", ROWS)
    latin = _write_csv(tmp_path / "l.csv", ROWS, encoding="cp1252")
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    wb.save(tmp_path / "x.xlsx")
    clks = []
    for name, path in (("u", utf8), ("l", latin), ("x", tmp_path / "x.xlsx")):
        summary = encode_file(source="sistra", input_path=path, keys_dir=keys_dir,
                              output=tmp_path / f"{name}.vnb")
        assert summary.encoded == 4 and summary.rejected == 0, summary
        clks.append(read_batch(tmp_path / f"{name}.vnb").clks.tobytes())
    assert summary.input_encoding != ""
    assert clks[0] == clks[1] == clks[2]


def test_strict_writes_no_batch(keys_dir: Path, tmp_path: Path) -> None:
    bad = [*ROWS, ["SYN-A0001", "Duplicada", "Mamani", "", "F", "", "", "", "", "", "", "",
                   "", "", ""]]
    export = _write_csv(tmp_path / "bad.csv", bad)
    out = tmp_path / "bad.vnb"
    proc = _run("encode", "--source", "reta", "--input", str(export), "--keys", str(keys_dir),
                "--output", str(out), "--strict", check_rc=None)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert "estricto" in proc.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("vinculo-batch")] == []
    report = (tmp_path / "bad.vnb.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert report[1].startswith("6,record_id,")
    # without --strict the good rows are encoded and the bad one reported
    proc = _run("encode", "--source", "reta", "--input", str(export), "--keys", str(keys_dir),
                "--output", str(out), "--rejects", str(tmp_path / "r.csv"))
    assert "Codificados 4 registros (4 completos, 0 con campos descartados); rechazados 1" \
        in proc.stderr
    assert read_batch(out).record_count == 4


@pytest.mark.parametrize(
    ("case", "expected"),
    [("missing_file", "no existe el archivo"), ("wrong_keys", "directorio de claves"),
     ("unknown_source", "fuente 'care'"), ("bad_source", "nombre de fuente inválido")],
)
def test_failures_are_one_line_and_non_zero(keys_dir: Path, tmp_path: Path, case: str,
                                            expected: str) -> None:
    export = _write_csv(tmp_path / "e.csv", ROWS)
    args = {"source": "reta", "input": str(export), "keys": str(keys_dir)}
    if case == "missing_file":
        args["input"] = str(tmp_path / "nope.csv")
    elif case == "wrong_keys":
        args["keys"] = str(tmp_path / "no-keys")
    elif case == "unknown_source":
        args["source"] = "care"
    else:
        args["source"] = "RETA!"
    proc = _run("encode", "--source", args["source"], "--input", args["input"], "--keys",
                args["keys"], "--output", str(tmp_path / "o.vnb"), check_rc=None)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.vnb").exists()


def test_a_bad_field_keeps_the_record_and_strict_refuses_it(keys_dir: Path,
                                                            tmp_path: Path) -> None:
    """An impossible birth date keeps the victim's record (its year salvaged) and the summary
    counts it apart; --strict still refuses the whole export for it."""
    bad = [*ROWS, ["SYN-A0005", "Maritza", "Condori", "", "F", "1905-13-45", "", "", "", "",
                   "", "", "", "", ""]]
    export = _write_csv(tmp_path / "bad.csv", bad)
    out = tmp_path / "b.vnb"
    proc = _run("encode", "--source", "reta", "--input", str(export), "--keys", str(keys_dir),
                "--output", str(out))
    assert proc.stderr.startswith(
        "Codificados 5 registros (4 completos, 1 con campos descartados); rechazados 0")
    assert read_batch(out).record_count == 5
    report = (tmp_path / "b.vnb.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert report[1].startswith("6,fecha_nacimiento,fecha imposible: mes fuera de 1–12; se "
                                "conserva el año")
    out.unlink()
    proc = _run("encode", "--source", "reta", "--input", str(export), "--keys", str(keys_dir),
                "--output", str(out), "--strict", check_rc=None)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert "0 filas rechazadas y 1 con campos descartados" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("SYN-1,Ana,Rojas\nSYN-2,\"Rosa,Diaz\nSYN-3,Luz,Mamani\n",
         "CSV mal formado en la línea 3: comilla sin cerrar"),
        ("SYN-1,Ana,Rojas\nSYN-2,Rosa,Diaz,Quispe,F\n",
         "CSV mal formado en la línea 3: 5 campos y el encabezado tiene 3"),
    ],
    ids=["unclosed_quote", "ragged_row"],
)
def test_malformed_csv_is_one_line_naming_the_line(keys_dir: Path, tmp_path: Path,
                                                   content: str, expected: str) -> None:
    export = tmp_path / "m.csv"
    export.write_text("record_id,nombres,apellido_paterno\n" + content, encoding="utf-8")
    proc = _run("encode", "--source", "reta", "--input", str(export), "--keys", str(keys_dir),
                "--output", str(tmp_path / "m.vnb"), check_rc=None)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert not (tmp_path / "m.vnb").exists()


def test_output_naming_a_folder_is_one_line(keys_dir: Path, tmp_path: Path) -> None:
    export = _write_csv(tmp_path / "e.csv", ROWS)
    for option in ("--output", "--rejects"):
        args = ["--output", str(tmp_path / "o.vnb"), "--rejects", str(tmp_path / "r.csv")]
        args[args.index(option) + 1] = str(tmp_path)
        proc = _run("encode", "--source", "reta", "--input", str(export), "--keys",
                    str(keys_dir), *args, check_rc=None)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "es una carpeta" in lines[0], proc.stderr
    assert not (tmp_path / "o.vnb").exists()


def test_mixed_utf8_and_cp1252_lines_keep_every_name(keys_dir: Path, tmp_path: Path) -> None:
    """An export appended to by two systems: each line decoded on its own, each line read as
    Windows-1252 noted, the same encodings as an all-UTF-8 file."""
    utf8 = _write_csv(tmp_path / "u.csv", ROWS)
    lines = utf8.read_bytes().splitlines(keepends=True)
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"".join(lines[:3]) + b"".join(
        line.decode("utf-8").encode("cp1252") for line in lines[3:]))
    clks = []
    for name, path in (("u", utf8), ("m", mixed)):
        summary = encode_file(source="sistra", input_path=path, keys_dir=keys_dir,
                              output=tmp_path / f"{name}.vnb")
        assert summary.encoded == 4 and summary.rejected == 0
        clks.append(read_batch(tmp_path / f"{name}.vnb").clks.tobytes())
    assert clks[0] == clks[1]
    assert summary.input_encoding == "utf-8+cp1252"
    report = (tmp_path / "m.vnb.rejects.csv").read_text(encoding="utf-8").splitlines()
    # rows 4 and 5 were written as Windows-1252; row 5 is plain ASCII, the same either way
    assert [line.split(",")[:2] for line in report[1:]] == [["4", ""]]
    assert "leída como Windows-1252" in report[1]


def test_help_shows_an_example() -> None:
    for command in (["encode"], ["keys", "init"]):
        proc = _run(*command, "--help")
        assert "Ejemplo: vinculo" in proc.stdout


def test_passphrase_protected_secret_encodes(tmp_path: Path) -> None:
    from client_sdk.keys import init_keys
    from vinculo_common.errors import ConfigError

    init_keys(keys_dir=tmp_path / "k", sources=["reta"], passphrase=b"frase de prueba")
    (tmp_path / "frase.txt").write_text("frase de prueba\n", encoding="utf-8")
    export = _write_csv(tmp_path / "e.csv", ROWS)
    with pytest.raises(ConfigError, match="--passphrase-file"):
        encode_file(source="reta", input_path=export, keys_dir=tmp_path / "k",
                    output=tmp_path / "o.vnb")
    proc = _run("encode", "--source", "reta", "--input", str(export), "--keys",
                str(tmp_path / "k"), "--output", str(tmp_path / "o.vnb"), "--passphrase-file",
                str(tmp_path / "frase.txt"))
    assert proc.stderr.startswith("Codificados 4 registros")


def test_canonical_header_is_recognised_when_the_first_64_kib_end_inside_a_letter(
    tmp_path: Path,
) -> None:
    """The header sniff reads 64 KiB; when that cut falls inside a two-byte letter (É, Ñ) of
    an export that also holds an Á, the export is still canonical. It was once read as "no
    header", so the care registry's own mapping (RENIEC UBIGEOs) was applied to a canonical
    export and 37 % of its rows were rejected as unknown RENIEC codes."""
    from client_sdk.encode_export import resolve_mapping

    header = ("record_id,nombres,apellido_paterno,apellido_materno,sexo,fecha_nacimiento,edad,"
              "tipo_documento,numero_documento,nacionalidad,ubigeo_nacimiento,"
              "ubigeo_residencia,fecha_hecho,ubigeo_hecho,forma_explotacion\n")
    # Á is C3 81 in UTF-8, and 0x81 is no character in cp1252: neither decoding can read it all
    row = "AT-{:06d},ÁNGEL JOSÉ,PEÑA,QUISPE,M,,20,,,PER,150101,150101,2020-01-01,150101,\n"
    text = header
    k = 0
    while len(text.encode("utf-8")) < 70_000:
        text += row.format(k)
        k += 1
    data = text.encode("utf-8")
    # shift the rows until byte 65536 is the second byte of a two-byte letter
    pad = 0
    while not (0x80 <= data[65536] < 0xC0 and data[65535] >= 0xC0):
        pad += 1
        data = (header + "AT-X" + "X" * pad + ",ANA,ROJAS,,F,,20,,,PER,,,,,\n").encode() + \
            text[len(header):].encode("utf-8")
    export = tmp_path / "care.csv"
    export.write_bytes(data)
    mapping, _, label = resolve_mapping(source="care", input_path=export, mapping=None)
    assert mapping is None and label.startswith("canónico")
