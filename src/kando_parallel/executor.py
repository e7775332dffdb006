"""Parallel goal evaluation: :class:`ParallelExecutor` and friends.

Design note.  A parallel run shares one *frontier* of searches between a
few worker loops running on the executor's :class:`WorkerPool`.  Each loop
takes a search from the frontier and steps it in slices with the GIL
released, putting answers into a queue of its own; the queues are the
sources of a :class:`StreamMerger`, whose output is what the caller reads.
When a loop finishes a slice while another loop is idle and the frontier
is empty, it hands half of its search's pending tasks to the frontier, so
the work spreads over every worker however lopsided the search tree is.
The run ends when the frontier is empty and every loop is idle.

Backpressure bounds what is in flight: each answer produced and not yet
read adds one unit of load, and a loop whose next answer would find the
controller paused waits until the reader drains it to the low mark.  The
rate limit, when set, is a token per search a loop starts.  Cancelling the
run (its context, ``close()``, or reaching ``n`` answers) cancels every
search at its next task and closes the Python goals they suspended, and a
caller who asked for answers sees :class:`Cancelled` or
:class:`DeadlineExceeded`, never a short result passed off as complete.

Threads give parallel speed-up because the search loop runs without the
GIL.  With an executor that is not thread based (a process pool, a Dask
cluster's executor), :func:`parallel_run` instead ships the goal-building
function: every worker builds the goal itself, expands the same frontier
deterministically, and explores its own share of it.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import dataclasses
import os
import pickle
import queue
import threading
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from kando_parallel._backend import engine, terms
from kando_parallel._checks import whole_number
from kando_parallel.backpressure import BackpressureController
from kando_parallel.context import (
    CancelContext,
    Context,
    WaitBudget,
    background,
    check_timeout,
    with_cancel,
    with_timeout,
)
from kando_parallel.errors import (
    Cancelled,
    DeadlineExceeded,
    PoolShutdownError,
)
from kando_parallel.limiter import RateLimiter
from kando_parallel.merger import END, StreamMerger
from kando_parallel.pool import WorkerPool

Search = engine.Search

SLICE_STEPS = 4096
ANSWER_QUEUE = 64
PUT_POLL_S = 0.05
# How often parallel_run on a process or cluster executor looks at its
# context while the shares run, and how many steps a share takes between
# looks at its clock.
PARTITION_POLL_S = 0.1
PARTITION_SLICE_STEPS = SLICE_STEPS

__all__ = [
    "ParallelConfig",
    "ParallelExecutor",
    "ParallelSearch",
    "ParallelStream",
    "parallel_run",
]


@dataclasses.dataclass(frozen=True)
class ParallelConfig:
    """How a :class:`ParallelExecutor` evaluates goals.

    ``max_workers`` of 0 means one per CPU; ``max_queue_size`` of 0 means
    ten per worker (it sizes the backpressure controller: the run pauses
    at 80 % of it and resumes at 20 %); ``rate_limit`` of 0 means no limit,
    otherwise it is the searches started per second.

    >>> ParallelConfig(max_workers=2).workers
    2
    """

    max_workers: int = 0
    max_queue_size: int = 0
    enable_backpressure: bool = True
    rate_limit: float = 0

    def __post_init__(self) -> None:
        for name in ("max_workers", "max_queue_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {value!r}")
            if value < 0:
                raise ValueError(f"{name} must be >= 0, not {value}")
        if isinstance(self.rate_limit, bool) or not isinstance(
            self.rate_limit, (int, float)
        ):
            raise TypeError(
                f"rate_limit must be a number, not {self.rate_limit!r}"
            )
        if not self.rate_limit >= 0:
            raise ValueError(f"rate_limit must be >= 0, not {self.rate_limit}")

    @property
    def workers(self) -> int:
        """The number of workers this configuration asks for."""
        return self.max_workers or os.cpu_count() or 1

    @property
    def queue_size(self) -> int:
        """The backpressure controller's size."""
        return self.max_queue_size or 10 * self.workers


class ParallelSearch:
    """One parallel evaluation: the frontier, its loops and its output.

    Made by :meth:`ParallelExecutor.search`.  Iterate over it for answers;
    ``steps`` and ``pending`` tell how far the workers are; ``close()``
    (or leaving a ``with`` block) stops them.
    """

    def __init__(self, executor: ParallelExecutor, searches: Iterable[Any],
                 ctx: Context, substitutions: bool) -> None:
        self._executor = executor
        self._substitutions = substitutions
        self._cond = threading.Condition()
        self._frontier: collections.deque[Any] = collections.deque(searches)
        self._active = 0
        self._idle = 0
        self._finished = False
        self._running: set[Any] = set()
        self._error: BaseException | None = None
        self._merger = StreamMerger(max_buffered=ANSWER_QUEUE)
        self._output = iter(self._merger)
        self._futures: list[concurrent.futures.Future[None]] = []
        self._closed = False
        self._ctx: CancelContext = with_cancel(ctx)
        self._ctx_handle = self._ctx.add_done_callback(self._on_done)
        self._backpressure = executor._backpressure
        self._in_flight = 0
        self.steps = 0

    # -------------------------------------------------------------- start

    def start(self) -> ParallelSearch:
        pool = self._executor._pool
        loops = min(self._executor.config.workers, 64)
        outputs: list[queue.Queue[Any]] = [
            queue.Queue(ANSWER_QUEUE) for _ in range(loops)
        ]
        for out in outputs:
            self._merger.add_stream(out)
        for started, out in enumerate(outputs):
            try:
                future = pool.submit(self._loop, out)
            except BaseException:
                for unstarted in outputs[started:]:
                    unstarted.put(END)
                raise
            self._futures.append(future)
        return self

    # -------------------------------------------------------------- loops

    def _loop(self, out: queue.Queue[Any]) -> None:
        token = _CURRENT.__dict__.get("executor")
        _CURRENT.executor = self._executor
        try:
            while True:
                search = self._take()
                if search is None:
                    break
                try:
                    self._explore(search, out)
                finally:
                    with self._cond:
                        self._running.discard(search)
                    search.close()
        except (Cancelled, DeadlineExceeded) as exc:
            if not self._ctx.done():
                self._fail(exc)
        except BaseException as exc:
            self._fail(exc)
        finally:
            _CURRENT.executor = token
            self._put(out, END, force=True)

    def _take(self) -> Any:
        with self._cond:
            while not self._frontier and not self._finished:
                if self._active == 0:
                    self._finished = True
                    self._cond.notify_all()
                    break
                self._idle += 1
                self._cond.wait()
                self._idle -= 1
            if self._finished:
                return None
            search = self._frontier.popleft()
            self._active += 1
            self._running.add(search)
        limiter = self._executor._limiter
        try:
            if limiter is not None:
                limiter.wait(ctx=self._ctx)
        except BaseException:
            with self._cond:
                self._running.discard(search)
                self._active -= 1
                self._cond.notify_all()
            search.close()
            raise
        return search

    def _explore(self, search: Any, out: queue.Queue[Any]) -> None:
        try:
            while not self._ctx.done():
                before = search.steps
                status = search.step(SLICE_STEPS)
                self.steps += search.steps - before
                if status == Search.ANSWER:
                    if self._substitutions:
                        item = search.answer_substitution()
                    else:
                        item = search.answer()
                    self._emit(out, item)
                elif status == Search.BUDGET:
                    self._share(search)
                else:
                    break
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _share(self, search: Any) -> None:
        # Hand over half of the pending tasks when a loop waits for work.
        if not self._idle or self._frontier or search.pending < 2:
            return
        pieces = search.split(max(1, search.pending // 2))
        with self._cond:
            self._frontier.extend(pieces)
            self._cond.notify_all()

    def _emit(self, out: queue.Queue[Any], item: object) -> None:
        # Each answer holds one unit of load until it is read, or until
        # the run closes with it unread (see close).
        if self._backpressure is not None:
            self._backpressure.check_backpressure(ctx=self._ctx)
            with self._cond:
                self._in_flight += 1
            self._backpressure.add_load(1)
        self._put(out, item)

    def _put(self, out: queue.Queue[Any], item: object,
             force: bool = False) -> None:
        while True:
            try:
                out.put(item, timeout=PUT_POLL_S)
                return
            except queue.Full:
                if self._ctx.done() and not force:
                    raise Cancelled("the parallel run was cancelled")
                if self._closed:
                    return

    # -------------------------------------------------------------- reading

    @property
    def pending(self) -> int:
        """Tasks waiting in the frontier and in the running searches."""
        with self._cond:
            searches = list(self._frontier) + list(self._running)
        return sum(search.pending for search in searches)

    def __iter__(self) -> ParallelSearch:
        return self

    def __enter__(self) -> ParallelSearch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._executor._end(self)

    def __next__(self) -> Any:
        try:
            item = next(self._output)
        except StopIteration:
            self._raise_if_stopped()
            raise
        if self._backpressure is not None:
            with self._cond:
                self._in_flight -= 1
            self._backpressure.remove_load(1)
        return item

    def _raise_if_stopped(self) -> None:
        if self._error is not None:
            raise self._error
        err = self._ctx.err()
        if err is not None and not self._closed:
            raise type(err)(*err.args)

    # -------------------------------------------------------------- stop

    def _on_done(self, ctx: Context) -> None:
        with self._cond:
            running = list(self._running)
            self._finished = True
            self._cond.notify_all()
        for search in running:
            search.cancel()
        # The reader learns of the cancellation now, not when every loop
        # has stopped: a loop may be held up in a relation's Python code.
        self._merger.interrupt()

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            if self._error is None:
                self._error = exc
        self._ctx.cancel()

    def close(self, timeout: float = 5.0) -> None:
        """Stop every loop and wait for them (at most ``timeout`` s).

        Answers produced and never read give their load back, so the
        executor's backpressure controller starts the next run empty.
        """
        if self._closed:
            return
        self._closed = True
        self._ctx.cancel()
        self._merger.close()
        concurrent.futures.wait(self._futures, timeout=timeout)
        self._ctx.remove_done_callback(self._ctx_handle)
        with self._cond:
            leftover = list(self._frontier)
            self._frontier.clear()
            unread = self._in_flight
            self._in_flight = 0
        for search in leftover:
            search.close()
        if self._backpressure is not None and unread:
            self._backpressure.remove_load(unread)
        self._executor._forget(self)


_CURRENT = threading.local()


class ParallelExecutor:
    """Evaluate goals on a pool of workers.

    ``executor`` may be any thread-based :class:`concurrent.futures`
    executor to run on instead of a new :class:`WorkerPool`; it is not
    shut down with this executor.

    >>> from kando_parallel import var, eq, membero
    >>> q = var()
    >>> with ParallelExecutor(ParallelConfig(max_workers=2)) as ex:
    ...     sorted(ex.run(0, q, membero(q, [3, 1, 2])))
    [1, 2, 3]
    """

    def __init__(self, config: ParallelConfig | None = None, *,
                 executor: concurrent.futures.Executor | None = None
                 ) -> None:
        if config is None:
            config = ParallelConfig()
        if not isinstance(config, ParallelConfig):
            raise TypeError(
                f"config must be a ParallelConfig, not {type(config).__name__}"
            )
        if executor is not None and not _is_thread_based(executor):
            raise TypeError(
                "ParallelExecutor runs searches on threads; for a process "
                "pool or a cluster use parallel_run(n, goal_fn, "
                "executor=...), which ships the goal-building function"
            )
        self.config = config
        self._own_pool = executor is None
        if executor is None:
            executor = WorkerPool(config.workers, max_queue_size=config.workers)
        self._pool: concurrent.futures.Executor = executor
        self._backpressure = (
            BackpressureController(config.queue_size)
            if config.enable_backpressure
            else None
        )
        self._limiter = (
            RateLimiter(config.rate_limit, burst=max(1, config.workers))
            if config.rate_limit
            else None
        )
        self._lock = threading.Lock()
        # Runs not closed yet; one dropped unread leaves when it is freed.
        self._runs: weakref.WeakSet[ParallelSearch] = weakref.WeakSet()
        self._shutdown = False
        _live_executors.add(self)

    @property
    def pool(self) -> concurrent.futures.Executor:
        """The executor the searches run on."""
        return self._pool

    def _begin(self, searches: list[Any], ctx: Context | None,
               timeout: float | None,
               substitutions: bool) -> ParallelSearch:
        if ctx is None:
            ctx = background()
        timeout = check_timeout(timeout)
        if timeout is not None:
            ctx = with_timeout(ctx, timeout)
        with self._lock:
            if self._shutdown:
                for search in searches:
                    search.close()
                raise PoolShutdownError("the parallel executor is shut down")
            run = ParallelSearch(self, searches, ctx, substitutions)
            self._runs.add(run)
        try:
            return run.start()
        except BaseException:
            self._end(run)
            raise

    def _end(self, run: ParallelSearch) -> None:
        run.close()

    def _forget(self, run: ParallelSearch) -> None:
        with self._lock:
            self._runs.discard(run)

    def search(self, query: object, *goals: Any, ctx: Context | None = None,
               timeout: float | None = None,
               occurs_check: bool = True) -> ParallelSearch:
        """Start searching in parallel; the running :class:`ParallelSearch`.

        Use it in a ``with`` block, or close it, to stop the workers.
        Iterating raises :class:`Cancelled` or :class:`DeadlineExceeded`
        if ``ctx`` is cancelled or the ``timeout`` passes before the end.
        """
        search = Search(query, engine.conj(*goals), occurs_check)
        return self._begin([search], ctx, timeout, False)

    def run_iter(self, query: object, *goals: Any,
                 ctx: Context | None = None, timeout: float | None = None,
                 occurs_check: bool = True) -> Generator[Any, None, None]:
        """A lazy iterator over the answers, found in parallel.

        Closing it (or leaving a ``for`` loop early) stops the workers.
        """
        with self.search(query, *goals, ctx=ctx, timeout=timeout,
                         occurs_check=occurs_check) as found:
            yield from found

    def run(self, n: int | None, query: object, *goals: Any,
            ctx: Context | None = None, timeout: float | None = None,
            occurs_check: bool = True) -> list[Any]:
        """Like :func:`kando_parallel.run`, with the search in parallel.

        Returns exactly ``min(n, available)`` answers (all when ``n`` is 0
        or None); their order depends on the workers' timing.
        """
        count = engine.check_count(n)
        answers = self.run_iter(query, *goals, ctx=ctx, timeout=timeout,
                                occurs_check=occurs_check)
        try:
            result: list[Any] = []
            for answer in answers:
                result.append(answer)
                if count is not None and len(result) >= count:
                    break
            return result
        finally:
            answers.close()

    def parallel_disj(self, *goals: Any) -> Any:
        """A goal that holds when any of ``goals`` does, evaluated in
        parallel: each branch starts as its own search on the workers.

        Inside a search that already runs on the workers of this or any
        other executor the branches become an ordinary disjunction of that
        search, which the workers share out as they share any other
        choice; so a worker never waits for a pool, its own or one whose
        workers may in turn be waiting for it.

        >>> from kando_parallel import var, eq, run
        >>> q = var()
        >>> with ParallelExecutor(ParallelConfig(max_workers=2)) as ex:
        ...     sorted(run(0, q, ex.parallel_disj(eq(q, 1), eq(q, 2))))
        [1, 2]
        """
        for goal in goals:
            if not isinstance(goal, engine.Goal):
                raise TypeError(
                    "parallel_disj() takes goals, not "
                    f"{type(goal).__name__}"
                )
        if len(goals) < 2:
            return engine.disj(*goals)
        branches = engine.disj(*goals)

        def evaluate(state: Any) -> Any:
            if getattr(_CURRENT, "executor", None) is not None:
                return branches
            searches = [
                Search(None, goal, state=state) for goal in goals
            ]
            return self._stream(searches)

        return engine.pygoal(evaluate)

    def _stream(self, searches: list[Any]
                ) -> Generator[Any, None, None]:
        run = self._begin(searches, None, None, True)
        try:
            yield from run
        finally:
            self._end(run)

    def stream(self, query: object, *goals: Any,
               ctx: Context | None = None,
               timeout: float | None = None) -> ParallelStream:
        """The answers as a :class:`ParallelStream` on this executor."""
        return ParallelStream(
            self.run_iter(query, *goals, ctx=ctx, timeout=timeout), self
        )

    def shutdown(self, wait: bool = True, *,
                 cancel_futures: bool = False) -> None:
        """Stop every run, then shut the pool down (if this made it)."""
        with self._lock:
            self._shutdown = True
            runs = list(self._runs)
        for run in runs:
            run.close()
        if self._own_pool:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        if self._limiter is not None:
            self._limiter.close()

    def __enter__(self) -> ParallelExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


# Executors that a program forgot to shut down, and whose runs may never
# end by themselves (an infinite search left half read).  At exit their
# runs are stopped before any pool waits for its threads; threading's own
# exit hooks run before atexit's and before the standard thread pools
# join their workers, so this one is registered there when it can be.
_live_executors: weakref.WeakSet[ParallelExecutor] = weakref.WeakSet()


def _stop_live_executors() -> None:
    for executor in list(_live_executors):
        executor.shutdown(wait=False)


# Naming ThreadPoolExecutor imports its module now, so that its exit hook
# is registered before ours and so runs after it.
_THREAD_EXECUTORS = (WorkerPool, concurrent.futures.ThreadPoolExecutor)
_register_exit_hook: Callable[[Callable[[], None]], object] = getattr(
    threading, "_register_atexit", atexit.register
)
_register_exit_hook(_stop_live_executors)


def _is_thread_based(executor: concurrent.futures.Executor) -> bool:
    return isinstance(executor, _THREAD_EXECUTORS)


# ------------------------------------------------------------------ streams


class ParallelStream:
    """An iterable of items, with parallel map and filter on an executor.

    ``take(n)`` returns ``(items, has_more)``, and decides ``has_more`` by
    waiting for the next item or the end of the stream, never by a guess.

    >>> with ParallelExecutor(ParallelConfig(max_workers=2)) as ex:
    ...     stream = ParallelStream(range(5), ex).parallel_map(lambda x: x * x)
    ...     sorted(stream.collect())
    [0, 1, 4, 9, 16]
    """

    def __init__(self, source: Iterable[Any], executor: ParallelExecutor,
                 ctx: Context | None = None) -> None:
        self._source: Iterator[Any] = iter(source)
        self._executor = executor
        self._ctx = ctx
        self._peeked: collections.deque[Any] = collections.deque()
        self._ended = False

    def __iter__(self) -> ParallelStream:
        return self

    def __next__(self) -> Any:
        if self._peeked:
            return self._peeked.popleft()
        if self._ended:
            raise StopIteration
        try:
            return next(self._source)
        except StopIteration:
            self._ended = True
            raise

    def _fill(self, count: int) -> None:
        while len(self._peeked) < count and not self._ended:
            try:
                self._peeked.append(next(self._source))
            except StopIteration:
                self._ended = True

    def take(self, n: int) -> tuple[list[Any], bool]:
        """Up to ``n`` items, and whether at least one more follows."""
        count = whole_number(n, "take()'s n", 0)
        self._fill(count + 1)
        items = [self._peeked.popleft() for _ in range(
            min(count, len(self._peeked)))]
        return items, bool(self._peeked)

    def collect(self) -> list[Any]:
        """Every remaining item, as a list."""
        return list(self)

    def parallel_map(self, fn: Callable[[Any], Any]) -> ParallelStream:
        """A stream of ``fn(item)`` computed on the executor's workers.

        Results come in the order they finish.  At most the executor's
        queue size of calls are in flight; the rate limit, if any, spaces
        their starts.
        """
        return ParallelStream(self._mapped(fn, False), self._executor,
                              self._ctx)

    def parallel_filter(self, predicate: Callable[[Any], object]
                        ) -> ParallelStream:
        """A stream of the items for which ``predicate`` holds, tested in
        parallel."""
        return ParallelStream(self._mapped(predicate, True), self._executor,
                              self._ctx)

    def _mapped(self, fn: Callable[[Any], Any],
                filtering: bool) -> Generator[Any, None, None]:
        executor = self._executor
        pool = executor.pool
        limit = executor.config.queue_size
        pending: dict[concurrent.futures.Future[Any], Any] = {}
        try:
            for item in self:
                if executor._limiter is not None:
                    executor._limiter.wait(ctx=self._ctx)
                pending[pool.submit(fn, item)] = item
                if len(pending) >= limit:
                    yield from _drain(pending, filtering)
            while pending:
                yield from _drain(pending, filtering)
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Close the source, if it can be closed."""
        closer = getattr(self._source, "close", None)
        if closer is not None:
            closer()


def _drain(pending: dict[concurrent.futures.Future[Any], Any],
           filtering: bool) -> Iterator[Any]:
    done, _ = concurrent.futures.wait(
        pending, return_when=concurrent.futures.FIRST_COMPLETED
    )
    for future in done:
        item = pending.pop(future)
        result = future.result()
        if not filtering:
            yield result
        elif result:
            yield item


# ------------------------------------------------------------------ run


def parallel_run(n: int | None, goal_fn: Callable[[Any], Any],
                 config: ParallelConfig | None = None, *,
                 executor: concurrent.futures.Executor | None = None,
                 ctx: Context | None = None,
                 timeout: float | None = None) -> list[Any]:
    """Up to ``n`` values of ``q`` for which ``goal_fn(q)`` holds.

    ``goal_fn`` gets a new variable and returns a goal.  The search runs
    on a new :class:`ParallelExecutor` with ``config`` (threads), or on
    ``executor`` when given: a thread-based executor is used directly; any
    other executor (a process pool, a Dask cluster's) gets a share of the
    search per task, and then ``goal_fn`` must be picklable (a function
    defined at module level).

    >>> from kando_parallel import eq, membero
    >>> sorted(parallel_run(0, lambda q: membero(q, [2, 1])))
    [1, 2]
    """
    count = engine.check_count(n)
    if not callable(goal_fn):
        raise TypeError("parallel_run() takes a function of a variable")
    if executor is not None and not _is_thread_based(executor):
        return _run_partitioned(count, goal_fn, config, executor, ctx,
                                timeout)

    query = terms.var("q")
    goal = goal_fn(query)
    with ParallelExecutor(config, executor=executor) as parallel:
        return parallel.run(count, query, goal, ctx=ctx, timeout=timeout)


def _run_partitioned(count: int | None, goal_fn: Callable[[Any], Any],
                     config: ParallelConfig | None,
                     executor: concurrent.futures.Executor,
                     ctx: Context | None,
                     timeout: float | None) -> list[Any]:
    parts = 4 * (config or ParallelConfig()).workers
    try:
        pickle.dumps(goal_fn)
    except Exception as exc:
        raise TypeError(
            "parallel_run on a process or cluster executor needs a "
            f"picklable goal_fn (a module-level function): {exc}"
        ) from None
    with WaitBudget(ctx, timeout, "parallel_run") as budget:
        budget.check()
        # Each share gets the time left, so that a share running in another
        # process stops by itself when the run's time is up.
        futures = [
            executor.submit(solve_partition, goal_fn, index, parts, count,
                            budget.remaining())
            for index in range(parts)
        ]
        answers: list[Any] = []
        pending = set(futures)
        try:
            while pending:
                budget.check()
                wait_s = budget.wait_time()
                done, pending = concurrent.futures.wait(
                    pending,
                    timeout=PARTITION_POLL_S if wait_s is None
                    else min(wait_s, PARTITION_POLL_S),
                    return_when=concurrent.futures.FIRST_COMPLETED,
                )
                for future in done:
                    answers.extend(future.result())
                    if count is not None and len(answers) >= count:
                        return answers[:count]
        finally:
            for future in futures:
                future.cancel()
    return answers


def solve_partition(goal_fn: Callable[[Any], Any], index: int, parts: int,
                    limit: int | None = None,
                    timeout: float | None = None) -> list[Any]:
    """The answers of share ``index`` of ``parts`` of ``goal_fn``'s search.

    Every share expands the same frontier in the same way: the search is
    stepped until it holds at least ``parts`` waiting tasks or ends, and
    the answers met on the way belong to share 0.  Then task ``i`` of the
    frontier, counted from its oldest, belongs to share ``i % parts``.
    After ``timeout`` seconds the share gives up with
    :class:`~kando_parallel.errors.DeadlineExceeded`.
    """
    budget = WaitBudget(None, timeout, f"share {index} of {parts}")
    check_time = budget.check

    query = terms.var("q")
    search = Search(query, goal_fn(query))
    answers: list[Any] = []
    with search:
        while search.pending < parts:
            status = search.step(64)
            if status == Search.ANSWER:
                if index == 0:
                    answers.append(search.answer())
            elif status == Search.EXHAUSTED:
                return answers
            check_time()
        pieces = search.split(search.pending)
    mine = [piece for number, piece in enumerate(pieces)
            if number % parts == index]
    for piece in pieces:
        if piece not in mine:
            piece.close()
    try:
        for piece in mine:
            while True:
                status = piece.step(PARTITION_SLICE_STEPS)
                if status == Search.ANSWER:
                    answers.append(piece.answer())
                    if limit is not None and len(answers) >= limit:
                        return answers
                elif status == Search.EXHAUSTED:
                    break
                check_time()
    finally:
        for piece in mine:
            piece.close()
    return answers
