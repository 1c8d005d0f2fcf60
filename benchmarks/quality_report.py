"""Regenerate ``docs/quality.md``: linkage quality of the current version on fresh synthetic data.

For each generator profile (``default``, ``hard``, the ``alt`` error mix nobody tuned on, and
``foreign`` / ``foreign-1to1``, a registry with none of the Peruvian fields) and each size
(3,000 and 6,000 people), generate registries with a fresh seed, run the real
``vinculo evaluate`` on them (encode → a real ``vinculo serve`` on SQLite → upload → link →
results; threshold sweep in-process) and collect the reports into one Markdown page with the
tables and the sweep plots (``docs/img/quality-sweep-<profile>-<people>.png``), next to the two
baselines on the same records (exact document number; plain clkhash + anonlink at its best
threshold: ``vinculo_lab.evaluation.baselines``) and the share of rows the SDK rejected.

    .venv/bin/python benchmarks/quality_report.py                 # the committed report
    .venv/bin/python benchmarks/quality_report.py --sizes 3000 --profiles default --out /tmp/q.md

Each run prints its wall time on stderr; the page records them too.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOAL = {"f1": 0.95, "precision": 0.98, "review_percent": 3.0}


def _vinculo(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "vinculo_cli.main", *args], cwd=REPO,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"vinculo {' '.join(args[:2])} falló: {result.stderr[-2000:]}")
    return result


def run_one(*, profile: str, people: int, seed: int, work: Path,
            reuse: bool = False) -> dict[str, Any]:
    """Synthesize one dataset and evaluate it with the real command; return its report.

    ``reuse``: take the report already in ``work`` for this profile, size and seed, if any.
    """
    folder = work / f"{profile}-{people}"
    data, out = folder / "datos", folder / "eval"
    config_file = folder / "config.json"
    if reuse and (out / "report.json").is_file() and config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if config.get("seed") == seed:
            kept: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
            kept["config"] = config
            print(f"{profile} {people}: reutilizado (reused)", file=sys.stderr, flush=True)
            return kept
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    _vinculo("synth", "--out", str(data), "--people", str(people), "--seed", str(seed),
             "--profile", profile)
    _vinculo("evaluate", "--data", str(data), "--out", str(out))
    seconds = time.perf_counter() - started
    report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    report["config"] = {"profile": profile, "people": people, "seed": seed,
                        "wall_seconds": round(seconds, 1), "out": str(out)}
    config_file.write_text(json.dumps(report["config"]), encoding="utf-8")
    print(f"{profile} {people}: F1 {report['scores']['all_pairs']['f1']:.3f} en {seconds:.0f} s",
          file=sys.stderr, flush=True)
    return report


def _fill_kept_baselines(report: dict[str, Any]) -> None:
    """Reports of an older ``vinculo evaluate`` lack the baselines on the kept records: score
    them from the run's files (exports, truth, the results each source opened)."""
    if "baselines_kept_records" in report or "baselines" not in report:
        return
    import csv

    from vinculo_lab.evaluation import pairwise_scores
    from vinculo_lab.evaluation.baselines import baseline_scores
    from vinculo_lab.evaluation.report import read_plaintext
    from vinculo_lab.evaluation.run import find_export, read_truth

    data = Path(report["data_dir"])
    truth = read_truth(data / "truth.csv")
    run = Path(report["config"]["out"]) / "run" / "results"
    predicted = {}
    rows = {}
    for source in report["sources"]:
        with open(run / f"{source}.csv", encoding="utf-8", newline="") as fh:
            predicted.update({(source, r["record_id"]): r["person_id"]
                              for r in csv.DictReader(fh) if r["person_id"]})
        plain = read_plaintext(find_export(data, source))
        rows.update({(source, k): v for k, v in plain.items()})
    kept = {k: v for k, v in truth.items() if k in predicted}
    report["scores_kept_records"] = pairwise_scores(kept, predicted).as_dict()
    report["baselines_kept_records"] = baseline_scores(rows, kept)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f} %"


def _f(x: float) -> str:
    return f"{x:.3f}"


def _meets(report: dict[str, Any]) -> str:
    s = report["scores"]["all_pairs"]
    pct = report["review_band"]["percent_of_records"]
    ok = (s["f1"] >= GOAL["f1"] and s["precision"] >= GOAL["precision"]
          and pct is not None and pct <= GOAL["review_percent"])
    return "sí" if ok else "no"


def _prf(c: dict[str, Any]) -> str:
    return f"{_f(c['precision'])} / {_f(c['recall'])} / **{_f(c['f1'])}**"


def _baseline_section(reports: list[dict[str, Any]]) -> list[str]:
    """vinculo next to exact document matching and plain clkhash + anonlink, same records."""
    lines = [
        "## Frente a las líneas base (against the baselines)", "",
        "Los mismos registros (todas las filas de las exportaciones, también las que el SDK "
        "rechazó: para vinculo una fila rechazada es un registro sin enlazar) enlazados de dos "
        "maneras simples: **documento exacto** (mismo número de documento sin espacios, guiones "
        "ni puntos = misma persona) y **clkhash + anonlink** sin más (un campo clkhash por "
        "columna de identidad que tenga la exportación: nombres, cada apellido, sexo, fecha "
        "de nacimiento como AAAAMMDD, documento; bigramas, 1024 bits; `find_candidate_pairs` "
        "con Dice y `greedy_solve`, que une a lo sumo un registro por fuente). Para clkhash + "
        "anonlink se muestra el **mejor** umbral del barrido 0.7–0.95, elegido con la verdad: "
        "la línea base en su punto más favorable. Celdas: precisión / exhaustividad / **F1** "
        "sobre todos los pares; «entre fuentes»: F1 solo de pares de fuentes distintas (donde "
        "el modelo uno a uno de anonlink es el correcto). `foreign-1to1`: nadie aparece dos "
        "veces en una fuente.", "",
        "| perfil | personas | filas rechazadas | vinculo | vinculo entre fuentes | documento "
        "exacto | exacto entre fuentes | clkhash + anonlink (umbral) | clkhash entre fuentes "
        "| vinculo gana |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in reports:
        base = r.get("baselines")
        if not base:
            continue
        c, s, rec = r["config"], r["scores"], r["records"]
        share = rec.get("rejected_share")
        if share is None:
            share = sum(rec["rejected"].values()) / max(rec["in_truth"], 1)
        exact, clk = base["exact_document"], base["clkhash_anonlink"]["best"]
        wins = all(s[k]["f1"] > b[k]["f1"] for b in (exact, clk)
                   for k in ("all_pairs", "cross_source"))
        lines.append(
            f"| {c['profile']} | {c['people']} | {100 * share:.1f} % | {_prf(s['all_pairs'])} | "
            f"{_f(s['cross_source']['f1'])} | "
            f"{_prf(exact['all_pairs'])} | {_f(exact['cross_source']['f1'])} | "
            f"{_prf(clk['all_pairs'])} ({clk['threshold']}) | {_f(clk['cross_source']['f1'])} | "
            f"{'sí' if wins else 'no'} |")
    lines += ["", "Solo los registros que el SDK aceptó (only the records the SDK kept): el "
              "modelo de enlace frente a las líneas base, dejando aparte las filas rechazadas "
              "(que son trabajo de la lectura y validación, no del modelo).", "",
              "| perfil | personas | registros aceptados | vinculo | documento exacto | "
              "clkhash + anonlink (umbral) | vinculo gana |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in reports:
        kept, base = r.get("scores_kept_records"), r.get("baselines_kept_records")
        if not kept or not base:
            continue
        exact, clk = base["exact_document"], base["clkhash_anonlink"]["best"]
        wins = all(kept["all_pairs"]["f1"] > b["all_pairs"]["f1"] for b in (exact, clk))
        lines.append(
            f"| {r['config']['profile']} | {r['config']['people']} | {base['records']} | "
            f"{_prf(kept['all_pairs'])} | {_prf(exact['all_pairs'])} | "
            f"{_prf(clk['all_pairs'])} ({clk['threshold']}) | {'sí' if wins else 'no'} |")
    return [*lines, ""]


def render(reports: list[dict[str, Any]], *, images: dict[str, str], command: str,
           commit: str) -> str:
    """The Markdown page."""
    lines = [
        "# Calidad del enlace (linkage quality)",
        "",
        f"Generado por `{command}` el {datetime.now(UTC):%Y-%m-%d %H:%M} UTC sobre el commit "
        f"`{commit}` ({platform.machine()}, {platform.python_version()}). No editar a mano: "
        "volver a generar.",
        "",
        "Cada fila es una corrida de `vinculo evaluate` sobre registros sintéticos nuevos "
        "(`vinculo synth`, semilla indicada): el camino real — claves, `vinculo encode` por "
        "fuente, un `vinculo serve` real sobre SQLite, carga, `vinculo link`, resultados "
        "abiertos con las claves de cada fuente — comparado con la verdad del generador. "
        "Perfiles: `default`, `hard` (más errores), `alt` (una mezcla de errores con la que "
        "nadie afinó) y `foreign` / `foreign-1to1` (un registro que no es peruano: nombres no "
        "hispanos, un solo apellido, sin sexo, nacionalidad ni lugares, un número tipo "
        "seguridad social como documento, nacimientos de todo el siglo XX y fechas mal "
        "tipeadas; ver docs/synthetic-data.md). Métricas sobre pares de registros (todos y "
        "solo entre fuentes). "
        "Banda de revisión: registros con al menos un par en la cola de revisión "
        "(según el núcleo re-ejecutado con los parámetros del servicio).",
        "",
        f"Meta del issue 5 (goal): F1 ≥ {GOAL['f1']}, precisión ≥ {GOAL['precision']}, "
        f"≤ {GOAL['review_percent']:.0f} % de registros en revisión.",
        "",
        "## Resultados (results)",
        "",
        "| perfil | personas | semilla | registros | precisión | exhaustividad | F1 | F1 entre "
        "fuentes | en revisión | pares pendientes | umbrales (sup / inf) | personas halladas "
        "/ reales | meta | tiempo |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for r in reports:
        c, s = r["config"], r["scores"]
        th = r["service"].get("thresholds") or {}
        upper, lower = th.get("upper"), th.get("lower")
        true_persons = len({p for p in r.get("_truth_persons", [])}) or "?"
        lines.append(
            f"| {c['profile']} | {c['people']} | {c['seed']} | {s['n_records']} | "
            f"{_f(s['all_pairs']['precision'])} | {_f(s['all_pairs']['recall'])} | "
            f"**{_f(s['all_pairs']['f1'])}** | {_f(s['cross_source']['f1'])} | "
            f"{_pct(r['review_band']['percent_of_records'])} | "
            f"{r['service']['review_pending_pairs']} | "
            f"{'—' if upper is None else f'{upper:.3f}'} / "
            f"{'—' if lower is None else f'{lower:.3f}'} | "
            f"{r['bank']['persons']} / {true_persons} | {_meets(r)} | "
            f"{c['wall_seconds']:.0f} s |")
    lines += ["", "Tiempo: synth + evaluate completo (incluye el barrido de umbrales y las "
              "líneas base) en esta máquina, compartida con otros procesos.", ""]
    lines += _baseline_section(reports)

    # Recall by kind: one column per run, kinds ordered by pairs missed in the first run.
    lines += ["## Qué se pierde: exhaustividad por tipo de diferencia (recall by kind)", "",
              "Pares verdaderos de cada tipo de diferencia (leído del texto plano por el "
              "evaluador) y la fracción enlazada. Un par cuenta en cada tipo que muestra. "
              "Ordenado por pares perdidos en la primera corrida.", ""]
    tables = [{row["kind"]: row for row in r["recall_by_kind"]} for r in reports]
    first = tables[0]
    kinds = sorted({k for t in tables for k in t},
                   key=lambda k: (k != "all", -first.get(k, {}).get("missed", 0), k))
    header = "| tipo (kind) | " + " | ".join(
        f"{r['config']['profile']} {r['config']['people']}" for r in reports) + " |"
    lines += [header, "|---|" + "---:|" * len(reports)]
    for kind in kinds:
        cells = []
        for t in tables:
            row = t.get(kind)
            cells.append("—" if row is None else
                         f"{row['recall']:.3f} ({row['missed']}/{row['pairs']})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", "Celdas: exhaustividad (pares perdidos / pares).", ""]

    lines += ["## Barrido del umbral superior (threshold sweep)", "",
              "El barrido **no** pasa por el servicio: re-ejecuta el núcleo de enlace "
              "(`linkage_service.linkage.link`) en el proceso del evaluador sobre las mismas "
              "codificaciones, leídas de los lotes (`vinculo_common.batch.read_batch`), con el "
              "modelo Fellegi–Sunter estimado una vez y el umbral inferior del servicio. Con "
              "los parámetros del servicio reproduce su agrupamiento (*coincide con el "
              "servicio*: F1 de pares entre ambos agrupamientos; 1.000 = idénticos). "
              "Línea vertical: umbral superior elegido por el servicio.",
              ""]
    for r in reports:
        key = f"{r['config']['profile']}-{r['config']['people']}"
        sweep = r.get("sweep")
        if not sweep:
            continue
        agree = sweep.get("in_process_vs_service", {}).get("pairs_f1")
        lines += [f"### {r['config']['profile']}, {r['config']['people']} personas "
                  f"(coincide con el servicio: {agree:.3f})" if agree is not None else
                  f"### {key}", ""]
        if key in images:
            lines += [f"![barrido {key}]({images[key]})", ""]
        lines += ["| umbral superior | precisión | exhaustividad | F1 | en revisión |",
                  "|---:|---:|---:|---:|---:|"]
        for p in sweep["points"]:
            lines.append(f"| {p['upper_threshold']} | {_f(p['precision'])} | "
                         f"{_f(p['recall'])} | {_f(p['f1'])} | "
                         f"{_pct(p['review_band']['percent_of_records'])} |")
        lines.append("")
    lines += [
        "## Las herramientas (the tools)", "",
        "- `vinculo evaluate --data DIR [--mapping FUENTE=ARCHIVO ...] [--out DIR] "
        "[--sources reta,sistra,care] [--no-sweep]`: DIR tiene una exportación por fuente "
        "(`reta.csv`, `sistra.csv`, `care.csv`, o `.xlsx`) y `truth.csv` "
        "(`source,record_id,person_id`). Escribe `report.json` (`scores` de todos los pares y "
        "entre fuentes, `review_band`, `recall_by_kind`, `sweep`, `bank`, `service`, "
        "`timings`) y `sweep.png` en `--out`, y deja la corrida (claves, lotes, base, "
        "registro del servidor, resultados) en `--out/run`. `--mapping` acepta exportaciones "
        "en el formato propio de una fuente (p. ej. el de RETA, `schemas/sources/reta.json`). "
        "Herramienta de desarrollo: lee el texto plano para clasificar las diferencias.",
        "- `vinculo demo [--people N] [--seed S] [--keep DIR]`: lo mismo sobre datos "
        "sintéticos recién generados (2.000 personas por defecto, menos de un minuto), "
        "imprime precisión, exhaustividad y F1 y un resumen del banco; `make demo` lo "
        "ejecuta. Con `--keep` conserva todo, incluidas las respuestas HTTP "
        "(`trabajo/responses.log`), que `tests/test_demo.py` examina en busca de "
        "identificadores.",
        "- `python benchmarks/quality_report.py`: regenera esta página.", "",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="3000,6000")
    parser.add_argument("--profiles", default="default,hard,alt,foreign,foreign-1to1")
    parser.add_argument("--seed", type=int, default=20_251,
                        help="first seed; each run gets the next one (fresh data per run)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "quality.md")
    parser.add_argument("--img", type=Path, default=None,
                        help="folder for the plots (default: img/ beside --out)")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep every run's files here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: keep the reports already there (same profile, size "
                        "and seed) and run only the missing ones")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    img = args.img or args.out.parent / "img"
    work = args.work or Path(tempfile.mkdtemp(prefix="vinculo-quality-"))
    reports = []
    seed = args.seed
    try:
        for people in sizes:
            for profile in profiles:
                report = run_one(profile=profile, people=people, seed=seed, work=work,
                                 reuse=args.reuse)
                _fill_kept_baselines(report)
                truth = Path(report["data_dir"]) / "truth.csv"
                with open(truth, encoding="utf-8") as fh:
                    report["_truth_persons"] = {line.rsplit(",", 1)[-1].strip()
                                                for line in list(fh)[1:]}
                reports.append(report)
                seed += 1
        images: dict[str, str] = {}
        img.mkdir(parents=True, exist_ok=True)
        for r in reports:
            key = f"{r['config']['profile']}-{r['config']['people']}"
            png = Path(r["config"]["out"]) / "sweep.png"
            if png.is_file():
                target = img / f"quality-sweep-{key}.png"
                shutil.copy(png, target)
                images[key] = str(target.relative_to(args.out.parent)) \
                    if target.is_relative_to(args.out.parent) else str(target)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "client_sdk", "linkage_service",
             "vinculo_common", "schemas"], cwd=REPO, capture_output=True, text=True,
            check=False).stdout
        changed = sorted({"/".join(line[3:].split("/")[:2]) for line in dirty.splitlines()
                          if line.strip()})
        if commit and changed:
            commit += " + cambios sin commit en " + ", ".join(changed)
        given = list(sys.argv[1:] if argv is None else argv)
        if "--work" in given:  # where the runs were kept is no part of the result
            at = given.index("--work")
            del given[at:at + 2]
        given = [g for g in given if g != "--reuse"]
        command = " ".join(["python benchmarks/quality_report.py", *given])
        args.out.write_text(render(reports, images=images, command=command,
                                   commit=commit or "?"), encoding="utf-8")
        print(f"escrito {args.out}", file=sys.stderr)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
