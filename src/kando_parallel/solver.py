"""Solve a query to the end, with a deadline and progress reports.

:func:`solve` is what the ``kando-parallel`` command runs: the same search
as :func:`kando_parallel.run`, stepped in slices so that it can stop at a
deadline, report progress while it works, and be interrupted with
Ctrl-C between slices.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kando_parallel._backend import engine

Search = engine.Search
conj = engine.conj
check_count = engine.check_count

SLICE_STEPS = 20_000
PROGRESS_EVERY_S = 1.0


class SolveTimeout(TimeoutError):
    """The deadline passed before the search finished.

    ``answers`` holds the answers found before it did.
    """

    def __init__(self, seconds: float, answers: list[Any]) -> None:
        super().__init__(
            f"no complete result within {seconds:g} s "
            f"({len(answers)} answers found so far)"
        )
        self.seconds = seconds
        self.answers = answers


class Progress:
    """What a progress callback receives about a running search."""

    __slots__ = ("answers", "steps", "elapsed", "pending")

    def __init__(self, answers: int, steps: int, elapsed: float,
                 pending: int) -> None:
        self.answers = answers
        self.steps = steps
        self.elapsed = elapsed
        self.pending = pending

    def __repr__(self) -> str:
        return (
            f"Progress(answers={self.answers}, steps={self.steps}, "
            f"elapsed={self.elapsed:.1f}, pending={self.pending})"
        )


def solve(query: object, *goals: Any, limit: int | None = None,
          timeout: float | None = None,
          progress: Callable[[Progress], object] | None = None,
          occurs_check: bool = True, workers: int = 1) -> list[Any]:
    """The answers of ``goals`` for ``query``, at most ``limit`` of them.

    ``limit`` of ``None`` or 0 means all.  ``timeout`` is in seconds;
    when it passes, :class:`SolveTimeout` is raised with the answers found
    so far.  ``progress``, if given, is called with a :class:`Progress`
    about once a second while the search runs.  ``workers`` above 1
    searches in parallel on that many threads; the answers are the same,
    in an order that depends on the workers' timing.

    >>> from kando_parallel import var, membero
    >>> q = var()
    >>> solve(q, membero(q, [1, 2, 3]), limit=2)
    [1, 2]
    """
    limit = check_count(limit)
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number, not {timeout}")
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be an int, not {workers!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers}")
    if workers > 1:
        return _solve_parallel(query, goals, limit, timeout, progress,
                               occurs_check, workers)

    start = time.monotonic()
    next_report = start + PROGRESS_EVERY_S
    answers: list[Any] = []

    with Search(query, conj(*goals), occurs_check) as search:
        while limit is None or len(answers) < limit:
            status = search.step(SLICE_STEPS)
            if status == Search.ANSWER:
                answers.append(search.answer())
            elif status == Search.EXHAUSTED:
                break

            now = time.monotonic()
            if timeout is not None and now - start >= timeout:
                raise SolveTimeout(timeout, answers)
            if progress is not None and now >= next_report:
                next_report = now + PROGRESS_EVERY_S
                progress(
                    Progress(len(answers), search.steps, now - start,
                             search.pending)
                )
    return answers


def _solve_parallel(query: object, goals: tuple[Any, ...],
                    limit: int | None, timeout: float | None,
                    progress: Callable[[Progress], object] | None,
                    occurs_check: bool, workers: int) -> list[Any]:
    from kando_parallel.errors import DeadlineExceeded
    from kando_parallel.executor import ParallelConfig, ParallelExecutor

    start = time.monotonic()
    answers: list[Any] = []
    config = ParallelConfig(max_workers=workers)
    executor = ParallelExecutor(config)
    try:
        found = executor.search(query, *goals, timeout=timeout,
                                occurs_check=occurs_check)
        reporter = _Reporter(found, answers, start, progress)
        try:
            for answer in found:
                answers.append(answer)
                if limit is not None and len(answers) >= limit:
                    break
        except DeadlineExceeded:
            raise SolveTimeout(timeout or 0.0, answers) from None
        finally:
            reporter.stop()
            found.close(timeout=1.0)
    finally:
        # Not waiting for the threads: after a timeout or an interrupt a
        # worker may be stuck in a relation's own Python code, and the
        # caller must get the answers found so far all the same.
        executor.shutdown(wait=False)
    return answers


class _Reporter:
    """Calls ``progress`` about once a second while a parallel run works."""

    def __init__(self, found: Any, answers: list[Any], start: float,
                 progress: Callable[[Progress], object] | None) -> None:
        self._found = found
        self._answers = answers
        self._start = start
        self._progress = progress
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        if progress is not None:
            self._thread = threading.Thread(
                target=self._run, name="kando-progress", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        progress = self._progress
        assert progress is not None
        while not self._stopped.wait(PROGRESS_EVERY_S):
            progress(
                Progress(len(self._answers), self._found.steps,
                         time.monotonic() - self._start,
                         self._found.pending)
            )

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
