"""The examples in the docstrings of the linkage core and the SDK's keyed sections run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
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
