"""The RETA join in one step: synthetic registries → the real path → the join measurement.

    .venv/bin/python benchmarks/join.py --people 3000 --seed 41 [--work DIR] [--views …]

Runs ``vinculo synth`` and the real encode → upload → link path (``run_pipeline``, as
``vinculo evaluate`` does), then ``vinculo_lab.attacks.join.measure_join`` with every view
together and each alone; prints one JSON report (re-identified share of RETA's records, SISTRA
and care records tied to a RETA identity). ``--run DIR`` measures an existing ``run/`` folder
instead (``vinculo evaluate --out E`` leaves it in ``E/run``). See docs/security.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> int:
    from vinculo_lab.attacks.join import VIEWS, measure_join

    parser = argparse.ArgumentParser(description="RETA join against the bank")
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--work", type=Path, default=None, help="carpeta de trabajo (vacía)")
    parser.add_argument("--run", type=Path, default=None, help="una carpeta run/ existente")
    parser.add_argument("--views", default=",".join(("database", *VIEWS)))
    args = parser.parse_args()
    run_dir = args.run
    if run_dir is None:
        from vinculo_lab.evaluation.run import run_pipeline
        from vinculo_lab.synth import generate, profile, write_dataset

        work = args.work or Path(tempfile.mkdtemp(prefix="vinculo-join-"))
        data = work / "data"
        write_dataset(generate(people=args.people, seed=args.seed, config=profile("default")),
                      data)
        run_dir = work / "run"
        run_pipeline(data_dir=data, work_dir=run_dir)
    views = [v for v in args.views.split(",") if v]
    report = {"run": str(run_dir), "all": measure_join(work_dir=run_dir, views=views).as_dict()}
    for view in views:
        report[view] = measure_join(work_dir=run_dir, views=[view]).as_dict()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
