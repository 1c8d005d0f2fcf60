"""``vinculo evaluate``: linkage quality of the real path on registries with a known truth."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["evaluate_directory", "format_report", "register"]


def evaluate_directory(
    *, data_dir: Path, out_dir: Path, mappings: dict[str, str] | None = None,
    sources: tuple[str, ...] = ("reta", "sistra", "care"), sweep: bool = True,
    schema_id: str | None = None, echo: Any = None, baselines: bool = True,
) -> dict[str, Any]:
    """Run the real path on ``data_dir`` and write ``out_dir/report.json`` (+ ``sweep.png``).

    With ``baselines`` the report also scores exact document matching and plain clkhash +
    anonlink on the same records (``vinculo_lab.evaluation.baselines``), next to vinculo's
    scores, its scores on the records the SDK kept, and the share of rows it rejected.
    The run's files (keys, batches, database, server log, results) stay in ``out_dir/run``.

    Example: ``evaluate_directory(data_dir=Path("datos"), out_dir=Path("eval"))["scores"]``
    """
    from vinculo_common.errors import InputError
    from vinculo_lab.evaluation import pairwise_scores
    from vinculo_lab.evaluation.report import (
        kind_table,
        load_encoded_bank,
        plot_sweep,
        read_plaintext,
        threshold_sweep,
    )
    from vinculo_lab.evaluation.run import find_export, read_truth, run_pipeline

    started = time.perf_counter()
    truth = read_truth(data_dir / "truth.csv")
    truth = {k: v for k, v in truth.items() if k[0] in sources}
    if not truth:
        raise InputError(f"truth.csv no tiene registros de {', '.join(sources)}")
    if out_dir.exists() and (out_dir / "run").exists():
        raise InputError(f"{out_dir}/run ya existe: use otra carpeta --out (out dir in use)")
    out_dir.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"echo": echo} if echo is not None else {}
    if schema_id is not None:
        kwargs["schema_id"] = schema_id
    run = run_pipeline(data_dir=data_dir, work_dir=out_dir / "run", sources=sources,
                       mappings=mappings, **kwargs)
    scores = pairwise_scores(truth, run.predicted)
    rows = {}
    for source in sources:
        plain = read_plaintext(find_export(data_dir, source),
                               mapping=(mappings or {}).get(source))
        rows.update({(source, record_id): row for record_id, row in plain.items()})
    n_records = len(run.predicted)
    kept = {k: v for k, v in truth.items() if k in run.predicted}
    report: dict[str, Any] = {
        "data_dir": str(data_dir),
        "sources": list(sources),
        "mappings": dict(mappings or {}),
        "records": {"in_truth": len(truth), "encoded": run.encoded, "rejected": run.rejected,
                    "rejected_share": round(sum(run.rejected.values()) / max(len(truth), 1), 4),
                    "linked_in_bank": n_records},
        "scores": scores.as_dict(),
        # the same, counting only the records the SDK kept (what the model did with them)
        "scores_kept_records": pairwise_scores(kept, run.predicted).as_dict(),
        "service": {
            "job_id": run.job.get("id"),
            "thresholds": (run.job.get("parameters") or {}).get("thresholds"),
            "counts": run.job.get("counts"),
            "timings": run.job.get("timings"),
            "review_pending_pairs": run.review_pending,
        },
        "bank": run.bank,
        "recall_by_kind": kind_table(truth, run.predicted, rows),
        "recall_by_kind_note": "kinds read from the plaintext rows by the evaluator "
                               "(vinculo_lab.evaluation.differences); a pair counts under each "
                               "kind it shows",
        "timings": run.timings,
    }
    if baselines:
        from vinculo_lab.evaluation.baselines import baseline_scores

        t0 = time.perf_counter()
        report["baselines"] = baseline_scores(rows, truth)
        # the same on the records the SDK kept: the model against the baselines, rejects aside
        report["baselines_kept_records"] = baseline_scores(rows, kept)
        report["baselines"]["seconds"] = round(time.perf_counter() - t0, 1)
    if sweep:
        bank = load_encoded_bank(
            batches={s: run.batch(s) for s in sources}, keys_dir=run.keys_dir)
        result = threshold_sweep(bank, truth, job_parameters=run.job.get("parameters") or {},
                                 service_predicted=run.predicted)
        report["review_band"] = result["as_service"]["review_band"]
        report["sweep"] = result
        name = f"{data_dir.resolve().parent.name}/{data_dir.name}"
        title = (f"{name}: {len(truth)} registros; barrido re-ejecutando el núcleo "
                 "de enlace en proceso (in-process sweep)")
        plot_sweep(result, out_dir / "sweep.png", title=title)
        report["sweep_png"] = "sweep.png"
    else:
        report["review_band"] = {"pairs": run.review_pending, "records": None,
                                 "percent_of_records": None}
    report["seconds"] = round(time.perf_counter() - started, 1)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False),
                                         encoding="utf-8")
    return report


def format_report(report: dict[str, Any], *, kinds: int = 15) -> str:
    """The report as text, Spanish first (what ``vinculo evaluate`` prints on stdout).

    Example: ``print(format_report(json.loads(Path("eval/report.json").read_text())))``
    """
    s = report["scores"]
    band = report["review_band"]
    lines = [f"Evaluación de {report['data_dir']} ({report['records']['in_truth']} registros "
             "con verdad conocida) (evaluation)", ""]
    for label, key in (("todos los pares (all pairs)", "all_pairs"),
                       ("entre fuentes (cross-source)", "cross_source")):
        c = s[key]
        lines.append(f"  {label}: precisión {c['precision']:.3f}  exhaustividad "
                     f"{c['recall']:.3f}  F1 {c['f1']:.3f}  (pares verdaderos {c['true_pairs']}, "
                     f"predichos {c['predicted_pairs']}, acertados {c['true_positives']})")
    pct = band.get("percent_of_records")
    in_band = (f"{band['records']} registros ({pct} %), " if band.get("records") is not None
               and pct is not None else "")  # known only when the core is re-run (--sweep)
    kept = report.get("scores_kept_records")
    if kept:
        c = kept["all_pairs"]
        lines.append(f"  solo registros aceptados por el SDK (records the SDK kept): precisión "
                     f"{c['precision']:.3f}  exhaustividad {c['recall']:.3f}  F1 {c['f1']:.3f}")
    records = report["records"]
    if "rejected_share" in records:
        lines.append(f"  filas rechazadas (rows rejected): {sum(records['rejected'].values())} "
                     f"({100 * records['rejected_share']:.1f} %)")
    base = report.get("baselines")
    if base:
        best = base["clkhash_anonlink"]["best"]
        for label, c in (("documento exacto (exact document)", base["exact_document"]),
                         (f"clkhash + anonlink (umbral {best['threshold']}, el mejor F1)", best)):
            a, x = c["all_pairs"], c["cross_source"]
            lines.append(f"  línea base {label}: precisión {a['precision']:.3f}  exhaustividad "
                         f"{a['recall']:.3f}  F1 {a['f1']:.3f}  (entre fuentes F1 {x['f1']:.3f})")
    lines.append(f"  banda de revisión (review band): {in_band}{band.get('pairs')} pares; "
                 f"pendientes en el servicio: {report['service']['review_pending_pairs']} pares")
    lines += ["", "Exhaustividad por tipo de diferencia, los más perdidos primero (recall by kind "
              "of difference, most missed first):",
              f"  {'tipo (kind)':<28} {'pares':>7} {'perdidos':>9} {'recall':>7}"]
    by_missed = sorted(report["recall_by_kind"], key=lambda r: (r["kind"] != "all", -r["missed"]))
    for row in by_missed[:kinds]:
        lines.append(f"  {row['kind']:<28} {row['pairs']:>7} {row['missed']:>9} "
                     f"{row['recall']:>7.3f}")
    sweep = report.get("sweep")
    if sweep:
        lines += ["", "Barrido del umbral superior (upper-threshold sweep): el núcleo de enlace "
                  "re-ejecutado en este proceso sobre los mismos lotes, no el servicio "
                  f"(coincidencia con el servicio: F1 de pares "
                  f"{sweep.get('in_process_vs_service', {}).get('pairs_f1', float('nan')):.3f})",
                  f"  {'superior':>8} {'precisión':>10} {'recall':>7} {'F1':>6} {'revisión %':>11}"]
        for p in sweep["points"]:
            lines.append(f"  {p['upper_threshold']:>8.3f} {p['precision']:>10.3f} "
                         f"{p['recall']:>7.3f} {p['f1']:>6.3f} "
                         f"{p['review_band']['percent_of_records']:>11.2f}")
    return "\n".join(lines)


def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Carpeta con las exportaciones de cada "
                                       "fuente (reta.csv, sistra.csv, care.csv) y truth.csv.")],
    mapping: Annotated[
        list[str] | None, typer.Option("--mapping", help="FUENTE=ARCHIVO: mapeo de una "
                                       "exportación en otro formato (repetible).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Carpeta del informe: report.json, "
                                      "sweep.png y run/ (los archivos de la corrida).")]
    = Path("evaluacion"),
    sources: Annotated[str, typer.Option("--sources", help="Fuentes, separadas por comas.")]
    = "reta,sistra,care",
    sweep: Annotated[bool, typer.Option("--sweep/--no-sweep", help="Barrido de umbrales y "
                                        "gráfico (threshold sweep).")] = True,
    schema: Annotated[str | None, typer.Option("--schema", help="Esquema de enlace "
                                               "(schemas/linkage/ID.json); por defecto el del "
                                               "proyecto.")] = None,
    baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Comparar con "
                                            "el documento exacto y con clkhash + anonlink "
                                            "sin más (baselines).")] = True,
) -> None:
    """Evalúa la calidad del enlace por el camino real (encode, serve, upload, link, results).

    Informa precisión, exhaustividad y F1 sobre todos los pares de registros y entre fuentes,
    el tamaño de la banda de revisión, la exhaustividad por tipo de diferencia y un barrido
    del umbral superior (re-ejecutando el núcleo de enlace en proceso). Escribe report.json y
    sweep.png en --out. Herramienta de desarrollo: lee el texto plano para clasificar
    diferencias.

    Ejemplo: vinculo evaluate --data datos --mapping reta=schemas/sources/reta.json --out eval
    """
    from client_sdk.keys import parse_sources
    from vinculo_lab.evaluation.run import parse_mappings

    report = evaluate_directory(data_dir=data, out_dir=out,
                                mappings=parse_mappings(mapping or []),
                                sources=tuple(parse_sources(sources)), sweep=sweep,
                                schema_id=schema, baselines=baselines)
    print(format_report(report))
    print(f"\nInforme: {out / 'report.json'}" + (f", {out / 'sweep.png'}" if sweep else ""))


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
