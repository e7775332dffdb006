"""The examples in the docstrings of the concurrency layer run."""

import doctest
import importlib
import pathlib

import pytest

from primitives_support import core_modules

MODULES = ["errors", "context", "backpressure", "limiter", "pool",
           "balancer", "merger"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", MODULES)
def test_api_docstring_examples(name):
    module = importlib.import_module(f"kando_parallel.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0
    assert result.attempted > 0


@pytest.mark.parametrize("name", ["counter", "bucket"])
def test_core_docstring_examples(name):
    for module in core_modules(name):
        result = doctest.testmod(module)
        assert result.failed == 0
        assert result.attempted > 0, module.__name__


@pytest.mark.timeout(60)
def test_parallel_api_document_examples():
    path = pathlib.Path(__file__).parent.parent / "docs" / "parallel-api.md"
    result = doctest.testfile(str(path), module_relative=False)
    assert result.failed == 0
    assert result.attempted > 20
