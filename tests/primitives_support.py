"""Shared helpers of the concurrency-primitive tests."""

import importlib
import threading

import pytest

from kando_parallel import _backend


def core_modules(name):
    """The implementations of core module ``name`` to test directly.

    The pure twin always; the compiled module too when it was built.
    In the compiled run of ``scripts/test.sh`` a missing build fails.
    """
    found = [importlib.import_module(f"kando_parallel._pure.{name}")]
    try:
        found.append(importlib.import_module(f"kando_parallel._core.{name}"))
    except ImportError:
        if _backend.BACKEND == "cython":
            raise
    return found


def module_id(module):
    return "compiled" if "._core." in module.__name__ else "pure"


def impl_params(name):
    return pytest.mark.parametrize(
        "impl", core_modules(name), ids=module_id
    )


class Runner:
    """Run a callable in a daemon thread; join it with a bound."""

    def __init__(self, fn, *args, **kwargs):
        self.result = None
        self.error = None
        self.thread = threading.Thread(
            target=self._run, args=(fn, args, kwargs), daemon=True
        )
        self.thread.start()

    def _run(self, fn, args, kwargs):
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the call did not return in time"
        return self

    def value(self, timeout):
        self.join(timeout)
        if self.error is not None:
            raise self.error
        return self.result


class FakeClock:
    """A clock in integer nanoseconds that moves only when told."""

    def __init__(self, start=0):
        self._now = start
        self._lock = threading.Lock()

    def __call__(self):
        return self._now

    def set(self, ns):
        with self._lock:
            self._now = ns

    def advance(self, ns):
        with self._lock:
            self._now += ns


def wait_until(predicate, timeout, step=0.001):
    """Poll ``predicate`` until true or ``timeout`` s; return its value."""
    import time

    until = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= until:
            return False
        time.sleep(step)
    return True


def run_threads(fn, count, timeout):
    """Run ``fn`` in ``count`` daemon threads at once; all must finish."""
    threads = [threading.Thread(target=fn, daemon=True)
               for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread did not finish in time"
