"""Waking asyncio waiters from any thread.

The primitives change state on plain threads; a coroutine waiting for such
a change parks on a future of its own event loop, and the thread that
makes the change resolves that future through the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

__all__ = ["wake"]


def wake(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]
) -> None:
    """Resolve ``future`` with None on ``loop``; callable from any thread.

    Does nothing once the future is done, or once its loop is closed (then
    nobody can be waiting on it any more).
    """
    try:
        loop.call_soon_threadsafe(_resolve, future)
    except RuntimeError:
        if not loop.is_closed():
            raise


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
