"""The compiled core and its pure-Python twin offer the same names."""

import importlib

import pytest

from kando_parallel import _backend

MODULES = ["terms", "subst", "unify", "engine", "counter", "bucket"]


def compiled(name):
    try:
        return importlib.import_module(f"kando_parallel._core.{name}")
    except ImportError:
        if _backend.BACKEND == "cython":
            raise
        pytest.skip("the compiled core is not built here")


@pytest.mark.parametrize("name", MODULES)
def test_twins_export_the_same_names(name):
    pure = importlib.import_module(f"kando_parallel._pure.{name}")
    core = compiled(name)

    assert sorted(pure.__all__) == sorted(core.__all__)
    for exported in pure.__all__:
        assert hasattr(core, exported), exported
        assert hasattr(pure, exported), exported


@pytest.mark.parametrize("name", MODULES)
def test_backend_uses_one_implementation_for_every_module(name):
    module = getattr(_backend, name)
    expected = "_core" if _backend.BACKEND == "cython" else "_pure"

    assert module.__name__ == f"kando_parallel.{expected}.{name}"
