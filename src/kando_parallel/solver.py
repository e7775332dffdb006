"""Solve a query to the end, with a deadline and progress reports.

:func:`solve` is what the ``kando-parallel`` command runs: the same search
as :func:`kando_parallel.run`, stepped in slices so that it can stop at a
deadline, report progress while it works, and be interrupted with
Ctrl-C between slices.
"""

import time

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

    def __init__(self, seconds, answers):
        super().__init__(
            f"no complete result within {seconds:g} s "
            f"({len(answers)} answers found so far)"
        )
        self.seconds = seconds
        self.answers = answers


class Progress:
    """What a progress callback receives about a running search."""

    __slots__ = ("answers", "steps", "elapsed", "pending")

    def __init__(self, answers, steps, elapsed, pending):
        self.answers = answers
        self.steps = steps
        self.elapsed = elapsed
        self.pending = pending

    def __repr__(self):
        return (
            f"Progress(answers={self.answers}, steps={self.steps}, "
            f"elapsed={self.elapsed:.1f}, pending={self.pending})"
        )


def solve(query, *goals, limit=None, timeout=None, progress=None,
          occurs_check=True):
    """The answers of ``goals`` for ``query``, at most ``limit`` of them.

    ``limit`` of ``None`` or 0 means all.  ``timeout`` is in seconds;
    when it passes, :class:`SolveTimeout` is raised with the answers found
    so far.  ``progress``, if given, is called with a :class:`Progress`
    about once a second while the search runs.

    >>> from kando_parallel import var, membero
    >>> q = var()
    >>> solve(q, membero(q, [1, 2, 3]), limit=2)
    [1, 2]
    """
    limit = check_count(limit)
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number, not {timeout}")

    start = time.monotonic()
    deadline = None if timeout is None else start + timeout
    next_report = start + PROGRESS_EVERY_S
    answers = []

    with Search(query, conj(*goals), occurs_check) as search:
        while limit is None or len(answers) < limit:
            status = search.step(SLICE_STEPS)
            if status == Search.ANSWER:
                answers.append(search.answer())
            elif status == Search.EXHAUSTED:
                break

            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise SolveTimeout(timeout, answers)
            if progress is not None and now >= next_report:
                next_report = now + PROGRESS_EVERY_S
                progress(
                    Progress(len(answers), search.steps, now - start,
                             search.pending)
                )
    return answers
