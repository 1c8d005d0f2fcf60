"""Synthetic registries of trafficking victims (RETA, SISTRA, care) with a known truth.

Only fictitious people: names are drawn from frequency lists, documents are random numbers.
The generator is deliberately harder than real exports (see ``docs/synthetic-data.md``).

>>> from vinculo_lab.synth import generate, profile
>>> result = generate(people=20, seed=1, config=profile("default"))
>>> len(result.truth) >= 20
True
"""

from __future__ import annotations

from vinculo_lab.synth.config import PROFILES, PopulationParams, QuirkRates, SynthConfig, profile
from vinculo_lab.synth.dataset import (
    BAD_ROW_REASONS,
    SynthResult,
    describe,
    generate,
    write_dataset,
)
from vinculo_lab.synth.people import Person, dni_check_characters
from vinculo_lab.synth.registry import CANONICAL_COLUMNS, SOURCES

__all__ = [
    "BAD_ROW_REASONS",
    "CANONICAL_COLUMNS",
    "PROFILES",
    "SOURCES",
    "Person",
    "PopulationParams",
    "QuirkRates",
    "SynthConfig",
    "SynthResult",
    "describe",
    "dni_check_characters",
    "generate",
    "profile",
    "write_dataset",
]
