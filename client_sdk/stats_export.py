"""Export the published statistics tables: CSV + JSON per table, a README in Spanish, PNG
charts and an offline HTML report.

The tables come from the service (``GET /api/v1/stats/tables``), already suppressed (and
noised, if the service is configured so): nothing here sees record-level data, and nothing
here can undo suppression. Empty cells are suppressed cells.

>>> import tempfile
>>> table = {"name": "t", "title": "T", "description": "d", "columns": ["sexo", "personas"],
...     "rows": [["Mujer", 12], ["Hombre", None], ["Total", 20]],
...     "metadata": {"min_celda": 10, "privacidad_diferencial": None, "celdas_suprimidas": 1}}
>>> out = Path(tempfile.mkdtemp())
>>> write_csv(table, out / "t.csv").read_text(encoding="utf-8-sig").splitlines()
['sexo,personas', 'Mujer,12', 'Hombre,', 'Total,20']
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vinculo_common.errors import InputError, ServiceError

__all__ = [
    "CHARTS",
    "export_tables",
    "fetch_tables",
    "render_charts",
    "render_html",
    "write_csv",
    "write_readme",
]

Table = Mapping[str, Any]
CHARTS = {
    "grafico_nacimiento_departamento.png": "Personas por departamento de nacimiento",
    "grafico_explotacion_departamento.png": "Personas por departamento de explotación",
    "grafico_riesgo_pobreza.png": "Tasa de víctimas de origen frente a la pobreza",
    "grafico_superposicion_registros.png": "Superposición de registros",
    "grafico_cobertura_atencion.png": "Cobertura de atención por año",
}


def fetch_tables(*, server: str, token: str, min_cell: int | None = None,
                 client: Any | None = None) -> dict[str, Table]:
    """The published tables from the service; ``client`` is a ``ServiceClient`` (tests pass
    one bound to the app in-process). Raises ServiceError with the service's reason."""
    from client_sdk.api_client import ServiceClient

    own = client is None
    service = client or ServiceClient(server, token)
    try:
        answer = service.stats_tables(min_cell=min_cell)
    finally:
        if own:
            service.close()
    tables = answer.get("tables") if isinstance(answer, dict) else None
    if not isinstance(tables, dict):
        raise ServiceError("respuesta de estadísticas sin tablas (no tables in the answer)", 0)
    return tables


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def write_csv(table: Table, path: Path) -> Path:
    """One table as CSV (UTF-8 with BOM so spreadsheets read the accents); empty =
    suppressed."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(table["columns"])
        writer.writerows([_cell(v) for v in row] for row in table["rows"])
    return path


def _dp_line(tables: Mapping[str, Table]) -> str:
    meta = next(iter(tables.values()))["metadata"] if tables else {}
    dp = meta.get("privacidad_diferencial")
    if not dp:
        return ("Privacidad diferencial: no se agregó ruido; los conteos publicados son exactos "
                "(salvo las celdas suprimidas).")
    return (f"Privacidad diferencial: SÍ. Se agregó ruido {dp['mecanismo']} con ε = "
            f"{dp['epsilon']} a cada conteo antes de suprimir ({dp.get('alcance', '')}). Los "
            "totales no coinciden exactamente con la suma de sus partes.")


def write_readme(tables: Mapping[str, Table], path: Path) -> Path:
    """README.md in Spanish: what each table is, its columns, and how cells were protected."""
    meta = next(iter(tables.values()))["metadata"] if tables else {}
    lines = [
        "# Estadísticas del banco de víctimas de trata (vinculo)",
        "",
        "Tablas agregadas del banco histórico seudonimizado. Cada fila cuenta **personas "
        "distintas** (columna `personas`), no registros.",
        "",
        "## Confidencialidad",
        "",
        f"- Celda mínima: {meta.get('min_celda', '?')} personas. Una celda vacía está "
        "**suprimida**: tiene menos personas que el mínimo, o se suprimió como complemento "
        "para que no se pueda deducir restando de los totales de fila, columna o del nivel "
        "superior (departamento = suma de sus provincias).",
        "- Los ceros se publican: dicen que nadie está en ese grupo, no quién.",
        f"- {_dp_line(tables)}",
        "- En las tablas de hechos (año, lugar de explotación, forma) una persona con varios "
        "hechos cuenta en cada celda que le corresponde; la fila `Total` la cuenta una vez.",
        "",
        "## Tablas",
        "",
    ]
    for name, table in tables.items():
        lines += [f"### `{name}.csv` — {table['title']}", "", table["description"], "",
                  "Columnas: " + ", ".join(f"`{c}`" for c in table["columns"]) + ".", ""]
        suppressed = table["metadata"].get("celdas_suprimidas", 0)
        if suppressed:
            lines += [f"Celdas suprimidas: {suppressed}.", ""]
        for note in table["metadata"].get("notas", []):
            lines += [f"Nota: {note}", ""]
    lines += ["## Gráficos", ""] + [f"- `{f}`: {t}." for f, t in CHARTS.items()] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _rows(table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def _name(label: Any) -> str:
    """INEI names come in capitals: ``MADRE DE DIOS`` → ``Madre de Dios``; others as given."""
    text = str(label)
    if not text.isupper():
        return text
    words = text.title().split(" ")
    return " ".join(w.lower() if i and w in ("De", "Del", "La", "Las", "Los", "Y") and
                    len(words) > 2 else w for i, w in enumerate(words))


def _bars(plt: Any, table: Table | None, label_column: str, title: str, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 6.5))
    rows = [r for r in _rows(table) if r[label_column] != "Total"] if table else []
    shown = sorted((r for r in rows if r["personas"] is not None), key=lambda r: r["personas"])
    hidden = [r[label_column] for r in rows if r["personas"] is None]
    axis.barh([_name(r[label_column]) for r in shown], [r["personas"] for r in shown],
              color="#2b6cb0")
    axis.set_xlabel("personas distintas")
    axis.set_title(title)
    if hidden:
        axis.text(0.99, 0.02, "Suprimidos: " + ", ".join(_name(h) for h in hidden)[:90],
                  transform=axis.transAxes, ha="right", fontsize=8, color="#555555")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def render_charts(tables: Mapping[str, Table], folder: Path) -> list[Path]:
    """The PNG charts of :data:`CHARTS` (matplotlib, Agg backend, Spanish labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = list(CHARTS)
    _bars(plt, tables.get("personas_por_nacimiento_departamento"), "departamento_nacimiento",
          CHARTS[files[0]], folder / files[0])
    _bars(plt, tables.get("personas_por_explotacion_departamento"), "departamento_explotacion",
          CHARTS[files[1]], folder / files[1])

    figure, axis = plt.subplots(figsize=(8, 6))
    risk = _rows(tables["riesgo_por_departamento"]) if "riesgo_por_departamento" in tables else []
    points = [r for r in risk if r["tasa_100k"] is not None and r["pct_pobreza"] is not None]
    axis.scatter([r["pct_pobreza"] for r in points], [r["tasa_100k"] for r in points],
                 color="#c05621")
    for r in points:
        if r["tasa_100k"] > 0:  # the zeros sit on one line; naming them only overprints
            axis.annotate(_name(r["departamento"]), (r["pct_pobreza"], r["tasa_100k"]),
                          fontsize=7, xytext=(3, 3), textcoords="offset points")
    zeros = sum(1 for r in points if r["tasa_100k"] == 0)
    if zeros:
        axis.text(0.99, 0.97, f"{zeros} departamentos sin víctimas de origen registradas (tasa 0)",
                  transform=axis.transAxes, ha="right", va="top", fontsize=8, color="#555555")
    axis.set_xlabel("pobreza total (% de la población)")
    axis.set_ylabel("víctimas de origen por 100 000 habitantes")
    axis.set_title(CHARTS[files[2]] + " (por departamento)")
    figure.tight_layout()
    figure.savefig(folder / files[2], dpi=110)
    plt.close(figure)

    _bars(plt, tables.get("superposicion_registros"), "registros", CHARTS[files[3]],
          folder / files[3])

    figure, axis = plt.subplots(figsize=(8, 5))
    coverage = _rows(tables["cobertura_atencion"]) if "cobertura_atencion" in tables else []
    reached = [r for r in coverage if r["llego_a_atencion"] == "Sí"
               and r["anio_primer_registro"] != "Total" and r["porcentaje_fila"] is not None]
    axis.bar([str(r["anio_primer_registro"]) for r in reached],
             [r["porcentaje_fila"] for r in reached], color="#2f855a")
    axis.set_ylim(0, 100)
    axis.set_ylabel("% que llegó a un servicio de atención")
    axis.set_xlabel("año del primer registro policial o fiscal")
    axis.set_title(CHARTS[files[4]])
    figure.tight_layout()
    figure.savefig(folder / files[4], dpi=110)
    plt.close(figure)
    return [folder / f for f in files]


_HTML = """<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8">
<title>Estadísticas del banco de víctimas de trata</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #1a202c; }}
table {{ border-collapse: collapse; margin: 0.5em 0 2em; font-size: 0.85em; }}
th, td {{ border: 1px solid #cbd5e0; padding: 0.2em 0.5em; }}
td.n {{ text-align: right; }} td.s {{ background: #edf2f7; }}
img {{ max-width: 100%; }} details {{ margin-bottom: 1em; }}
</style></head><body>
<h1>Estadísticas del banco de víctimas de trata</h1>
<p>Cada cifra cuenta <strong>personas distintas</strong>. Celda mínima: {min_cell}.
Las celdas vacías (sombreadas) están suprimidas por confidencialidad.</p>
<p>{dp}</p>
<h2>Gráficos</h2>
{charts}
<h2>Tablas</h2>
{tables}
</body></html>
"""


def render_html(tables: Mapping[str, Table], charts: list[Path], path: Path) -> Path:
    """An offline HTML report: charts embedded as data URIs, every table, Spanish labels."""
    meta = next(iter(tables.values()))["metadata"] if tables else {}
    chart_html = "\n".join(
        f'<figure><img alt="{html.escape(CHARTS.get(c.name, c.name))}" '
        f'src="data:image/png;base64,{base64.b64encode(c.read_bytes()).decode()}">'
        f"<figcaption>{html.escape(CHARTS.get(c.name, c.name))}</figcaption></figure>"
        for c in charts)
    parts = []
    for name, table in tables.items():
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table["columns"])
        body = []
        for row in table["rows"]:
            cells = []
            for value in row:
                if value is None:
                    cells.append('<td class="s"></td>')
                elif isinstance(value, int | float):
                    cells.append(f'<td class="n">{value}</td>')
                else:
                    cells.append(f"<td>{html.escape(str(value))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in table["metadata"].get("notas", []))
        opened = " open" if len(table["rows"]) <= 60 else ""
        parts.append(
            f"<h3>{html.escape(table['title'])}</h3><p>{html.escape(table['description'])}"
            f" <code>{html.escape(name)}.csv</code></p>{notes}<details{opened}><summary>"
            f"{len(table['rows'])} filas</summary><table><tr>{head}</tr>{''.join(body)}"
            "</table></details>")
    path.write_text(_HTML.format(min_cell=html.escape(str(meta.get("min_celda", "?"))),
                                 dp=html.escape(_dp_line(tables)), charts=chart_html,
                                 tables="\n".join(parts)), encoding="utf-8")
    return path


def export_tables(tables: Mapping[str, Table], *, output: Path, html_report: bool = False
                  ) -> list[Path]:
    """Write every table (CSV + JSON), README.md, the charts, and ``informe.html`` if asked.
    Returns the files written."""
    if not tables:
        raise InputError("no hay tablas para exportar")
    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in tables.items():
        if not name.replace("_", "").isalnum():
            raise InputError(f"nombre de tabla inválido: {name!r}")
        written.append(write_csv(table, output / f"{name}.csv"))
        json_path = output / f"{name}.json"
        json_path.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(json_path)
    written.append(write_readme(tables, output / "README.md"))
    charts = render_charts(tables, output)
    written.extend(charts)
    if html_report:
        written.append(render_html(tables, charts, output / "informe.html"))
    return written
