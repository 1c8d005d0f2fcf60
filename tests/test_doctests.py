"""The examples in the docstrings of the input pipeline, the keyed sections and the linkage
core are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "client_sdk.standardize.text",
    "client_sdk.standardize.names",
    "client_sdk.standardize.documents",
    "client_sdk.standardize.dates",
    "client_sdk.standardize.places",
    "client_sdk.standardize.attributes",
    "client_sdk.reading",
    "client_sdk.mapping",
    "client_sdk.validation",
    "client_sdk.pipeline",
    "vinculo_common.ubigeo",
    "client_sdk.family",
    "linkage_service.linkage.blocking",
    "linkage_service.linkage.candidates",
    "linkage_service.linkage.clustering",
    "linkage_service.linkage.comparisons",
    "linkage_service.linkage.contract",
    "linkage_service.linkage.job",
    "linkage_service.linkage.scoring",
    "linkage_service.linkage.similarity",
    "linkage_service.web.work",
    "vinculo_common.schemas",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
