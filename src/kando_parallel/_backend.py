"""Choose the implementation of the core: compiled or pure Python.

The compiled modules live in ``kando_parallel._core`` and each has a twin
of the same name in ``kando_parallel._pure``.  Setting the environment
variable ``KANDO_PARALLEL_PURE`` to anything but ``""`` or ``"0"`` forces
the twin; otherwise the compiled core is used when it imports, and the
twin when it does not (a source checkout that was never built, or a
platform without a wheel and without a compiler).  ``IMPORT_ERROR`` keeps
the reason the compiled core did not import.

Type checkers see the compiled modules' stubs (``_core/*.pyi``): they are
the public types whichever backend runs, and the twin is checked against
the same names on its own.
"""

import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING

MODULES = ("terms", "subst", "unify", "engine", "counter", "bucket")


def _wanted_pure() -> bool:
    return os.environ.get("KANDO_PARALLEL_PURE", "") not in ("", "0")


def _load(package: str) -> dict[str, ModuleType]:
    return {
        name: importlib.import_module(f"{package}.{name}")
        for name in MODULES
    }


IMPORT_ERROR: ImportError | None = None
if _wanted_pure():
    BACKEND = "python"
    _modules = _load("kando_parallel._pure")
else:
    try:
        _modules = _load("kando_parallel._core")
        BACKEND = "cython"
    except ImportError as exc:
        BACKEND = "python"
        IMPORT_ERROR = exc
        _modules = _load("kando_parallel._pure")

if TYPE_CHECKING:
    from kando_parallel._core import bucket as bucket
    from kando_parallel._core import counter as counter
    from kando_parallel._core import engine as engine
    from kando_parallel._core import subst as subst
    from kando_parallel._core import terms as terms
    from kando_parallel._core import unify as unify
else:
    terms = _modules["terms"]
    subst = _modules["subst"]
    unify = _modules["unify"]
    engine = _modules["engine"]
    counter = _modules["counter"]
    bucket = _modules["bucket"]
