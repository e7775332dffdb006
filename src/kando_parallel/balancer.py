"""Round-robin hand-out of tasks: :class:`LoadBalancer` and :class:`Worker`.

The pick is a counter modulo the number of workers, read and advanced in
one step under a lock, so concurrent submitters never skip or repeat a
worker: after ``k * n`` submits from any number of threads, each of the
``n`` workers got exactly ``k`` tasks.  The worker's ``process`` runs in
the submitting thread, outside the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from .context import background, with_timeout
from .errors import NoWorkersError

if TYPE_CHECKING:
    from .context import Context, ContextError

__all__ = ["LoadBalancer", "Worker"]


@runtime_checkable
class Worker(Protocol):
    """What :class:`LoadBalancer` hands tasks to.

    Anything with an ``id`` and a ``process(task, ctx)`` method; the
    result of ``process`` is what ``LoadBalancer.submit`` returns, and an
    exception it raises reaches the submitter.
    """

    @property
    def id(self) -> str:
        """A name for the worker, for logs and errors."""

    def process(self, task: Any, ctx: Context) -> Any:
        """Do ``task``; stop early if ``ctx`` is done."""


class LoadBalancer:
    """Hand tasks to ``workers`` in turn, starting from the first.

    Parameters
    ----------
    workers : iterable of Worker
        Fixed at construction.

    Examples
    --------
    >>> class Echo:
    ...     def __init__(self, name):
    ...         self.id = name
    ...     def process(self, task, ctx):
    ...         return f"{self.id}:{task}"
    >>> lb = LoadBalancer([Echo("a"), Echo("b")])
    >>> [lb.submit(k) for k in range(3)]
    ['a:0', 'b:1', 'a:2']
    """

    def __init__(self, workers: Iterable[Worker]) -> None:
        self._workers = tuple(workers)
        self._lock = threading.Lock()
        self._next = 0

    @property
    def workers(self) -> tuple[Worker, ...]:
        """The workers, in hand-out order."""
        return self._workers

    def next_worker(self) -> Worker:
        """Pick the worker whose turn it is, and advance the turn."""
        if not self._workers:
            raise NoWorkersError("the load balancer has no workers")
        with self._lock:
            index = self._next
            self._next = (index + 1) % len(self._workers)
        return self._workers[index]

    def submit(
        self,
        task: Any,
        ctx: Context | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Give ``task`` to the next worker; return what it returns.

        The worker gets ``ctx`` (background when None); with ``timeout``,
        a child of it that expires after that many seconds.  Raises
        :class:`~kando_parallel.errors.NoWorkersError` (a ValueError) when
        there are no workers, and the context's error when ``ctx`` is
        already done, without picking a worker.
        """
        if ctx is not None and ctx.done():
            # A done context has its error.
            err = cast("ContextError", ctx.err())
            raise type(err)(*err.args)
        worker = self.next_worker()

        if timeout is None:
            return worker.process(task, background() if ctx is None else ctx)
        with with_timeout(ctx, timeout) as child:
            return worker.process(task, child)

    def __len__(self) -> int:
        return len(self._workers)
