"""Charts of the statistics page, drawn on the server as inline SVG (no script, no image
request, allowed by the console's ``Content-Security-Policy``): one chart beside each published
table, from the table itself, so a chart can never show more than the table.

Horizontal bars, one per row of the table (totals left out). A **suppressed** cell is drawn as
a short hatched bar labelled «suprimida», exactly where its row is, so a chart marks suppression
as the table does (—). The risk tables are ranked charts (highest rate first); the coverage
table shows the share that reached care per year, as ``vinculo stats export`` draws it. Long
tables show their first 30 bars and say so.

>>> svg = table_chart({"name": "t", "title": "Personas por sexo", "columns": ["sexo", "personas"],
...                    "rows": [["Mujer", 12], ["Hombre", None], ["Total", 20]]})
>>> "suprimida" in svg and "Mujer" in svg and ">Total<" not in svg
True
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["MAX_BARS", "table_chart"]

MAX_BARS = 30
_WIDTH, _LABEL_W, _BAR_H, _GAP, _TOP = 520, 200, 20, 6, 36
_INK, _BAR, _MUTED = "#1d2430", "#2b5d9e", "#5b6472"
_CODE_COLUMNS = ("ubigeo", "puesto", "base_tasa")

# Table name → (value column, axis label, ranked?) for the tables whose value is not "personas".
_SPECIAL: dict[str, tuple[str, str, bool]] = {
    "riesgo_por_departamento": ("tasa_100k", "víctimas de origen por 100 000 habitantes", True),
    "riesgo_por_provincia": ("tasa_100k", "víctimas de origen por 100 000 habitantes", True),
    "riesgo_ranking_provincias": ("indice_prevencion",
                                  "índice de prevención (personas en pobreza × riesgo relativo)",
                                  True),
    "tiempo_hasta_atencion": ("mediana_dias", "mediana de días hasta la atención", False),
    "cobertura_atencion": ("porcentaje_fila", "% que llegó a un servicio de atención", False),
}
_NO_CHART = {"riesgo_correlaciones"}


def _label_columns(columns: list[str], value: str) -> list[int]:
    numeric = {"personas", "poblacion", "tasa_100k", "pct_pobreza", "pct_pobreza_extrema", "idh",
               "tasa_suavizada_100k", "personas_en_pobreza", "riesgo_relativo",
               "indice_prevencion", "porcentaje_fila", "mediana_dias", "cuartil_1_dias",
               "cuartil_3_dias", "n", "pearson", "spearman", "en_policia", "en_fiscalia",
               "en_atencion", value}
    return [i for i, c in enumerate(columns)
            if c not in numeric and not c.startswith(_CODE_COLUMNS)]


def _name(text: str) -> str:
    """INEI capitals read better in title case: ``MADRE DE DIOS`` → ``Madre de Dios``."""
    if not text.isupper() or len(text) <= 3:
        return text
    words = text.title().split(" ")
    return " ".join(w.lower() if i and w in ("De", "Del", "La", "Las", "Los", "Y") else w
                    for i, w in enumerate(words))


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", " ")
    return f"{value:,.1f}".replace(",", " ")


def table_chart(table: Mapping[str, Any]) -> str | None:
    """The inline SVG chart of one published table, or None when it has none."""
    name, columns, rows = str(table["name"]), list(table["columns"]), list(table["rows"])
    if name in _NO_CHART:
        return None
    value_name, axis, ranked = _SPECIAL.get(name, ("personas", "personas distintas", False))
    if value_name not in columns:
        return None
    vi = columns.index(value_name)
    labels = _label_columns(columns, value_name)
    items: list[tuple[str, float | None]] = []
    for row in rows:
        if any(str(row[i]) == "Total" for i in labels):
            continue
        if name == "cobertura_atencion" and row[columns.index("llego_a_atencion")] != "Sí":
            continue
        label_cells = [row[i] for i in labels if name != "cobertura_atencion"
                       or columns[i] != "llego_a_atencion"]
        label = " · ".join(_name(str(c)) for c in label_cells if c not in (None, ""))
        value = row[vi]
        items.append((label or "—", None if value is None else float(value)))
    if not items:
        return None
    total_rows = len(items)
    if ranked or total_rows > MAX_BARS:
        items.sort(key=lambda it: (it[1] is None, -(it[1] or 0.0)))
    shown = items[:MAX_BARS]
    suppressed = sum(1 for _l, v in items if v is None)
    top = max((v for _l, v in shown if v is not None), default=0.0) or 1.0
    height = _TOP + len(shown) * (_BAR_H + _GAP) + 34
    title = escape(str(table.get("title", name)))
    ident = escape(name)
    span = _WIDTH - _LABEL_W - 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-labelledby="g-{ident}-t g-{ident}-d" class="grafico-svg" id="grafico-{ident}">',
        f'<title id="g-{ident}-t">Gráfico: {title}</title>',
        f'<desc id="g-{ident}-d">Barras horizontales de {escape(axis)}; {len(shown)} de '
        f"{total_rows} filas; {suppressed} celdas suprimidas, marcadas «suprimida». "
        "Los valores están en la tabla al lado.</desc>",
        f'<defs><pattern id="rayas-{ident}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{_MUTED}" stroke-width="2"/></pattern></defs>',
        f'<text x="{_LABEL_W}" y="20" font-size="15" fill="{_INK}">{escape(axis)}</text>',
    ]
    for k, (label, value) in enumerate(shown):
        y = _TOP + k * (_BAR_H + _GAP)
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(f'<text x="{_LABEL_W - 6}" y="{y + 15}" font-size="14" text-anchor="end" '
                     f'fill="{_INK}">{escape(short)}</text>')
        if value is None:
            parts.append(f'<rect x="{_LABEL_W}" y="{y}" width="48" height="{_BAR_H}" '
                         f'fill="url(#rayas-{ident})" stroke="{_MUTED}" class="suprimida"/>')
            parts.append(f'<text x="{_LABEL_W + 54}" y="{y + 15}" font-size="14" '
                         f'fill="{_MUTED}">— suprimida</text>')
        else:
            width = max(1.0, span * max(value, 0.0) / top) if value > 0 else 0.0
            parts.append(f'<rect x="{_LABEL_W}" y="{y}" width="{width:.1f}" height="{_BAR_H}" '
                         f'fill="{_BAR}"/>')
            parts.append(f'<text x="{_LABEL_W + width + 5:.1f}" y="{y + 15}" font-size="14" '
                         f'fill="{_INK}">{_number(value)}</text>')
    note = (f"{len(shown)} de {total_rows} filas (las más altas)"
            if total_rows > len(shown) else "")
    if suppressed:
        note = (note + "; " if note else "") + f"{suppressed} celdas suprimidas"
    if note:
        parts.append(f'<text x="10" y="{height - 10}" font-size="13" '
                     f'fill="{_MUTED}">{escape(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)
