"""Shared helpers for the test suite.

The suite runs against whichever core :mod:`kando_parallel` picked: the
compiled one, or the pure-Python twin when ``KANDO_PARALLEL_PURE=1``.
When ``KANDO_PARALLEL_EXPECT_BACKEND`` is set, the session stops at once
unless that is the backend in use, so that a broken build can never pass
as a test run of the twin.
"""

import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import traceback

import pytest

import kando_parallel

EXPECT_BACKEND = "KANDO_PARALLEL_EXPECT_BACKEND"


def pytest_report_header(config):
    from kando_parallel import _backend

    header = f"kando_parallel backend: {kando_parallel.__backend__}"
    if _backend.IMPORT_ERROR is not None:
        header += f" (compiled core: {_backend.IMPORT_ERROR})"
    return header


def pytest_sessionstart(session):
    expected = os.environ.get(EXPECT_BACKEND)
    if expected and expected != kando_parallel.__backend__:
        from kando_parallel import _backend

        pytest.exit(
            f"{EXPECT_BACKEND}={expected}, but kando_parallel uses the "
            f"{kando_parallel.__backend__!r} backend "
            f"(compiled core import error: {_backend.IMPORT_ERROR})",
            returncode=1,
        )


# ---------------------------------------------------------------- deadlines


class Deadline(AssertionError):
    """A call guarded by :func:`within` did not return in time."""


def _child(connection, fn, args):
    try:
        outcome = ("ok", fn(*args))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        outcome = ("raised", exc, traceback.format_exc())
    try:
        connection.send(outcome)
    except Exception as exc:  # noqa: BLE001 - unpicklable result
        connection.send(("unsendable", repr(exc), repr(outcome[1])))
    connection.close()


def _within_fork(seconds, fn, args):
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(child_end, fn, args))
    child.start()
    child_end.close()
    try:
        if not parent_end.poll(seconds):
            raise Deadline(f"{fn!r} did not return within {seconds} s")
        outcome = parent_end.recv()
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        parent_end.close()
    return outcome


def _within_thread(seconds, fn, args):
    box = []

    def target():
        try:
            box.append(("ok", fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box.append(("raised", exc, traceback.format_exc()))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Deadline(f"{fn!r} did not return within {seconds} s")
    return box[0]


def within(seconds, fn, *args):
    """Call ``fn(*args)`` and return its result, or fail after ``seconds``.

    Where the platform can fork, the call runs in a forked child process,
    which is killed at the deadline: a search that never returns, even one
    spinning in compiled code that holds the GIL, fails the test instead
    of stalling the suite.  The result travels back pickled.  Elsewhere the
    call runs in a daemon thread.
    """
    if "fork" in multiprocessing.get_all_start_methods():
        outcome = _within_fork(seconds, fn, args)
    else:
        outcome = _within_thread(seconds, fn, args)

    if outcome[0] == "raised":
        raise outcome[1]
    if outcome[0] == "unsendable":
        raise AssertionError(
            f"the result {outcome[2]} could not be sent back: {outcome[1]}"
        )
    return outcome[1]


# ---------------------------------------------------------------- the command


def command_path():
    """The installed ``kando-parallel`` console script."""
    scripts = os.path.dirname(sys.executable)
    found = shutil.which("kando-parallel", path=scripts)
    if found is None:
        found = shutil.which("kando-parallel")
    if found is None:
        raise AssertionError(
            "the kando-parallel console script is not installed next to "
            f"{sys.executable}"
        )
    return found


def run_command(*args, timeout=120, cwd=None):
    """Run ``kando-parallel ARGS``; the completed process, text mode."""
    return subprocess.run(
        [command_path(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def backend():
    """The name of the backend under test: ``"cython"`` or ``"python"``."""
    return kando_parallel.__backend__


@pytest.fixture
def default_recursion_limit():
    """Run a test under the interpreter's default recursion limit."""
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(saved)
