"""The institution's package: ``make sdk-wheel``'s wheel installs alone in a fresh virtual
environment (uv, from its cache), holds none of the service, and its ``vinculo-sdk`` encodes,
uploads to a real ``vinculo serve`` of the main environment, reads the results and opens a
re-identification package, with encodings bit-identical to the main environment's."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_vinculo

from vinculo_common.batch import read_batch

REPO = Path(__file__).resolve().parent.parent
SERVICE_ONLY = ("linkage_service", "vinculo_lab", "fastapi", "sqlalchemy", "sqlmodel",
                "anonlink", "psycopg", "uvicorn", "alembic", "matplotlib", "starlette")
SOURCES = ("reta", "sistra", "care")


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv no está: make env lo instala en .tools/"
    return found


def _sdk_cli_modules() -> list[str]:
    spec = importlib.util.spec_from_file_location("build_wheel", REPO / "sdk" / "build_wheel.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.CLI_MODULES)


def test_sdk_cli_modules_import_nothing_of_the_service() -> None:
    """The modules the wheel ships, read as source: no service or lab import, even lazy."""
    import ast

    for name in _sdk_cli_modules():
        tree = ast.parse((REPO / "vinculo_cli" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "vinculo_cli":
                mods = [f"vinculo_cli.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                top = mod.split(".")[0]
                assert top not in SERVICE_ONLY, f"vinculo_cli/{name}.py imports {mod}"
                if top == "vinculo_cli":
                    assert mod.split(".")[1] in _sdk_cli_modules(), f"{name} imports {mod}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, str(REPO / "sdk" / "build_wheel.py"), "--out",
                             str(out)], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.name.startswith("vinculo_sdk-")
    return path


def test_wheel_is_pure_and_holds_only_the_sdk(wheel: Path) -> None:
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"client_sdk", "vinculo_common", "vinculo_cli", "clkhash",
                    wheel.name.split("-py3")[0] + ".dist-info"}
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll", ".dylib"))]
    cli = {Path(n).stem for n in names if n.startswith("vinculo_cli/")}
    assert cli == set(_sdk_cli_modules())  # no main.py, service.py, demo.py, evaluate.py…
    assert "vinculo_common/_schemas/linkage/vinculo-v4.json" in names
    assert "clkhash/LICENSE" in names
    requires = [line.split(":", 1)[1].strip().lower() for line in meta.splitlines()
                if line.startswith("Requires-Dist:")]
    for name in (*SERVICE_ONLY, "clkhash", "psycopg"):
        assert not any(r.startswith(name) for r in requires), name
    assert "vinculo-sdk = vinculo_cli.sdk:run" in entry


@pytest.fixture(scope="module")
def sdk_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with nothing but the wheel and its dependencies."""
    venv = tmp_path_factory.mktemp("sdk") / "venv"
    uv = _uv()
    subprocess.run([uv, "venv", "-q", str(venv), "--python", sys.executable], check=True,
                   timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = subprocess.run([uv, "pip", "install", "-q", "--python", str(python), str(wheel)],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return venv


def _sdk(venv: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = venv / ("Scripts/vinculo-sdk.exe" if os.name == "nt" else "bin/vinculo-sdk")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300,
                            env=env, cwd=venv.parent, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"vinculo-sdk {args[0]} falló: {result.stderr[-2000:]}")
    return result


@pytest.mark.slow
def test_service_packages_are_absent(sdk_env: Path) -> None:
    python = sdk_env / "bin" / "python"
    code = (f"import importlib.util, json; print(json.dumps([m for m in {SERVICE_ONLY!r} if "
            "importlib.util.find_spec(m)]))")
    found = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                           check=True, cwd=sdk_env.parent).stdout.strip()
    assert found == "[]"
    help_text = _sdk(sdk_env, "--help").stdout
    for command in ("encode", "upload", "results", "reid", "keys"):
        assert command in help_text
    for command in ("serve", "admin", "synth", "evaluate", "demo"):
        assert f"  {command} " not in help_text


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_encode_upload_results_and_reid_open_with_the_wheel(
    sdk_env: Path, start_server: Any, tmp_path: Path
) -> None:
    data, keys = tmp_path / "datos", tmp_path / "claves"
    run_vinculo("synth", "--out", str(data), "--people", "150", "--seed", "5")
    _sdk(sdk_env, "keys", "init", "--dir", str(keys), "--sources", ",".join(SOURCES))
    db = f"sqlite:///{tmp_path / 'bank.db'}"
    server = start_server(db, env={"VINCULO_SERVICE_KEY_PATH": str(keys / "service" /
                                                                  "signing.key")})

    # The operator's side, in process (what vinculo admin source add / token create do).
    from linkage_service.admin import create_api_token, register_source_from_keys
    from linkage_service.db import make_engine

    engine = make_engine(db)

    def token(role: str, user: str, source: str | None = None) -> str:
        return create_api_token(engine, role=role, source=source, user=user, actor="cli:admin")[0]

    uploaders = {}
    for source in SOURCES:
        register_source_from_keys(engine, source=source, keys=keys, actor="cli:admin")
        uploaders[source] = token("uploader", f"{source}.it", source)
        batch = tmp_path / f"{source}.vnb"
        _sdk(sdk_env, "encode", "--source", source, "--input", str(data / f"{source}.csv"),
             "--keys", str(keys), "--output", str(batch))
        _sdk(sdk_env, "upload", str(batch), "--server", server.url, "--token",
             uploaders[source])
    # The same export encoded by the main environment: the very same bytes of every encoding.
    main_batch = tmp_path / "reta-main.vnb"
    run_vinculo("encode", "--source", "reta", "--input", str(data / "reta.csv"), "--keys",
                str(keys), "--output", str(main_batch))
    ours, theirs = read_batch(tmp_path / "reta.vnb"), read_batch(main_batch)
    assert np.array_equal(ours.record_refs, theirs.record_refs)
    assert np.array_equal(ours.clks, theirs.clks) and ours.attributes == theirs.attributes

    run_vinculo("link", "--server", server.url, "--token", token("operator", "op"), "--wait")
    out = tmp_path / "resultados.csv"
    _sdk(sdk_env, "results", "--source", "reta", "--server", server.url, "--token",
         uploaders["reta"], "--keys", str(keys), "--output", str(out))
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(data / "reta.csv", encoding="utf-8", newline="") as fh:
        exported = {row["record_id"] for row in csv.DictReader(fh)}
    assert rows and {r["record_id"] for r in rows} <= exported
    linked = [r for r in rows if r["other_sources"]]
    assert linked, "ningún registro de reta aparece en otra fuente"

    chosen = linked[0]
    rid = run_vinculo("reid", "request", "--server", server.url, "--token",
                      token("reid_requester", "ana.fiscal"), "--person", chosen["person_id"],
                      "--basis", "Ley 28950, art. 7", "--purpose", "prueba sintética"
                      ).stdout.strip()
    run_vinculo("reid", "approve", rid, "--server", server.url, "--token",
                token("reid_approver", "beto.jefe"), "--reason", "procede")
    package = tmp_path / "rq.reta.vrp"
    _sdk(sdk_env, "reid", "fetch", rid, "--source", "reta", "--server", server.url, "--token",
         uploaders["reta"], "--output", str(package))
    opened = _sdk(sdk_env, "reid", "open", str(package), "--source", "reta", "--keys",
                  str(keys)).stdout.split()
    same_person = {r["record_id"] for r in rows if r["person_id"] == chosen["person_id"]}
    assert set(opened) == same_person

    failed = _sdk(sdk_env, "upload", str(tmp_path / "nada.vnb"), "--server", server.url,
                  "--token", uploaders["reta"], check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    engine.dispose()
