"""Fair merging of answer streams: :class:`StreamMerger`.

Design note.  Each source gets a forwarder thread and a buffer of at most
``max_buffered`` items; the forwarder pulls from its source and blocks
while its buffer is full, so a source that never yields holds up nothing
but its own thread.  The consumer serves the sources that have an item
buffered in strict rotation, starting after the one served last, so every
source that keeps up gets the same share whatever the order it was added
in, and items of one source leave in the order they came.  When the
source whose turn it is has nothing buffered, the consumer waits for it
up to one GIL switch interval (the time a runnable thread may wait for
the interpreter) before it passes over it; a source passed over that way
is not waited for again until it produces, so a silent source costs that
wait once, not on every item.  One lock guards all buffers; a condition
on it parks the consumer, and one per source parks that source's
forwarder.

Read-ahead is bounded: at most ``max_buffered`` items per source wait in
the merger, plus the one item each forwarder holds while its buffer is
full.

Sources may be iterables (generators included), ``queue.Queue``-like
objects (anything with ``get(timeout=...)``; the item :data:`END`, or
``queue.ShutDown`` on Python 3.13+, ends them) and async iterables, each
driven on an event loop of its forwarder's own.

``close()`` stops everything: forwarders stop at their next step and close
their sources (a generator's ``finally`` blocks run; an async generator is
cancelled and closed), buffered items are dropped, and blocked readers see
the end of the stream.  A forwarder blocked inside a source's own
``__next__`` can only stop when that call returns; ``close`` waits at most
one second for the forwarders and leaves such a thread (a daemon) behind.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import sys
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ._aio import wake
from .errors import MergerClosedError

if TYPE_CHECKING:
    from typing_extensions import Self, TypeAlias

    class QueueSource(Protocol):
        """A queue-like source: ``get(timeout=...)`` or queue.Empty."""

        def get(self, *, timeout: float) -> Any: ...

    # What add_stream takes.
    Stream: TypeAlias = Iterable[Any] | AsyncIterable[Any] | QueueSource

__all__ = ["END", "StreamMerger"]

END = object()
"""Put this into a queue source to end it."""

_QUEUE_POLL = 0.05
_CLOSE_WAIT = 1.0
_GRACE = max(0.002, sys.getswitchinterval())
_QUEUE_SHUTDOWN = getattr(queue, "ShutDown", None)


class _Source:
    __slots__ = ("raw", "kind", "buffer", "space", "done", "error",
                 "lagging", "thread", "loop", "task")

    def __init__(self, raw: Any, kind: str, lock: threading.Lock) -> None:
        self.raw = raw
        self.kind = kind
        self.buffer: collections.deque[Any] = collections.deque()
        self.space = threading.Condition(lock)
        self.done = False
        self.error: BaseException | None = None
        self.lagging = False
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None


def _kind_of(source: object) -> str:
    if hasattr(source, "__aiter__"):
        return "async"
    if hasattr(source, "__iter__"):
        return "iter"
    if callable(getattr(source, "get", None)):
        return "queue"
    raise TypeError(
        "a stream must be an iterable, an async iterable or a queue with "
        f"get(timeout=...), got {type(source).__name__}"
    )


class StreamMerger:
    """Merge several streams into one, fairly, with bounded read-ahead.

    Parameters
    ----------
    max_buffered : int
        Items each source may have waiting in the merger (default 16).

    Notes
    -----
    ``output()`` (or iterating the merger) gives the merged items;
    ``output_async()`` is the same for ``async for``.  The output ends when
    every source added so far has ended (it waits while no source was
    added yet), or when the merger is closed.  An exception raised by a
    source comes out of the output at that source's place in the stream,
    once; the other sources go on.  Adding a merger that has not started
    yet adopts its sources, so nesting mergers does not shrink the share
    of the inner sources.  ``with StreamMerger() as m:`` closes on exit.

    Examples
    --------
    >>> with StreamMerger() as merger:
    ...     merger.add_stream(["a", "b", "c"])
    ...     merger.add_stream(range(3))
    ...     items = list(merger.output())
    >>> sorted(map(str, items))
    ['0', '1', '2', 'a', 'b', 'c']
    >>> [x for x in items if isinstance(x, int)]
    [0, 1, 2]
    """

    def __init__(self, max_buffered: int = 16) -> None:
        if max_buffered < 1:
            raise ValueError(f"max_buffered must be >= 1, got {max_buffered}")
        self.max_buffered = max_buffered
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._sources: list[_Source] = []
        self._turn = 0
        self._started = False
        self._closed = False
        self._interrupted = False
        self._adopted = False
        self._added = False
        self._async_readers: set[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
        ] = set()

    @property
    def buffered(self) -> int:
        """Items waiting in the merger now."""
        with self._lock:
            return sum(len(src.buffer) for src in self._sources)

    @property
    def closed(self) -> bool:
        """True once ``close`` was called."""
        return self._closed

    def add_stream(self, source: Stream) -> None:
        """Add a source; it starts being read once the output is read.

        Raises :class:`~kando_parallel.errors.MergerClosedError` after
        ``close``, and TypeError for an object that is no stream.
        """
        if isinstance(source, StreamMerger) and source._adopt_into(self):
            return
        src = _Source(source, _kind_of(source), self._lock)
        with self._lock:
            if self._closed:
                raise MergerClosedError("the stream merger is closed")
            self._sources.append(src)
            self._added = True
            if self._started:
                self._start(src)

    def _adopt_into(self, other: StreamMerger) -> bool:
        with self._lock:
            if self._started or self._closed:
                return False
            self._adopted = True
            self._closed = True
            sources, self._sources = self._sources, []
        for src in sources:
            other.add_stream(src.raw)
        return True

    def output(self) -> Iterator[Any]:
        """The merged stream, as an iterator."""
        self._begin()
        return _Output(self)

    def __iter__(self) -> Iterator[Any]:
        return self.output()

    def output_async(self) -> AsyncIterator[Any]:
        """The merged stream, as an async iterator."""
        self._begin()
        return _AsyncOutput(self)

    def _begin(self) -> None:
        with self._lock:
            if self._adopted:
                raise MergerClosedError(
                    "this merger's sources moved into another merger"
                )
            if not self._started:
                self._started = True
                for src in self._sources:
                    self._start(src)

    def _start(self, src: _Source) -> None:
        target = {
            "iter": self._forward_iterable,
            "queue": self._forward_queue,
            "async": self._forward_async,
        }[src.kind]
        src.thread = threading.Thread(
            target=target, args=(src,), daemon=True,
            name="kando_parallel-merger-forwarder",
        )
        src.thread.start()

    def _put(self, src: _Source, item: Any) -> bool:
        with self._lock:
            while len(src.buffer) >= self.max_buffered and not self._closed:
                src.space.wait()
            if self._closed:
                return False
            src.buffer.append(item)
            src.lagging = False
            self._wake_readers()
            return True

    def _finish(
        self, src: _Source, error: BaseException | None = None
    ) -> None:
        with self._lock:
            src.done = True
            src.error = error
            self._wake_readers()

    def _wake_readers(self) -> None:
        self._ready.notify_all()
        if self._async_readers:
            for loop, future in self._async_readers:
                wake(loop, future)
            self._async_readers.clear()

    def _forward_iterable(self, src: _Source) -> None:
        error: BaseException | None = None
        iterator = None
        try:
            iterator = iter(src.raw)
            for item in iterator:
                if not self._put(src, item):
                    break
        except BaseException as exc:
            error = exc
        finally:
            # A source whose close() raises still ends, with that error.
            try:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
            except BaseException as exc:
                error = error or exc
            self._finish(src, error)

    def _forward_queue(self, src: _Source) -> None:
        error: BaseException | None = None
        get = src.raw.get
        try:
            while not self._closed:
                try:
                    item = get(timeout=_QUEUE_POLL)
                except queue.Empty:
                    continue
                if item is END or not self._put(src, item):
                    break
        except BaseException as exc:
            if _QUEUE_SHUTDOWN is None or not isinstance(
                exc, _QUEUE_SHUTDOWN
            ):
                error = exc
        finally:
            self._finish(src, error)

    def _forward_async(self, src: _Source) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._pump(src, loop))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _pump(
        self, src: _Source, loop: asyncio.AbstractEventLoop
    ) -> None:
        error: BaseException | None = None
        iterator = None
        with self._lock:
            if self._closed:
                src.done = True
                return
            src.loop = loop
            src.task = asyncio.current_task()
        try:
            iterator = src.raw.__aiter__()
            async for item in iterator:
                if not self._put(src, item):
                    break
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            error = exc
        finally:
            try:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
            except BaseException as exc:
                error = error or exc
            self._finish(src, error)

    def _take(self) -> Any:
        """An item; ``_Empty`` when none is ready; a source to wait for;
        or raise at the end of the stream."""
        sources = self._sources

        for step in range(len(sources)):
            index = (self._turn + step) % len(sources)
            src = sources[index]
            if src.buffer:
                item = src.buffer.popleft()
                src.space.notify()
                self._turn = index + 1
                return item
            if not (src.done or src.lagging):
                return src

        for src in [src for src in sources if src.done]:
            sources.remove(src)
            if src.error is not None:
                error, src.error = src.error, None
                raise error
        if self._added and not sources:
            raise _End
        return _Empty

    def _next(self) -> Any:
        with self._lock:
            while True:
                if self._closed or self._interrupted:
                    raise StopIteration
                try:
                    item = self._take()
                except _End:
                    raise StopIteration from None
                if item is _Empty:
                    self._ready.wait()
                elif isinstance(item, _Source):
                    self._ready.wait_for(
                        lambda: item.buffer or item.done or self._closed,
                        _GRACE,
                    )
                    item.lagging = not (item.buffer or item.done)
                else:
                    return item

    async def _next_async(self) -> Any:
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._closed or self._interrupted:
                    raise StopAsyncIteration
                try:
                    item = self._take()
                except _End:
                    raise StopAsyncIteration from None
                if item is not _Empty and not isinstance(item, _Source):
                    return item
                future = loop.create_future()
                self._async_readers.add((loop, future))
            try:
                if item is _Empty:
                    await future
                else:
                    await asyncio.wait([future], timeout=_GRACE)
            finally:
                with self._lock:
                    self._async_readers.discard((loop, future))
                    if isinstance(item, _Source):
                        item.lagging = not (item.buffer or item.done)

    def interrupt(self) -> None:
        """End the output at once, without waiting for anything.

        Readers, including those blocked now, stop as at the end of the
        stream.  The sources and forwarders are left as they are for
        :meth:`close`, so this may be called from a callback that must not
        block.
        """
        with self._lock:
            self._interrupted = True
            self._wake_readers()

    def close(self) -> None:
        """Stop the forwarders, close the sources, end the output.

        Returns within about a second; idempotent.
        """
        with self._lock:
            already = self._closed
            self._closed = True
            sources = list(self._sources)
            for src in sources:
                src.buffer.clear()
                src.space.notify_all()
            self._ready.notify_all()
            self._wake_readers()
        if already:
            return

        for src in sources:
            # A source's task and loop are set together.
            loop = src.loop
            task = src.task
            if task is not None and loop is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:
                    pass
            if src.thread is None:
                close = getattr(src.raw, "close", None)
                if src.kind == "iter" and close is not None:
                    close()
        until = time.monotonic() + _CLOSE_WAIT
        for src in sources:
            if src.thread is not None:
                src.thread.join(max(until - time.monotonic(), 0.0))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _End(Exception):
    """Internal: the merged stream has ended."""


_Empty = object()


class _Output:
    __slots__ = ("_merger",)

    def __init__(self, merger: StreamMerger) -> None:
        self._merger = merger

    def __iter__(self) -> _Output:
        return self

    def __next__(self) -> Any:
        return self._merger._next()


class _AsyncOutput:
    __slots__ = ("_merger",)

    def __init__(self, merger: StreamMerger) -> None:
        self._merger = merger

    def __aiter__(self) -> _AsyncOutput:
        return self

    async def __anext__(self) -> Any:
        return await self._merger._next_async()
