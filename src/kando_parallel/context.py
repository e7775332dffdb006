"""Cancellation and deadlines for blocking calls, after Go's context.

A context says when a piece of work should stop: when someone cancels it,
when its deadline passes, or when its parent stops.  Every blocking call of
the parallel API takes ``ctx=None`` and ``timeout=None`` and gives up with
:class:`~kando_parallel.errors.Cancelled` or
:class:`~kando_parallel.errors.DeadlineExceeded` as soon as either says so.

Design note.  A cancellable context holds a lock, an event, its error
once done, its done-callbacks and a weak set of its children.  Finishing
is one-shot: the first ``cancel``, expiry or parent finish sets the error,
the event and runs the callbacks; later ones do nothing.  A parent keeps
only weak references to its children, and a child that finishes removes
itself, so a finished child is never kept alive by its parent.  Deadlines
need no thread per context: ``done``, ``err`` and ``wait`` compare the
clock with the deadline themselves, and one shared timer thread, started
on first use, finishes expired contexts so that their callbacks run on
time.  Deadlines are ``time.monotonic()`` seconds.

Examples
--------
>>> ctx = with_timeout(background(), 10.0)
>>> ctx.done(), ctx.err()
(False, None)
>>> child = with_cancel(ctx)
>>> ctx.cancel()
>>> child.done(), type(child.err()).__name__
(True, 'Cancelled')
>>> with_timeout(background(), 0.01).wait(1.0)
True
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .errors import Cancelled, DeadlineExceeded

if TYPE_CHECKING:
    from typing_extensions import Self, TypeAlias

    # Why a context stopped; None while it runs.
    ContextError: TypeAlias = Cancelled | DeadlineExceeded
    # A done-callback: called with the context, its result ignored.
    DoneCallback: TypeAlias = Callable[["Context"], object]
    # A timer entry, [deadline, seq, weakref to the context or None]: a
    # list, so that discard() can blank the reference in place.
    _Entry: TypeAlias = list[Any]

__all__ = [
    "CancelContext",
    "Context",
    "background",
    "with_cancel",
    "with_deadline",
    "with_timeout",
]

logger = logging.getLogger("kando_parallel")
_monotonic = time.monotonic
_handles = itertools.count(1)

# The longest single sleep handed to threading.  Much longer ones (a
# timeout of 1e10 s, or infinity) overflow the C time types inside
# Lock.acquire; every wait in this package sits in a loop that checks its
# deadline again, so sleeping in slices of this length changes nothing else.
MAX_WAIT_S = 3600.0


def wait_slice(seconds: float | None) -> float | None:
    """``seconds`` capped at :data:`MAX_WAIT_S`; None stays None."""
    return None if seconds is None else min(seconds, MAX_WAIT_S)


def check_timeout(timeout: float | None, name: str = "timeout") -> float | None:
    """``timeout`` as a float, or None; TypeError or ValueError if it is
    not a number of seconds >= 0.  Infinity means no limit."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        try:
            value = float(timeout)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a number of seconds or None, "
                f"not {type(timeout).__name__}"
            ) from None
    else:
        value = float(timeout)
    if not value >= 0:  # also catches NaN
        raise ValueError(f"{name} must be >= 0 or None, got {timeout}")
    return value


class Context:
    """A context that is never done: the root of every other.

    :func:`background` returns the one instance.  Cancellable contexts are
    :class:`CancelContext` instances made by :func:`with_cancel`,
    :func:`with_timeout` and :func:`with_deadline`.
    """

    __slots__ = ("__weakref__",)

    @property
    def deadline(self) -> float | None:
        """The ``time.monotonic()`` at which the context expires, or None."""
        return None

    def done(self) -> bool:
        """True once the context is cancelled or past its deadline."""
        return False

    def err(self) -> ContextError | None:
        """None while running; then :class:`Cancelled` or
        :class:`DeadlineExceeded`, saying why it stopped."""
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done or ``timeout`` seconds pass; return ``done()``."""
        left = check_timeout(timeout)
        never = threading.Event()
        if left is None:
            while True:
                never.wait(MAX_WAIT_S)
        until = _monotonic() + left
        while left > 0:
            never.wait(wait_slice(left))
            left = until - _monotonic()
        return False

    def add_done_callback(self, fn: DoneCallback) -> int | None:
        """Call ``fn(ctx)`` once when the context is done.

        Returns a handle for :meth:`remove_done_callback`.  On a context
        that is already done, ``fn`` runs at once and the handle is None;
        on one that can never be done, ``fn`` is not kept at all.
        """
        return None

    def remove_done_callback(self, handle: int | None) -> bool:
        """Forget a callback; return whether it was still registered."""
        return False

    def __repr__(self) -> str:
        return "kando_parallel.background()"


_BACKGROUND = Context()


class CancelContext(Context):
    """A context that can be cancelled, and may have a deadline.

    Made by :func:`with_cancel`, :func:`with_timeout` or
    :func:`with_deadline`; it stops when :meth:`cancel` is called, when its
    deadline passes or when its parent stops, whichever comes first.  Used
    as a context manager it cancels itself on exit, like Go's
    ``defer cancel()``.
    """

    __slots__ = (
        "_lock",
        "_event",
        "_err",
        "_deadline",
        "_callbacks",
        "_children",
        "_parent",
        "_timer_entry",
    )

    def __init__(
        self, parent: Context | None = None, deadline: float | None = None
    ) -> None:
        parent = _BACKGROUND if parent is None else parent
        if not isinstance(parent, Context):
            raise TypeError(f"parent must be a Context, got {parent!r}")
        if deadline is not None and deadline != deadline:
            raise ValueError("a deadline must be a number, not NaN")
        if parent.deadline is not None:
            if deadline is None or parent.deadline < deadline:
                deadline = parent.deadline

        self._lock = threading.Lock()
        self._event = threading.Event()
        self._err: ContextError | None = None
        self._deadline = deadline
        self._callbacks: dict[int, DoneCallback] = {}
        self._children: weakref.WeakSet[CancelContext] = weakref.WeakSet()
        self._parent: CancelContext | None = None
        self._timer_entry: _Entry | None = None

        if isinstance(parent, CancelContext):
            if not parent._adopt(self):
                # The parent refused the child because it is done.
                self._finish(cast("ContextError", parent.err()))
                return
            self._parent = parent
        if deadline is not None:
            if _monotonic() >= deadline:
                self._expire()
            else:
                self._timer_entry = _TIMER.schedule(self)

    def _adopt(self, child: CancelContext) -> bool:
        with self._lock:
            if self._err is not None:
                return False
            self._children.add(child)
            return True

    def _expire(self) -> None:
        self._finish(DeadlineExceeded("context deadline exceeded"))

    def _finish(self, err: ContextError) -> None:
        with self._lock:
            if self._err is not None:
                return
            self._err = err
            callbacks = list(self._callbacks.values())
            children = list(self._children)
            self._callbacks.clear()
            self._children.clear()
        self._event.set()

        parent, self._parent = self._parent, None
        if parent is not None:
            with parent._lock:
                parent._children.discard(self)
        if self._timer_entry is not None:
            _TIMER.discard(self._timer_entry)
            self._timer_entry = None
        for child in children:
            child._finish(err)
        for fn in callbacks:
            _run_callback(fn, self)

    @property
    def deadline(self) -> float | None:
        """The ``time.monotonic()`` at which the context expires, or None."""
        return self._deadline

    def cancel(self) -> None:
        """Stop the context and its children; later calls do nothing."""
        self._finish(Cancelled("context cancelled"))

    def err(self) -> ContextError | None:
        """None while running; then :class:`Cancelled` or
        :class:`DeadlineExceeded`, saying why it stopped."""
        if self._err is None and self._deadline is not None:
            if _monotonic() >= self._deadline:
                self._expire()
        return self._err

    def done(self) -> bool:
        """True once the context is cancelled or past its deadline."""
        return self.err() is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done or ``timeout`` seconds pass; return ``done()``."""
        left = check_timeout(timeout)
        until = None if left is None else _monotonic() + left

        while self.err() is None:
            now = _monotonic()
            step = None
            if until is not None:
                if now >= until:
                    return False
                step = until - now
            if self._deadline is not None:
                left = max(self._deadline - now, 0.0)
                step = left if step is None else min(step, left)
            self._event.wait(wait_slice(step))
        return True

    def add_done_callback(self, fn: DoneCallback) -> int | None:
        """Call ``fn(ctx)`` once when the context is done.

        Returns a handle for :meth:`remove_done_callback`.  On a context
        that is already done, ``fn`` runs at once and the handle is None.
        """
        if self.err() is None:
            with self._lock:
                if self._err is None:
                    handle = next(_handles)
                    self._callbacks[handle] = fn
                    return handle
        _run_callback(fn, self)
        return None

    def remove_done_callback(self, handle: int | None) -> bool:
        """Forget a callback; return whether it was still registered."""
        with self._lock:
            # None, the handle of a context already done, is never a key.
            gone = self._callbacks.pop(handle, None)  # type: ignore[arg-type]
            return gone is not None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()

    def __repr__(self) -> str:
        state = "running" if self._err is None else type(self._err).__name__
        return f"<CancelContext {state} deadline={self._deadline}>"


def _run_callback(fn: DoneCallback, ctx: Context) -> None:
    try:
        fn(ctx)
    except Exception:
        logger.exception("a context done-callback raised; ignored")


class _Timer:
    """One daemon thread that expires contexts when their deadlines pass.

    Entries are ``[deadline, seq, weakref]``; a context that finishes
    early blanks its entry's reference, and blank entries are dropped when
    they reach the top of the heap or when they are more than half of it.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[_Entry] = []
        self._blank = 0
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, ctx: CancelContext) -> _Entry:
        entry = [ctx.deadline, next(self._seq), weakref.ref(ctx)]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="kando_parallel-deadlines",
                    daemon=True,
                )
                self._thread.start()
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    def discard(self, entry: _Entry) -> None:
        with self._cond:
            if entry[2] is None:
                return
            entry[2] = None
            self._blank += 1
            if self._blank > 64 and 2 * self._blank > len(self._heap):
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._blank = 0

    def _next_due(self) -> weakref.ref[CancelContext]:
        heap = self._heap
        while True:
            if heap and heap[0][2] is None:
                heapq.heappop(heap)
                self._blank -= 1
                continue
            if not heap:
                self._cond.wait()
                heap = self._heap
                continue
            delay = heap[0][0] - _monotonic()
            if delay <= 0:
                entry = heapq.heappop(heap)
                ref: weakref.ref[CancelContext] = entry[2]
                entry[2] = None
                return ref
            self._cond.wait(wait_slice(delay))
            heap = self._heap

    def _run(self) -> None:
        while True:
            with self._cond:
                ref = self._next_due()
            ctx = ref()
            if ctx is not None:
                ctx._expire()

    def _after_fork(self) -> None:
        heap = [e for e in self._heap if e[2] is not None]
        self._reset()
        for entry in heap:
            ctx = entry[2]()
            if ctx is not None and ctx._timer_entry is entry:
                ctx._timer_entry = self.schedule(ctx)


_TIMER = _Timer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_TIMER._after_fork)


def background() -> Context:
    """The context that is never cancelled and has no deadline."""
    return _BACKGROUND


def with_cancel(parent: Context | None = None) -> CancelContext:
    """A child of ``parent`` (default: background) that can be cancelled.

    Examples
    --------
    >>> ctx = with_cancel()
    >>> ctx.cancel()
    >>> ctx.done()
    True
    """
    return CancelContext(parent)


def with_deadline(parent: Context | None, deadline: float) -> CancelContext:
    """A child of ``parent`` that expires at ``deadline``.

    ``deadline`` is a ``time.monotonic()`` reading; the child expires at
    the earlier of it and its parent's deadline.
    """
    return CancelContext(parent, float(deadline))


def with_timeout(parent: Context | None, seconds: float) -> CancelContext:
    """A child of ``parent`` that expires ``seconds`` from now.

    ``seconds`` of zero or less gives a context that has already expired.
    """
    return CancelContext(parent, _monotonic() + float(seconds))


class WaitBudget:
    """The time one blocking call may take: its timeout and its context.

    Internal helper of the parallel API.  ``check`` raises the error that
    ends the call (the context's first, then the call's own timeout);
    ``remaining`` is the time left to the nearer of the two limits, or None
    for no limit; ``watch(wake)`` makes the context's finish call ``wake()``
    so that a sleeping waiter notices, until ``unwatch``.
    """

    __slots__ = ("ctx", "deadline", "timeout", "what", "_handle")

    def __init__(
        self, ctx: Context | None, timeout: float | None, what: str
    ) -> None:
        timeout = check_timeout(timeout)
        self.ctx = ctx
        self.timeout = timeout
        self.what = what
        self._handle: int | None = None
        deadline = None if timeout is None else _monotonic() + timeout
        if ctx is not None and ctx.deadline is not None:
            if deadline is None or ctx.deadline < deadline:
                deadline = ctx.deadline
        self.deadline = deadline

    def check(self) -> None:
        ctx = self.ctx
        if ctx is not None:
            err = ctx.err()
            if err is not None:
                raise type(err)(*err.args)
        if self.deadline is not None and _monotonic() >= self.deadline:
            raise DeadlineExceeded(
                f"{self.what} timed out after {self.timeout} s"
            )

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return max(self.deadline - _monotonic(), 0.0)

    def wait_time(self) -> float | None:
        """How long the next sleep may be: :meth:`remaining`, in a slice."""
        return wait_slice(self.remaining())

    def watch(self, wake: Callable[[], object]) -> None:
        if self.ctx is not None:
            self._handle = self.ctx.add_done_callback(lambda _ctx: wake())

    def unwatch(self) -> None:
        # A handle is only ever taken from a context.
        if self._handle is not None and self.ctx is not None:
            self.ctx.remove_done_callback(self._handle)
            self._handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.unwatch()
