"""Knowledge for prevention: indicators over the pseudonymous bank, risk by territory, and
publication that is safe (small-cell and complementary suppression, optional discrete Laplace
noise). Everything is a pure function over a bank snapshot DataFrame
(:mod:`linkage_service.stats.snapshot` documents its columns); see ``docs/statistics.md``.

>>> from linkage_service.stats import build_tables
>>> callable(build_tables)
True
"""

from __future__ import annotations

from linkage_service.stats.report import TablePayload, build_tables, count_tables
from linkage_service.stats.snapshot import DEFAULT_SOURCE_ROLES, SNAPSHOT_COLUMNS
from linkage_service.stats.suppression import DEFAULT_MIN_CELL

__all__ = [
    "DEFAULT_MIN_CELL",
    "DEFAULT_SOURCE_ROLES",
    "SNAPSHOT_COLUMNS",
    "TablePayload",
    "build_tables",
    "count_tables",
]
