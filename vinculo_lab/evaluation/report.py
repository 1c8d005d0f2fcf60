"""What ``vinculo evaluate`` adds to a run of the real path: plaintext rows for the kinds of
difference, the threshold sweep, the review band, the report and its plot.

The sweep does **not** go through the service: it re-runs the pure linkage core
(``linkage_service.linkage.link``) in this process on the very encodings of the run, read
back from the batch files (``vinculo_common.batch.read_batch``) and arranged as the service
arranges its bank (sources in registration order, records in upload order), once per upper
threshold. The run at the service's own thresholds is compared with the service's clustering
(``in_process_vs_service``), which shows whether the sweep describes what the service does.

>>> from vinculo_lab.evaluation.report import upper_grid
>>> upper_grid()[:3]
(0.5, 0.6, 0.7)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vinculo_lab.evaluation.metrics import pairwise_scores, recall_by_kind

__all__ = [
    "EncodedBank",
    "kind_table",
    "load_encoded_bank",
    "plot_sweep",
    "read_plaintext",
    "review_band",
    "threshold_sweep",
    "upper_grid",
]

RecordKey = tuple[str, str]


def upper_grid() -> tuple[float, ...]:
    """Upper thresholds (on the match probability) tried by the sweep."""
    return (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def read_plaintext(path: Path, *, mapping: str | Path | None = None) -> dict[str, dict[str, str]]:
    """The export's rows in canonical column names, as written (code lists of the mapping
    applied), keyed by ``record_id``. The evaluator's own view of the plaintext: it never goes
    anywhere, it only names the kinds of difference of missed pairs.

    Example: ``read_plaintext(Path("datos/reta.csv"))["RETA0000001"]["nombres"]``
    """
    from client_sdk.mapping import SourceMapping, load_mapping
    from client_sdk.reading import open_export
    from client_sdk.standardize.text import value_key

    loaded = load_mapping(mapping) if mapping is not None else SourceMapping.canonical()
    table = open_export(Path(path), encoding=loaded.encoding, delimiter=loaded.delimiter)
    positions = loaded.resolve_headers(table.headers).positions
    names = list(positions)
    rows: dict[str, dict[str, str]] = {}
    for _, cells in table.chunks(positions=sorted(positions.values()), chunk_size=20_000):
        columns = [cells[positions[name]] for name in names]
        for values in zip(*columns, strict=True):
            row = {}
            for name, value in zip(names, values, strict=True):
                codes = loaded.values.get(name)
                if codes:
                    value = codes.get(value_key(value), value)
                row[name] = value
            record_id = row.get("record_id", "").strip()
            if record_id and record_id not in rows:
                rows[record_id] = row
    return rows


@dataclass(frozen=True)
class EncodedBank:
    """The run's encodings as the service's bank holds them, and each row's record key."""

    keys: list[RecordKey]
    inputs: Any  # linkage_service.linkage.LinkInputs


def load_encoded_bank(*, batches: Mapping[str, Path], keys_dir: Path) -> EncodedBank:
    """Read the batches (in the given source order) into the core's ``LinkInputs``.

    Content attributes go through the service's own column conversion; record ids come from
    opening the sealed locators with the sources' keys.
    """
    from client_sdk.record_encoder import open_locators
    from linkage_service.bank.linking import link_inputs
    from linkage_service.store.uploads import attributes_to_columns
    from vinculo_common.batch import RECORD_SECTIONS, read_batch

    keys: list[RecordKey] = []
    clks: list[np.ndarray] = []
    source_ids: list[np.ndarray] = []
    sections: dict[str, list[np.ndarray]] = {name: [] for name in RECORD_SECTIONS}
    columns: list[dict[str, Any]] = []
    for number, (source, path) in enumerate(batches.items(), start=1):
        batch = read_batch(Path(path))
        ids = open_locators(keys_dir, source, batch.locators, batch.record_refs)
        keys.extend((source, record_id) for record_id in ids)
        clks.append(batch.clks)
        source_ids.append(np.full(len(ids), number, dtype=np.int64))
        for name, size in RECORD_SECTIONS.items():
            value = batch.extras.get(name)
            sections[name].append(value if value is not None
                                  else np.zeros((len(ids), size), dtype=np.uint8))
        columns.extend(attributes_to_columns(a, index=i) for i, a in enumerate(batch.attributes))

    fixed = {name: np.concatenate(parts) for name, parts in sections.items() if parts}
    inputs = link_inputs(
        clks=np.concatenate(clks), source_ids=np.concatenate(source_ids),
        sections={name: value for name, value in fixed.items() if value.any()},
        attributes=columns,
    )
    return EncodedBank(keys=keys, inputs=inputs)


def _labels(bank: EncodedBank, result: Any) -> dict[RecordKey, str]:
    return {key: str(label) for key, label in zip(bank.keys, result.labels, strict=True)}


def review_band(result: Any, n_records: int) -> dict[str, Any]:
    """Pairs and distinct records in the review band of one core result."""
    review = result.review
    records = len(set(np.asarray(review.left).tolist()) | set(np.asarray(review.right).tolist()))
    return {"pairs": len(review), "records": records,
            "percent_of_records": round(100.0 * records / n_records, 2) if n_records else 0.0}


def threshold_sweep(
    bank: EncodedBank, truth: Mapping[RecordKey, str], *,
    job_parameters: Mapping[str, Any] | None = None,
    service_predicted: Mapping[RecordKey, str] | None = None,
    uppers: Sequence[float] = upper_grid(),
) -> dict[str, Any]:
    """Re-run the core as the service's job did, then at each upper threshold; score each run.

    The first run uses the job's parameters (``job_parameters``: thresholds fixed by the
    operator, or none: chosen from the data; the Dice calibration of the schema they name) and
    estimates the Fellegi–Sunter model; the sweep
    reuses that model and that lower threshold (capped at the upper), so only the upper
    threshold moves.
    """
    from linkage_service.bank.linking import fixed_thresholds
    from linkage_service.linkage import LinkParams, link
    from linkage_service.linkage.scoring import Thresholds
    from vinculo_common.schemas import dice_calibration_of

    started = time.perf_counter()
    n = len(bank.keys)
    calibration = dice_calibration_of((job_parameters or {}).get("linkage_schema"))
    base = link(bank.inputs, LinkParams(thresholds=fixed_thresholds(job_parameters or {}),
                                        dice_calibration=calibration))
    lower = float(base.thresholds.lower)
    labels = _labels(bank, base)
    out: dict[str, Any] = {
        "method": "linkage_service.linkage.link re-run in this process on the run's batch "
                  "files (vinculo_common.batch.read_batch); Fellegi-Sunter model estimated "
                  "once (EM) and reused along the sweep",
        "as_service": {
            "upper_threshold": float(base.thresholds.upper), "lower_threshold": lower,
            "threshold_method": base.thresholds.method,
            "scores": pairwise_scores(truth, labels).as_dict(),
            "review_band": review_band(base, n),
        },
        "lower_threshold": lower, "points": [],
    }
    if service_predicted is not None:
        agreement = pairwise_scores(dict(service_predicted), labels)
        out["in_process_vs_service"] = {"pairs_f1": agreement.f1,
                                        "precision": agreement.precision,
                                        "recall": agreement.recall}
    for upper in uppers:
        thresholds = Thresholds(upper=upper, lower=max(min(lower, upper), 1e-9),
                                method="sweep")
        result = link(bank.inputs, LinkParams(thresholds=thresholds, model=base.model,
                                              dice_calibration=calibration))
        scores = pairwise_scores(truth, _labels(bank, result))
        out["points"].append({
            "upper_threshold": upper, "lower_threshold": thresholds.lower,
            "precision": scores.precision, "recall": scores.recall, "f1": scores.f1,
            "cross_source_f1": scores.cross_source.f1,
            "review_band": review_band(result, n),
        })
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


def kind_table(truth: Mapping[RecordKey, str], predicted: Mapping[RecordKey, str],
               rows: Mapping[RecordKey, Mapping[str, str]]) -> list[dict[str, Any]]:
    """``recall_by_kind`` as rows ``{kind, pairs, found, missed, recall}``, largest first."""
    table = recall_by_kind(truth, predicted, rows)
    return [{"kind": kind, "pairs": r.pairs, "found": r.found, "missed": r.pairs - r.found,
             "recall": r.recall} for kind, r in table.items()]


def plot_sweep(sweep: Mapping[str, Any], path: Path, *, title: str) -> Path:
    """Precision, recall, F1 and the review band (% of records) against the upper threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sweep["points"]
    x = [p["upper_threshold"] for p in points]
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for key, label, style in (("precision", "precisión (precision)", "-o"),
                              ("recall", "exhaustividad (recall)", "-s"),
                              ("f1", "F1", "-^")):
        ax.plot(x, [p[key] for p in points], style, label=label, markersize=4)
    ax.set_xscale("logit")  # the action is near 1: 0.9, 0.99, 0.999 equally spaced
    ticks = [t for t in (0.5, 0.75, 0.9, 0.95, 0.99, 0.999) if min(x) <= t <= max(x)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("umbral superior de probabilidad, escala logit (upper threshold)")
    ax.set_ylabel("pares de registros (record pairs)")
    ax.set_ylim(min(0.5, *(min(p["precision"], p["recall"]) for p in points)) - 0.02, 1.005)
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    twin.plot(x, [p["review_band"]["percent_of_records"] for p in points], ":", color="grey",
              label="en revisión, % registros (review band)")
    twin.set_ylabel("% de registros en revisión")
    twin.set_ylim(0, max(5.0, 1.1 * max(p["review_band"]["percent_of_records"] for p in points)))
    at = sweep.get("as_service")
    if at:
        ax.axvline(at["upper_threshold"], color="black", alpha=0.4, linewidth=1)
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
