"""Choose the implementation of the core: compiled or pure Python.

The compiled modules live in ``kando_parallel._core`` and each has a twin
of the same name in ``kando_parallel._pure``.  Setting the environment
variable ``KANDO_PARALLEL_PURE`` to anything but ``""`` or ``"0"`` forces
the twin; otherwise the compiled core is used when it imports, and the
twin when it does not (a source checkout that was never built, or a
platform without a wheel and without a compiler).
"""

import importlib
import os

MODULES = ("terms", "subst", "unify", "engine", "counter", "bucket")


def _wanted_pure():
    return os.environ.get("KANDO_PARALLEL_PURE", "") not in ("", "0")


def _load(package):
    return [importlib.import_module(f"{package}.{name}") for name in MODULES]


if _wanted_pure():
    BACKEND = "python"
    IMPORT_ERROR = None
    terms, subst, unify, engine, counter, bucket = _load("kando_parallel._pure")
else:
    try:
        terms, subst, unify, engine, counter, bucket = _load(
            "kando_parallel._core"
        )
        BACKEND = "cython"
        IMPORT_ERROR = None
    except ImportError as exc:
        BACKEND = "python"
        IMPORT_ERROR = exc
        terms, subst, unify, engine, counter, bucket = _load(
            "kando_parallel._pure"
        )
