"""The plain join: RETA's plaintext export against what the bank lets an insider read.

The Ministry of the Interior runs the bank and RETA, so the insider to measure holds RETA's
export (standardized with the public SDK: the same content attributes RETA uploads) and reads
what an operator, reviewer or analyst can read of the bank: the database **without the custody
key** (every clear column, the persons and memberships), and the per-record API routes those
roles call (``GET /persons/{P}`` for every pseudonym, the whole review queue). The console
pages render the same functions, so they show nothing more.

For every bank record the readable *releases* of its content attributes are collected (one per
view that shows it; the attacker is granted the best case: she knows which record each release
belongs to). A RETA export record is **consistent** with a bank record of source RETA when no
release contradicts it (equal sex, nationality and forms; birth-year and age ranges inside the
released ones; UBIGEOs and event dates equal up to the coarser of the two). The attack takes every
pair where the export record has one consistent bank record, or the bank record one consistent
export record, removes both and repeats. A RETA record is **re-identified** when it is paired
with its own bank record. Through the bank's memberships (readable without the key) every
SISTRA and care record of a re-identified person is then **tied** to a RETA identity.

>>> measure = measure_join(work_dir=Path("eval/run"))        # doctest: +SKIP
>>> round(measure.reidentified_share, 3)                       # doctest: +SKIP
0.999
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "VIEWS",
    "JoinMeasure",
    "Release",
    "bank_releases",
    "consistency",
    "export_attributes",
    "join_attack",
    "main",
    "measure_join",
    "normalize_release",
]

RecordKey = tuple[str, bytes]  # (source name, record_ref)
Release = dict[str, Any]  # normalized: see normalize_release

_EQUAL = ("sex", "nationality", "exploitation")
_RANGES = ("birth_year", "age")
_PREFIXES = ("ubigeo_birth", "ubigeo_residence", "ubigeo_event", "event_date")
_PREFIX_LENGTHS = {"ubigeo_birth": (2, 4, 6), "ubigeo_residence": (2, 4, 6),
                   "ubigeo_event": (2, 4, 6), "event_date": (4, 7, 10)}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(sorted(str(v) for v in value if v))
    return str(value)


def _band(text: str) -> tuple[float, float]:
    """``"18-24"`` → (18, 24); ``"35+"`` → (35, inf); ``"1990-1994"`` → (1990, 1994)."""
    text = text.strip()
    if text.endswith("+"):
        return float(text[:-1]), float("inf")
    low, _, high = text.partition("-")
    return float(low), float(high or low)


_MISSING = "-"  # a value the release shows as unknown (a key present with no value)
_MISSING_RANGE = (-1.0, -1.0)


def normalize_release(attributes: Mapping[str, Any]) -> Release:
    """A released attribute set as constraints: ``sex``, ``nationality``, ``exploitation``
    (text), ``birth_year`` and ``age`` ((low, high)), UBIGEOs and ``event_date`` as prefixes.

    A key absent from ``attributes`` is *not shown* (no constraint: ``""``, or NaN for ranges);
    a key present with no value shows the record *lacks* it (``"-"``, or (−1, −1)), which is
    itself evidence: RETA's export lacks the same values. Understands the exact form
    (``birth_year_min/max``, ``age_at_event``) and the coarse one the service releases
    (``birth_year_band`` "1990-1994", ``age_band`` "18-24", ``event_year``, ``event_month``,
    UBIGEOs cut to 2 or 4 digits).

    >>> r = normalize_release({"sex": "F", "age_band": "18-24", "ubigeo_event": "1501",
    ...                        "nationality": None})
    >>> r["sex"], r["age"], r["ubigeo_event"], r["event_date"], r["nationality"]
    ('F', (18.0, 24.0), '1501', '', '-')
    """
    a = dict(attributes)
    nan = float("nan")

    def text(name: str) -> str:
        if name not in a:
            return ""
        value = _text(a[name])
        return (value.upper() if name != "exploitation" else value) or _MISSING

    out: Release = {name: text(name) for name in _EQUAL}
    if "birth_year_band" in a:
        out["birth_year"] = _band(str(a["birth_year_band"])) if a["birth_year_band"] \
            else _MISSING_RANGE
    elif "birth_year_min" in a or "birth_year_max" in a:
        lo, hi = a.get("birth_year_min"), a.get("birth_year_max")
        if lo is None and hi is None:
            out["birth_year"] = _MISSING_RANGE
        else:
            low = lo if lo is not None else hi
            out["birth_year"] = (float(low), float(hi if hi is not None else low))  # type: ignore[arg-type]
    else:
        out["birth_year"] = (nan, nan)
    if "age_band" in a:
        out["age"] = _band(str(a["age_band"])) if a["age_band"] else _MISSING_RANGE
    elif "age_at_event" in a:
        age = a["age_at_event"]
        out["age"] = (float(age), float(age)) if age is not None else _MISSING_RANGE
    else:
        out["age"] = (nan, nan)
    for name in _PREFIXES:
        out[name] = text(name)
    if "event_date" not in a:
        for coarse in ("event_month", "event_year"):
            if coarse in a:
                out["event_date"] = _text(a[coarse]) or _MISSING
                break
    return out


# ----------------------------------------------------------------------------- consistency


def _codes(values: Sequence[str], length: int) -> np.ndarray:
    """Code of each value cut to ``length`` (−1 when shorter: not comparable at that length)."""
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(v[:length], len(seen)) if len(v) >= length else -1
                     for v in values], dtype=np.int64)


def _equal_codes(left: Sequence[str], right: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of both sides over one table; ``""`` (not shown) → −1."""
    seen: dict[str, int] = {}
    a = np.array([seen.setdefault(v, len(seen)) if v else -1 for v in left], dtype=np.int64)
    b = np.array([seen.setdefault(v, len(seen)) if v else -1 for v in right], dtype=np.int64)
    return a, b


def consistency(exports: Sequence[Release], releases: Sequence[Release]) -> np.ndarray:
    """Boolean matrix (len(exports), len(releases)): no release attribute contradicts.

    >>> e = [normalize_release({"sex": "F", "ubigeo_event": "150101"})]
    >>> r = [normalize_release({"sex": "F", "ubigeo_event": "15"}),
    ...      normalize_release({"sex": "F", "ubigeo_event": "1502"})]
    >>> consistency(e, r).tolist()
    [[True, False]]
    """
    n, m = len(exports), len(releases)
    ok = np.ones((n, m), dtype=bool)
    if not n or not m:
        return ok
    for name in _EQUAL:
        a, b = _equal_codes([e[name] for e in exports], [r[name] for r in releases])
        ok &= (a[:, None] == b[None, :]) | (a[:, None] < 0) | (b[None, :] < 0)
    for name in _RANGES:
        lo_a = np.array([e[name][0] for e in exports], dtype=float)[:, None]
        hi_a = np.array([e[name][1] for e in exports], dtype=float)[:, None]
        lo_b = np.array([r[name][0] for r in releases], dtype=float)[None, :]
        hi_b = np.array([r[name][1] for r in releases], dtype=float)[None, :]
        # The release is derived from the value RETA stored: it contains the export's range
        # (an exact release equals it).
        with np.errstate(invalid="ignore"):
            inside = (lo_b <= lo_a) & (hi_a <= hi_b)
        ok &= inside | np.isnan(lo_a) | np.isnan(lo_b)
    for name in _PREFIXES:
        left = [e[name] for e in exports]
        right = [r[name] for r in releases]
        miss_a = np.array([v == _MISSING for v in left])[:, None]
        miss_b = np.array([v == _MISSING for v in right])[None, :]
        len_a = np.array([0 if v == _MISSING else len(v) for v in left])[:, None]
        len_b = np.array([0 if v == _MISSING else len(v) for v in right])[None, :]
        shown_a = np.array([v != "" for v in left])[:, None]
        shown_b = np.array([v != "" for v in right])[None, :]
        common = np.minimum(len_a, len_b)
        codes = {length: _codes([*left, *right], length) for length in _PREFIX_LENGTHS[name]}
        agree = np.zeros((n, m), dtype=bool)
        for length, both in codes.items():
            agree |= (common == length) & (both[:n, None] == both[None, n:])
        # Other lengths (a stray 3-digit code) agree at the longest usual length both hold.
        odd = (common > 0) & ~np.isin(common, _PREFIX_LENGTHS[name])
        if odd.any():
            for length in sorted(_PREFIX_LENGTHS[name], reverse=True):
                fits = odd & (common > length)
                agree |= fits & (codes[length][:n, None] == codes[length][None, n:])
                odd &= ~fits
            agree |= odd
        agree = np.where(miss_a | miss_b, miss_a & miss_b, agree)
        ok &= agree | ~shown_a | ~shown_b
    return ok


def join_attack(candidates: np.ndarray) -> dict[int, int]:
    """Pairs (export row → bank column) taken by repeated unique matching on ``candidates``.

    >>> join_attack(np.array([[True, True], [False, True]]))
    {1: 1, 0: 0}
    """
    c = candidates.copy()
    pairs: dict[int, int] = {}
    while True:
        row_counts, col_counts = c.sum(axis=1), c.sum(axis=0)
        taken = False
        for row in np.flatnonzero(row_counts == 1).tolist():
            if c[row].any():
                column = int(np.flatnonzero(c[row])[0])
                pairs[row] = column
                c[row, :] = False
                c[:, column] = False
                taken = True
        for column in np.flatnonzero(col_counts == 1).tolist():
            if c[:, column].any():
                row = int(np.flatnonzero(c[:, column])[0])
                pairs[row] = column
                c[row, :] = False
                c[:, column] = False
                taken = True
        if not taken:
            return pairs


# ----------------------------------------------------------------------------- the views


@dataclass
class _Database:
    """What the tables give without the custody key, plus the truth for scoring."""

    releases: dict[RecordKey, list[Release]]
    persons: dict[RecordKey, str]  # memberships are readable
    columns: dict[RecordKey, tuple[bytes, bytes]]  # the clear record_ref and locator columns
    own_refs: dict[RecordKey, bytes]  # scoring only: each record's own reference (opened)


def _database_releases(session: Any) -> _Database:
    """Every clear content column of the current records, read straight from the tables
    (no custody key), each record's person, and its clear ``record_ref`` and ``locator``
    columns. ``own_refs`` (the source's reference of each record, for scoring the attack, never
    used by it) is opened with the custody key when the row is sealed."""
    import sqlalchemy as sa

    from linkage_service.models import EncodedRecord, Source
    from linkage_service.models.bank import Membership, Person
    from linkage_service.models.record import CONTENT_COLUMNS

    rec: sa.Table = EncodedRecord.__table__  # type: ignore[attr-defined]
    src: sa.Table = Source.__table__  # type: ignore[attr-defined]
    mem: sa.Table = Membership.__table__  # type: ignore[attr-defined]
    per: sa.Table = Person.__table__  # type: ignore[attr-defined]
    sealed = "sealed" in rec.c and _has_column(session, "encoded_record", "sealed")
    out = _Database(releases={}, persons={}, columns={}, own_refs={})
    extra = [rec.c.sealed, rec.c.source_id, rec.c.version] if sealed else []
    for row in session.execute(
        sa.select(src.c.name, rec.c.record_ref, rec.c.locator, *extra,
                  *[rec.c[c] for c in CONTENT_COLUMNS])
        .join(src, src.c.id == rec.c.source_id).where(rec.c.is_current.is_(True))
    ).all():
        values = {c: getattr(row, c) for c in CONTENT_COLUMNS}
        key = (str(row.name), bytes(row.record_ref))
        out.releases[key] = [normalize_release(values)] if any(
            v not in (None, "") for v in values.values()) else []
        out.columns[key] = (bytes(row.record_ref), bytes(row.locator))
        out.own_refs[key] = bytes(row.record_ref)
        if sealed and row.sealed is not None:
            from linkage_service.custody import custody_key_for, open_record

            out.own_refs[key] = open_record(
                custody_key_for(session), bytes(row.sealed), source_id=int(row.source_id),
                record_ref=bytes(row.record_ref), version=int(row.version)).record_ref
    out.persons = {
        (str(name), bytes(ref)): str(pseudonym)
        for name, ref, pseudonym in session.execute(
            sa.select(src.c.name, mem.c.record_ref, per.c.pseudonym)
            .join(src, src.c.id == mem.c.source_id).join(per, per.c.id == mem.c.person_id)
            .where(mem.c.current.is_(True))
        ).all()
    }
    return out


def _has_column(session: Any, table: str, column: str) -> bool:
    import sqlalchemy as sa

    return column in {c["name"] for c in sa.inspect(session.get_bind()).get_columns(table)}


def _persons_releases(session: Any) -> dict[RecordKey, list[Release]]:
    """``GET /persons/{P}`` (operator, analyst) for every active pseudonym: the function the
    route calls, its records matched to their bank records in the order it lists them."""
    import sqlalchemy as sa

    from linkage_service.bank.persons import current_records, person_view
    from linkage_service.models.bank import Person

    per: sa.Table = Person.__table__  # type: ignore[attr-defined]
    out: dict[RecordKey, list[Release]] = {}
    for pid, pseudonym in session.execute(
        sa.select(per.c.id, per.c.pseudonym).where(per.c.status == "active")
    ).all():
        view = person_view(session, pseudonym=str(pseudonym))
        shown = [r for c in view["current"] for r in c["records"]]
        held = current_records(session, person_ids=[int(pid)])
        for record, bank in zip(shown, held, strict=True):
            attributes = {k: v for k, v in record.items() if k != "source"}
            out.setdefault((bank["source"], bank.get("stored_ref", bank["record_ref"])),
                           []).append(
                normalize_release(attributes))
    return out


def _review_releases(session: Any) -> dict[RecordKey, list[Release]]:
    """``GET /review`` (reviewer), every page: both sides of each pending pair."""
    from linkage_service.bank.review import list_pending
    from linkage_service.models.bank import ReviewPair
    from linkage_service.models.source import Source

    names = {s.id: s.name for s in session.query(Source).all()}
    out: dict[RecordKey, list[Release]] = {}
    offset = 0
    while True:
        page = list_pending(session, limit=1000, offset=offset)
        for item in page:
            pair = session.get(ReviewPair, item["id"])
            for side, sid, ref in (("left", pair.source_a, pair.ref_a),
                                   ("right", pair.source_b, pair.ref_b)):
                shown = {k: v for k, v in item[side].items() if k != "source"}
                out.setdefault((names[sid], bytes(ref)), []).append(normalize_release(shown))
        if len(page) < 1000:
            return out
        offset += 1000


VIEWS: dict[str, Callable[[Any], dict[RecordKey, list[Release]]]] = {
    "persons": _persons_releases,
    "review": _review_releases,
}


def bank_releases(session: Any, *, views: Iterable[str] = ("database", *VIEWS)) -> _Database:
    """Per bank record (source, stored record_ref), every release the chosen views show, with
    the database's persons and clear reference columns. ``database`` is always read for the
    records and persons; its attribute columns count only when the view is chosen."""
    found = _database_releases(session)
    wanted = set(views) - {"keys", "exact"}
    if "database" not in wanted:
        found.releases = {key: [] for key in found.releases}
    for name in wanted - {"database"}:
        for key, items in VIEWS[name](session).items():
            found.releases.setdefault(key, []).extend(items)
    return found


def export_attributes(batch_path: Path) -> tuple[list[bytes], list[bytes],
                                                  list[dict[str, Any]]]:
    """What RETA's export yields under the public SDK and RETA's keys: the content attributes
    ``vinculo encode`` computes from the plaintext, each record's reference (HMAC of its
    record_id under RETA's reference key) and locator (RETA opens any locator with its box
    key). Read from RETA's batch; the references and locators are used only by the ``keys``
    view (an insider who holds RETA's keys as well as its export) and for scoring."""
    from vinculo_common.batch import read_batch

    batch = read_batch(Path(batch_path))
    return ([bytes(r) for r in batch.record_refs], [bytes(x) for x in batch.locators],
            list(batch.attributes))


# ----------------------------------------------------------------------------- the measure


@dataclass
class JoinMeasure:
    """What the join re-identifies; shares are of RETA's records in the bank and of the other
    sources' records in the bank."""

    views: tuple[str, ...]
    reta_records: int
    reidentified: int
    unique_first_round: int  # export records with exactly one consistent bank record, correct
    wrong: int  # pairs taken that were wrong
    tied: dict[str, tuple[int, int]] = field(default_factory=dict)  # source → (tied, total)

    @property
    def reidentified_share(self) -> float:
        return self.reidentified / self.reta_records if self.reta_records else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "views": list(self.views), "reta_records": self.reta_records,
            "reidentified": self.reidentified,
            "reidentified_share": round(self.reidentified_share, 4),
            "unique_first_round": self.unique_first_round, "wrong_pairs": self.wrong,
            "tied": {s: {"tied": t, "records": n, "share": round(t / n, 4) if n else 0.0}
                     for s, (t, n) in sorted(self.tied.items())},
        }


def _slot_consistency(exports: list[Release], slots: list[list[Release]]) -> np.ndarray:
    """(exports, slots): consistent with every release of the slot (no release: all)."""
    flat = [r for items in slots for r in items]
    owner = np.array([j for j, items in enumerate(slots) for _ in items], dtype=np.int64)
    ok = np.ones((len(exports), len(slots)), dtype=bool)
    if not flat:
        return ok
    for start in range(0, len(exports), 500):
        part = consistency(exports[start:start + 500], flat)
        bad = ~part
        for k in range(part.shape[1]):
            ok[start:start + 500, owner[k]] &= ~bad[:, k]
    return ok


def measure_join(
    *, work_dir: Path, source: str = "reta", views: Iterable[str] = ("database", *VIEWS),
    custody_key: bytes | None = None,
) -> JoinMeasure:
    """Run the join on a finished real-path run (``run_pipeline``/``vinculo evaluate``'s
    ``run`` folder: ``service/bank.db`` and ``batches/<source>.vnb``).

    ``custody_key``: the key the API process holds to answer the per-record routes (None: the
    development key); the ``database`` view never uses it. The ``exact`` view is the bank
    opened with the custody key: every record's exact content attributes (what linkage and
    the statistics use in memory), the measure of what custody protects.
    """
    from sqlalchemy.orm import Session

    from linkage_service.db import make_engine

    work_dir = Path(work_dir)
    database = work_dir / "service" / "bank.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        try:
            from linkage_service.custody import install_custody_key
        except ImportError:  # a bank from before custody
            install_custody_key = None  # type: ignore[assignment]
        if install_custody_key is not None:
            install_custody_key(engine, custody_key)
        with Session(engine) as session:
            found = bank_releases(session, views=views)
    finally:
        engine.dispose()
    refs, locators, attributes = export_attributes(work_dir / "batches" / f"{source}.vnb")
    exports = [normalize_release(a) for a in attributes]
    slot_keys = [k for k in found.releases if k[0] == source]
    if "exact" in set(views):
        # What the custody key opens: each record's exact attributes as the source uploaded
        # them (its own export's, found through the scoring truth).
        export_of = {ref: i for i, ref in enumerate(refs)}
        for key in slot_keys:
            i = export_of.get(found.own_refs[key], -1)
            if i >= 0:
                found.releases[key] = [*found.releases[key], exports[i]]
    matrix = _slot_consistency(exports, [found.releases[k] for k in slot_keys])
    if "keys" in set(views):
        # RETA's keys: its reference of each record, and every locator opened.
        by_ref = {ref: i for i, ref in enumerate(refs)}
        by_locator = {loc: i for i, loc in enumerate(locators)}
        for j, key in enumerate(slot_keys):
            column_ref, column_locator = found.columns[key]
            i = by_ref.get(column_ref, by_locator.get(column_locator, -1)) \
                if column_ref or column_locator else -1
            if i >= 0:
                matrix[i, :] = False
                matrix[:, j] = False
                matrix[i, j] = True
    column_of = {found.own_refs[k]: j for j, k in enumerate(slot_keys)}
    truth = np.array([column_of.get(ref, -1) for ref in refs])
    first = matrix.sum(axis=1) == 1
    unique_first = int(sum(1 for i in np.flatnonzero(first)
                           if truth[i] >= 0 and matrix[i, truth[i]]))
    pairs = join_attack(matrix)
    right = {i for i, j in pairs.items() if truth[i] == j}
    in_bank = int((truth >= 0).sum())
    identified_persons = {found.persons.get(slot_keys[pairs[i]]) for i in right} - {None}
    tied: dict[str, tuple[int, int]] = {}
    for (src, _ref), person in found.persons.items():
        if src == source:
            continue
        hit, total = tied.get(src, (0, 0))
        tied[src] = (hit + (person in identified_persons), total + 1)
    return JoinMeasure(views=tuple(views), reta_records=in_bank, reidentified=len(right),
                       unique_first_round=unique_first, wrong=len(pairs) - len(right),
                       tied=tied)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vinculo_lab.attacks.join RUN_DIR [--views database,persons,review,keys]
    [--each]``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="carpeta run/ de vinculo evaluate")
    parser.add_argument("--views", default="database,persons,review",
                        help="database, persons, review; keys: the insider also holds RETA's "
                             "keys (reference key, box key); exact: the bank opened with the "
                             "custody key (exact attributes)")
    parser.add_argument("--each", action="store_true", help="también cada vista por separado")
    parser.add_argument("--custody-key-file", type=Path, default=None,
                        help="clave con que responde el servicio (por defecto: la de desarrollo)")
    args = parser.parse_args(argv)
    chosen = [v for v in args.views.split(",") if v]
    key = None
    if args.custody_key_file is not None:
        key = bytes.fromhex(args.custody_key_file.read_text(encoding="ascii").strip())
    report = {"all": measure_join(work_dir=args.run_dir, views=chosen,
                                  custody_key=key).as_dict()}
    if args.each:
        for view in chosen:
            report[view] = measure_join(work_dir=args.run_dir, views=[view],
                                        custody_key=key).as_dict()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
