"""Run the test suite against the installed kando-parallel, twice.

    python scripts/test_installed.py [--summary FILE] [pytest arguments]

Run it in an environment where ``kando-parallel[test]`` is installed,
from any directory; the tests are the ``tests/`` folder next to this
script's folder (a checkout, or the copy that cibuildwheel and
``scripts/build-wheels.sh`` make away from the sources).

First it checks that ``import kando_parallel`` finds the installed
package in this interpreter's site-packages, not a source tree, and
that the compiled core imports; on a free-threaded CPython, that
importing it left the GIL disabled.  Then it runs pytest against the
compiled core (``KANDO_PARALLEL_EXPECT_BACKEND=cython``) and against
the pure-Python twin (``KANDO_PARALLEL_PURE=1``).  ``--summary FILE``
writes the counts of both runs as JSON.  The exit status is 0 when the
checks and both runs pass.  Plain Python, so that it runs the same
under cmd.exe, PowerShell and POSIX shells.
"""

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys, sysconfig
import kando_parallel
from kando_parallel import _backend
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print(json.dumps({
    "file": kando_parallel.__file__,
    "backend": kando_parallel.__backend__,
    "import_error": repr(_backend.IMPORT_ERROR),
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": gil,
}))
"""

RUNS = (
    ("compiled core", {"KANDO_PARALLEL_EXPECT_BACKEND": "cython"}),
    (
        "pure-Python twin",
        {
            "KANDO_PARALLEL_PURE": "1",
            "KANDO_PARALLEL_EXPECT_BACKEND": "python",
        },
    ),
)


def clean_environment():
    env = dict(os.environ)
    for name in ("KANDO_PARALLEL_PURE", "KANDO_PARALLEL_EXPECT_BACKEND",
                 "PYTHONPATH"):
        env.pop(name, None)
    return env


def installed_locations():
    paths = sysconfig.get_paths()
    return {Path(paths[key]).resolve() for key in ("purelib", "platlib")}


def check_installed():
    """Problems with the package this interpreter imports, as text."""
    found = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        return [f"import kando_parallel failed:\n{found.stderr}"]

    probe = json.loads(found.stdout)
    package = Path(probe["file"]).resolve().parent
    print(f"kando_parallel imported from {package}")
    print(f"backend {probe['backend']}, free-threaded "
          f"{probe['free_threaded']}, GIL enabled {probe['gil_enabled']}")

    problems = []
    if not any(place in package.parents for place in installed_locations()):
        problems.append(
            f"{package} is not in this interpreter's site-packages: the "
            "tests would not run against the installed package"
        )
    if probe["backend"] != "cython":
        problems.append(
            "the compiled core did not import: "
            f"{probe['import_error']}"
        )
    if probe["free_threaded"] and probe["gil_enabled"]:
        problems.append(
            "importing the compiled core re-enabled the GIL on a "
            "free-threaded build: a module lacks freethreading_compatible"
        )
    return problems


def counts(report):
    """Passed, failed, skipped from a JUnit XML report (None if absent)."""
    if not report.exists():
        return None
    root = ElementTree.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    total = failed = skipped = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return {
        "passed": total - failed - skipped,
        "failed": failed,
        "skipped": skipped,
    }


def run_suite(name, extra_env, pytest_args, scratch):
    report = Path(scratch) / (name.split()[0] + ".xml")
    env = clean_environment()
    env.update(extra_env)
    settings = " ".join(f"{key}={value}" for key, value in extra_env.items())
    print(f"\n== tests against the {name} ({settings})", flush=True)

    # No paths: pytest collects the project's testpaths (pyproject.toml
    # sits next to tests/ in every copy this runs from).
    status = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         f"--junitxml={report}", *pytest_args],
        cwd=ROOT,
        env=env,
        check=False,
    ).returncode

    result = counts(report) or {"passed": 0, "failed": 0, "skipped": 0}
    result["exit"] = status
    return result


def main(argv):
    summary_path = None
    if argv[:1] == ["--summary"]:
        summary_path, argv = argv[1], argv[2:]

    problems = check_installed()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)

    results = {}
    if not problems:
        with tempfile.TemporaryDirectory() as scratch:
            for name, extra_env in RUNS:
                results[name] = run_suite(name, extra_env, argv, scratch)

    print()
    for name, result in results.items():
        print(f"{name}: {result['passed']} passed, {result['failed']} "
              f"failed, {result['skipped']} skipped "
              f"(pytest exit {result['exit']})")
    if summary_path is not None:
        Path(summary_path).write_text(
            json.dumps({"problems": problems, "runs": results}, indent=2)
        )

    ok = not problems and all(r["exit"] == 0 for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
