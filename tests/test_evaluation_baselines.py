"""The baselines of docs/quality.md on hand-made records with a known answer: exact document
matching, and plain clkhash + anonlink with its one-to-one solver."""

from __future__ import annotations

from vinculo_lab.evaluation.baselines import (
    CLK_COLUMNS,
    baseline_scores,
    clkhash_anonlink,
    exact_document,
    plain_birth_date,
)


def _row(nombres: str, apellido: str, fecha: str, doc: str) -> dict[str, str]:
    return {"nombres": nombres, "apellido_paterno": apellido, "fecha_nacimiento": fecha,
            "numero_documento": doc}


ROWS = {
    ("reta", "1"): _row("JAMES", "WILLIAMS", "26/02/1926", "285480642"),
    ("sistra", "1"): _row("James", "Williams", "1926-02-26", "285 480 642"),
    ("care", "1"): _row("JAMES", "WILIAMS", "26/02/1926", ""),
    ("reta", "2"): _row("EMILY", "NGUYEN", "05/05/1940", "365457138"),
    ("sistra", "2"): _row("EMILY", "NGUYEN", "1940-05-05", "365457183"),
    ("reta", "3"): _row("OSCAR", "BRENNAN", "1999-12-01", "111222333"),
    ("reta", "4"): _row("OSCAR", "BRENNAN", "1999-12-01", "111222333"),  # entered twice
    ("care", "9"): _row("HAZEL", "KOWALSKI", "1911-03-17", "987654321"),
}
TRUTH = {("reta", "1"): "A", ("sistra", "1"): "A", ("care", "1"): "A", ("reta", "2"): "B",
         ("sistra", "2"): "B", ("reta", "3"): "C", ("reta", "4"): "C", ("care", "9"): "D"}


def test_exact_document_links_equal_cleaned_numbers_only() -> None:
    labels = exact_document(ROWS)
    assert labels[("reta", "1")] == labels[("sistra", "1")]
    assert labels[("care", "1")] != labels[("reta", "1")]  # no number: alone
    assert labels[("reta", "2")] != labels[("sistra", "2")]  # a transposed digit
    assert labels[("reta", "3")] == labels[("reta", "4")]


def test_plain_birth_date() -> None:
    assert plain_birth_date("26/02/1926") == plain_birth_date("1926-02-26") == "19260226"
    assert plain_birth_date("1926-13-45") == "19261345"  # not checked: as a user would
    assert plain_birth_date(" 1926 ") == "1926"


def test_clkhash_anonlink_links_across_registries_one_to_one() -> None:
    by_threshold = dict(clkhash_anonlink(ROWS, thresholds=(0.7, 0.99)))
    labels = by_threshold[0.7]
    assert labels[("reta", "1")] == labels[("sistra", "1")] == labels[("care", "1")]
    assert labels[("reta", "2")] == labels[("sistra", "2")]
    # greedy_solve puts at most one record of a registry in a group: the duplicate entry of
    # one registry is never linked, whatever the threshold.
    assert labels[("reta", "3")] != labels[("reta", "4")]
    assert labels[("care", "9")] not in {labels[k] for k in ROWS if k != ("care", "9")}
    strict = by_threshold[0.99]
    assert strict[("reta", "1")] != strict[("care", "1")]  # a typo is below Dice 0.99


def test_baseline_scores_report_both_and_the_best_threshold() -> None:
    result = baseline_scores(ROWS, TRUTH)
    assert result["records"] == len(ROWS)
    exact = result["exact_document"]["all_pairs"]
    assert exact["true_pairs"] == 5 and exact["true_positives"] == 2
    assert exact["precision"] == 1.0
    best = result["clkhash_anonlink"]["best"]
    assert best["all_pairs"]["true_positives"] == 4  # all but the duplicate entry
    assert best["threshold"] in [t["threshold"] for t in result["clkhash_anonlink"][
        "by_threshold"]]
    assert "fecha_nacimiento" in CLK_COLUMNS and "ubigeo_nacimiento" not in CLK_COLUMNS
