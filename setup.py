"""Build the compiled core: every ``src/_core/<name>.pyx`` becomes the
extension module ``kando_parallel._core.<name>``.

Cython resolves ``cimport kando_parallel._core.<name>`` by looking for
``kando_parallel/_core/<name>.pxd`` on its include path, so the declaration
files are mirrored into ``build/cython-include`` before cythonizing.  The
directives live in each ``.pyx`` header, not here.
"""

import os
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
CORE = HERE / "src" / "_core"
INCLUDE = HERE / "build" / "cython-include"


def mirror_declarations():
    target = INCLUDE / "kando_parallel" / "_core"
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.iterdir():
        stale.unlink()
    for init in (INCLUDE / "kando_parallel", target):
        (init / "__init__.pxd").touch()
    for src in CORE.glob("*.pxd"):
        shutil.copyfile(src, target / src.name)


def extensions():
    from Cython.Build import cythonize

    mirror_declarations()
    macros = []
    args = []
    debug = bool(os.environ.get("KANDO_PARALLEL_DEBUG"))
    if sys.platform == "win32":
        # MSVC (setuptools' compiler on Windows) spells its flags /X.
        args += ["/Od", "/Zi", "/UNDEBUG"] if debug else ["/O2"]
    else:
        # -g0 drops the debug information that the interpreter's own
        # CFLAGS ask for: it is most of the size of a release wheel.
        args += ["-O0", "-g", "-UNDEBUG"] if debug else ["-O3", "-g0"]
    modules = [
        Extension(
            f"kando_parallel._core.{pyx.stem}",
            [str(pyx.relative_to(HERE))],
            include_dirs=[str(CORE)],
            define_macros=macros,
            extra_compile_args=args,
        )
        for pyx in sorted(CORE.glob("*.pyx"))
    ]
    built = cythonize(
        modules,
        include_path=[str(INCLUDE), str(CORE)],
        language_level=3,
    )
    # Where no C compiler works, install without the compiled core:
    # kando_parallel then runs on the pure-Python twin (docs/install.md).
    # Wheel builds and the test scripts expect the compiled core and fail
    # loudly without it.  Set here: cythonize() does not copy `optional`.
    for module in built:
        module.optional = True
    return built


setup(
    packages=[
        "kando_parallel",
        "kando_parallel._core",
        "kando_parallel._pure",
        "kando_parallel.puzzles",
    ],
    package_dir={
        "kando_parallel": "src/kando_parallel",
        "kando_parallel._core": "src/_core",
    },
    package_data={
        "kando_parallel": ["py.typed", "*.pyi"],
        "kando_parallel._core": ["*.pyi", "*.pxd", "*.h"],
    },
    ext_modules=extensions(),
)
