"""The errors of the parallel API.

Every blocking call of the package raises one of two errors when it gives
up: :class:`Cancelled` when its context was cancelled, and
:class:`DeadlineExceeded` (a :class:`TimeoutError`) when its timeout or its
context's deadline passed.  The shutdown errors are :class:`RuntimeError`
subclasses, as the standard executors raise for a closed pool; the Go
names of the seed are aliases.

Examples
--------
>>> issubclass(DeadlineExceeded, TimeoutError)
True
>>> ErrPoolShutdown is PoolShutdownError
True
"""

import concurrent.futures

__all__ = [
    "Cancelled",
    "DeadlineExceeded",
    "ErrLimiterShutdown",
    "ErrPoolShutdown",
    "LimiterShutdownError",
    "MergerClosedError",
    "NoWorkersError",
    "PoolShutdownError",
]


class PoolShutdownError(RuntimeError):
    """A task was submitted to a :class:`WorkerPool` that is shut down."""


class LimiterShutdownError(RuntimeError):
    """A :class:`RateLimiter` was waited on after, or while, it closed."""


class MergerClosedError(RuntimeError):
    """A stream was added to a :class:`StreamMerger` that is closed."""


class Cancelled(concurrent.futures.CancelledError):
    """The context of a blocking call was cancelled.

    A subclass of :class:`concurrent.futures.CancelledError`, so code that
    already handles a cancelled future handles this too.
    """


class DeadlineExceeded(TimeoutError):
    """A blocking call's timeout, or its context's deadline, passed."""


class NoWorkersError(ValueError):
    """A task was submitted to a :class:`LoadBalancer` with no workers."""


ErrPoolShutdown = PoolShutdownError
ErrLimiterShutdown = LimiterShutdownError
