"""The examples in the docstrings run and give what they show.

Each module of the package is checked as installed, with the core the
package chose: the compiled core's modules or the pure-Python twin's.
"""

import doctest
import importlib

import pytest

import kando_parallel

MODULES = [
    "kando_parallel",
    "kando_parallel.cli",
    "kando_parallel.executor",
    "kando_parallel.lists",
    "kando_parallel.solver",
    "kando_parallel.puzzles.queens",
    "kando_parallel.puzzles.zebra",
]
CORE_MODULES = ["terms", "subst", "unify", "engine"]


def core_module(name):
    return getattr(kando_parallel._backend, name).__name__


@pytest.mark.parametrize(
    "name", MODULES + [core_module(name) for name in CORE_MODULES]
)
def test_docstring_examples(name):
    module = importlib.import_module(name)

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)

    assert result.failed == 0
