"""Typing: the stubs, ``py.typed`` and ``mypy --strict``, on what was
installed.

mypy runs in a subprocess with the project's configuration (the
``pyproject.toml`` next to ``tests/``, which cibuildwheel and
``scripts/build-wheels.sh`` copy along) and ``--strict``.  It checks a
copy of the installed package laid out as a wheel installs it: the
package's ``.py`` files, ``py.typed``, and the compiled modules' stubs in
``kando_parallel/_core``.  A development install keeps ``_core`` apart
from the package and finds it through an import hook that mypy does not
follow, so the copy is what makes the same check work there.  A user's
program is checked against the installed package itself when mypy can
find it there (a wheel or sdist install), else against the copy.

``mypy.stubtest`` holds the stubs to the compiled modules and the pure
twin to the stubs.  None of this depends on the backend, so the suite's
two runs check the same thing; each run costs a few seconds of mypy,
sharing one cache within the run.

``python -m pytest tests/test_typing.py`` type-checks the package.
"""

import ast
import importlib
import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kando_parallel
from kando_parallel import _backend

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE = Path(kando_parallel.__file__).resolve().parent
CORE = Path(
    importlib.util.find_spec("kando_parallel._core")
    .submodule_search_locations[0]
).resolve()
MODULES = _backend.MODULES
SHIPPED = (".py", ".pyi", "py.typed")

# What stubtest may find in a compiled module and not in its stub:
# Cython's own attributes, and the reflected operators that every
# binary operator slot shows (Goal's & and | take goals on both sides).
# Which of them appear depends on the Cython version, so an unused
# entry is no error here.
CORE_ALLOWLIST = """
kando_parallel\\._core\\.\\w+\\.__pyx_\\w+
kando_parallel\\._core\\.\\w+\\.__test__
kando_parallel\\._core\\..*\\.__(reduce|setstate)_cython__
kando_parallel\\._core\\.engine\\.Goal\\.__r(and|or)__
"""

# What the pure twin may lack of the stubs.  Unused entries are errors,
# so each one goes when the twin gains the name.
TWIN_ALLOWLIST = """
# instance attributes in the twin, which stubtest cannot see
kando_parallel\\._pure\\.engine\\.Facts\\.(arity|name)
kando_parallel\\._pure\\.engine\\.Relation\\.(arity|fn|name)
kando_parallel\\._pure\\.engine\\.Search\\.steps
"""


# ---------------------------------------------------------------- helpers


def _not_shipped(directory, names):
    # What shutil.copytree leaves out: all but the typed sources.
    return [
        name for name in names
        if name == "__pycache__"
        or not (Path(directory, name).is_dir() or name.endswith(SHIPPED))
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A copy of the installed package as a wheel lays it out."""
    root = tmp_path_factory.mktemp("site")
    target = root / "kando_parallel"
    shutil.copytree(PACKAGE, target, ignore=_not_shipped)
    if CORE != PACKAGE / "_core":
        shutil.copytree(CORE, target / "_core", ignore=_not_shipped)
    return root


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mypy-cache")


def run_mypy(module, *args, cwd, mypypath=None):
    """Run ``python -m <module> ARGS``; the completed process."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith("MYPY")
    }
    if mypypath is not None:
        env["MYPYPATH"] = str(mypypath)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def mypy(*args, cwd, cache, mypypath=None):
    return run_mypy(
        "mypy", "--strict", "--config-file", str(PYPROJECT),
        "--cache-dir", str(cache), "--no-pretty", *args,
        cwd=cwd, mypypath=mypypath,
    )


def output(result):
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def stub_all(name):
    """The ``__all__`` a stub of ``src/_core`` declares, or None."""
    tree = ast.parse((CORE / f"{name}.pyi").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in node.targets
        ):
            return sorted(ast.literal_eval(node.value))
    return None


def compiled_core():
    """The compiled modules, or skip when they did not build."""
    try:
        return [
            importlib.import_module(f"kando_parallel._core.{name}")
            for name in MODULES
        ]
    except ImportError as exc:
        pytest.skip(f"the compiled core is not built: {exc}")


def mypy_finds_the_install():
    """Whether mypy finds the installed package itself: ``_core`` is in
    the package and the package's folder is on the path."""
    paths = {Path(p).resolve() for p in sys.path if p}
    return CORE == PACKAGE / "_core" and PACKAGE.parent in paths


# ---------------------------------------------------------------- files


def test_py_typed_and_the_stubs_are_installed():
    assert (PACKAGE / "py.typed").is_file(), f"no py.typed in {PACKAGE}"

    missing = [n for n in MODULES if not (CORE / f"{n}.pyi").is_file()]

    assert not missing, f"no stubs for {missing} in {CORE}"


def test_the_stubs_sit_next_to_the_compiled_modules():
    folders = {Path(m.__file__).resolve().parent for m in compiled_core()}

    assert folders == {CORE}


# ---------------------------------------------------------------- mypy


def test_the_package_passes_mypy_strict(site, mypy_cache):
    result = mypy("-p", "kando_parallel", cwd=site, cache=mypy_cache,
                  mypypath=site)

    assert result.returncode == 0, output(result)
    assert "Success" in result.stdout, output(result)


USER_PROGRAM = """\
from collections.abc import Iterator
from typing import Any

from typing_extensions import assert_type

import kando_parallel
from kando_parallel import (
    Cons, CyclicTermError, Facts, Goal, RateLimiter, Relation, Search,
    StreamMerger, Substitution, Var, WorkerPool, background, conde, conj,
    cons, eq, fail, fresh, is_var, membero, pygoal, reify, relation, run,
    run_all, run_iter, succeed, unify, var, vars, walk, with_timeout,
)


@relation
def lasto(lst: object, last: object) -> Goal:
    return conde(
        [eq(lst, [last])],
        [fresh(lambda h, t: conj(eq(lst, cons(h, t)), lasto(t, last)))],
    )


@relation(dynamic=True)
def small(n: object) -> Goal:
    return membero(n, [0, 1, 2])


q = var("q")
x, y = vars(2)
assert_type(q, Var)
assert_type(x, Var)
assert_type(lasto, Relation)
assert_type(small, Relation)


def digits(state: Substitution) -> Iterator[Substitution | None]:
    for n in range(10):
        yield unify(q, n, state)


goal = (lasto([1, 2, 3], q) & succeed) | fail
assert_type(goal, Goal)
assert_type(run(1, q, goal), list[Any])
assert_type(run_all(q, small(q)), list[Any])
assert_type(run(None, q, pygoal(digits)), list[Any])
assert_type(cons(1, q), Cons)
assert_type(cons(1, [2]), list[Any])

s = unify((x, 2), (1, y))
assert_type(s, Substitution | None)
if s is not None:
    value: object = s[x]
    bound: list[Var] = list(s.keys())
    assert_type(walk(x, s), Any)
    assert_type(unify(x, 3, s, occurs_check=False), Substitution | None)
    try:
        assert_type(reify((x, y), s), Any)
    except CyclicTermError:
        pass

term: object = q
if is_var(term):
    assert_type(term, Var)

with Search(q, membero(q, [1, 2])) as search:
    status = search.step(100)
    assert_type(status, int)
    if status == Search.ANSWER:
        answer = search.answer()
    others: list[Search] = search.split(2)

answers = run_iter(q, membero(q, [1, 2]))
first = next(answers)
answers.close()

parent = Facts("parent", [("abe", "homer"), ("homer", "bart")])
assert_type(parent(q, "bart"), Goal)

with WorkerPool(2) as pool:
    assert_type(pool.submit(pow, 2, 3).result(), int)
limiter = RateLimiter(1000.0, burst=2)
assert_type(limiter.try_acquire(), bool)
merger = StreamMerger()
merger.add_stream(run_iter(q, membero(q, [1, 2])))
ctx = with_timeout(background(), 1.0)
error = ctx.err()
if error is not None:
    raise error

version: str = kando_parallel.__version__
backend: str = kando_parallel.__backend__
"""

# Each line that mypy must reject, with the error code it must give.
BAD_PROGRAM = """\
from kando_parallel import Search, eq, run, unify, var, vars

q = var(1)  # arg-type
run(1, q, 42)  # arg-type
unify(q, 1)[q]  # index
names: list[str] = vars(2)  # assignment
Search(q, eq(q, 1)).step("many")  # arg-type
eq(q, 1) & 3  # operator
"""


def user_check(tmp_path, site, mypy_cache, source):
    program = tmp_path / "program.py"
    program.write_text(source)
    mypypath = None if mypy_finds_the_install() else site

    return mypy(str(program), cwd=tmp_path, cache=mypy_cache,
                mypypath=mypypath)


def test_a_typed_user_program_passes_mypy_strict(tmp_path, site,
                                                 mypy_cache):
    result = user_check(tmp_path, site, mypy_cache, USER_PROGRAM)

    assert result.returncode == 0, output(result)


def test_mypy_rejects_a_wrongly_typed_user_program(tmp_path, site,
                                                    mypy_cache):
    expected = {
        number: line.rsplit("# ", 1)[1]
        for number, line in enumerate(BAD_PROGRAM.splitlines(), 1)
        if "# " in line
    }

    result = user_check(tmp_path, site, mypy_cache, BAD_PROGRAM)

    found = {}
    for line in result.stdout.splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[2].strip() == "error":
            code = parts[3].rsplit("[", 1)[-1].rstrip("]")
            found[int(parts[1])] = code
    assert result.returncode == 1, output(result)
    assert found == expected, output(result)


# ---------------------------------------------------------------- stubtest


def stubtest(tmp_path, mypypath, allowlist, modules, *args):
    allow = tmp_path / "allowlist.txt"
    allow.write_text(allowlist)
    return run_mypy(
        "mypy.stubtest", "--mypy-config-file", str(PYPROJECT),
        "--allowlist", str(allow), *args, *modules,
        cwd=tmp_path, mypypath=mypypath,
    )


def test_the_stubs_are_the_compiled_modules_api(tmp_path, site):
    modules = [m.__name__ for m in compiled_core()]

    result = stubtest(tmp_path, site, CORE_ALLOWLIST, modules,
                      "--ignore-unused-allowlist")

    assert result.returncode == 0, output(result)


def test_the_pure_twin_has_the_stubs_api(tmp_path):
    # The stubs, renamed to the twin's modules, against the twin; names
    # the twin has beyond them are its own (--ignore-missing-stub).
    stubs = tmp_path / "stubs" / "kando_parallel"
    (stubs / "_pure").mkdir(parents=True)
    (stubs / "__init__.pyi").touch()
    (stubs / "_pure" / "__init__.pyi").touch()
    for name in MODULES:
        text = (CORE / f"{name}.pyi").read_text()
        text = text.replace("kando_parallel._core.", "kando_parallel._pure.")
        text = text.replace("@disjoint_base\n", "")
        (stubs / "_pure" / f"{name}.pyi").write_text(text)
    modules = [f"kando_parallel._pure.{name}" for name in MODULES]

    result = stubtest(tmp_path, stubs.parent, TWIN_ALLOWLIST, modules,
                      "--ignore-missing-stub")

    assert result.returncode == 0, output(result)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", MODULES)
def test_the_pure_twin_exports_the_stubs_names(name):
    expected = stub_all(name)
    twin = importlib.import_module(f"kando_parallel._pure.{name}")

    if expected is None:
        assert not hasattr(twin, "__all__")
    else:
        assert sorted(twin.__all__) == expected


def test_the_package_all_lists_every_public_name():
    public = {
        name for name, value in vars(kando_parallel).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }

    assert public == set(kando_parallel.__all__)
