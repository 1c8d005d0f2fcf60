"""Build the institution's wheel: ``dist/vinculo_sdk-<version>-py3-none-any.whl``.

``make sdk-wheel`` runs this with the project's environment. It stages, in a temporary folder,
``sdk/pyproject.toml`` (version taken from the main pyproject), a README, the packages
``client_sdk`` and ``vinculo_common`` (with ``schemas/`` as ``vinculo_common/_schemas``, where
``vinculo_common.paths`` looks in an installed wheel), only the CLI modules of the SDK's
commands (``vinculo_cli/{sdk,errors,client,encode,results,keys,reid}.py``) and clkhash 0.18.3
copied from the locked environment with its licence; then builds the wheel with
``uv build`` (hatchling). Nothing of ``linkage_service`` or ``vinculo_lab`` goes in.

    .venv/bin/python sdk/build_wheel.py [--out dist]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI_MODULES = ("__init__", "sdk", "errors", "client", "encode", "results", "keys", "reid")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
README = """\
# vinculo-sdk

El paquete de las instituciones: codificar su registro (`vinculo-sdk encode`), subir el lote
(`vinculo-sdk upload`), recibir los resultados (`vinculo-sdk results`) y abrir paquetes de
reidentificación (`vinculo-sdk reid fetch|open`), sin instalar el servicio de enlace.
Instrucciones (Windows incluido): README del proyecto, sección "Instalar solo el SDK".

*The institution's package: encode, upload, results and re-identification packages, without
the linkage service. Installation (Windows included): the project's README.*
"""


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        raise SystemExit("uv no encontrado: ejecute make env (uv not found)")
    return found


def stage(into: Path) -> Path:
    """Lay out the SDK project in ``into``; returns it."""
    import clkhash

    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["version"]
    text = (REPO / "sdk" / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^version = "[^"]*"', f'version = "{version}"', text, count=1)
    (into / "pyproject.toml").write_text(text, encoding="utf-8")
    (into / "README.md").write_text(README, encoding="utf-8")
    for package in ("client_sdk", "vinculo_common"):
        shutil.copytree(REPO / package, into / package, ignore=_IGNORE)
    shutil.copytree(REPO / "schemas", into / "vinculo_common" / "_schemas", ignore=_IGNORE)
    (into / "vinculo_cli").mkdir()
    for name in CLI_MODULES:
        shutil.copy2(REPO / "vinculo_cli" / f"{name}.py", into / "vinculo_cli" / f"{name}.py")
    source = Path(clkhash.__file__).resolve().parent
    # data/*.csv feed clkhash's random-name generator (6 MB), never used by the SDK (its JSON
    # schema is read at import, so it stays).
    shutil.copytree(source, into / "clkhash", ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "*.csv", "benchmark.py"))
    licence = next(source.parent.glob("clkhash-*.dist-info/LICENSE"), None)
    if licence is None:
        raise SystemExit("falta la licencia de clkhash en el entorno (clkhash LICENSE missing)")
    shutil.copy2(licence, into / "clkhash" / "LICENSE")
    return into


def build(out: Path) -> Path:
    """Build the wheel into ``out``; returns its path."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vinculo-sdk-") as tmp:
        staged = stage(Path(tmp))
        before = set(out.glob("vinculo_sdk-*.whl"))
        result = subprocess.run([_uv(), "build", "--wheel", "--out-dir", str(out), str(staged)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"uv build falló: {result.stderr[-2000:]}")
    wheels = sorted(set(out.glob("vinculo_sdk-*.whl")) - before) or sorted(
        out.glob("vinculo_sdk-*.whl"), key=lambda p: p.stat().st_mtime)[-1:]
    if not wheels or not wheels[-1].name.endswith("-py3-none-any.whl"):
        raise SystemExit(f"no se produjo una rueda pura (no pure wheel): {wheels}")
    return wheels[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
