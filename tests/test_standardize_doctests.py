"""The examples in the input pipeline's docstrings are true."""

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
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
