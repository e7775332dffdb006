"""Pure-Python twin of :mod:`kando_parallel._core.bucket`.

Design note.  The same GCRA state as the compiled bucket: one integer, the
theoretical arrival time ``_tat``, in fixed point (``2**FRAC_BITS`` units a
nanosecond) from the clock reading at creation; ``_interval`` rounded up so
that the bucket never admits more than ``burst + rate * T`` in a window of
length ``T``.  A ``threading.Lock`` stands in for the compare-and-swap.
The arithmetic is the compiled module's, step for step, so both give the
same answers to the same calls.  Cost: one lock round trip a call.
"""

import math
import numbers
import threading
import time
import typing

from . import _ints

# The public names are the compiled module's: nothing more is imported
# by name.
if typing.TYPE_CHECKING:
    from collections.abc import Callable

FRAC_BITS = 4
CLOSED = -1
TOO_LATE = -2

_TOLERANCE_MAX = 1 << 62
_UNITS_PER_SECOND = 1e9 * (1 << FRAC_BITS)


def _to_ns_up(fixed: int) -> int:
    return (fixed + (1 << FRAC_BITS) - 1) >> FRAC_BITS


def monotonic_ns() -> int:
    """The core's monotonic clock, in integer nanoseconds."""
    return time.monotonic_ns()


class TokenBucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` stored.

    Parameters
    ----------
    rate : float
        Tokens added per second, > 0 (tested from 0.01 to 10**7).
    burst : int
        The capacity, >= 1.  The bucket starts full.
    clock : callable, optional
        Returns the time in integer nanoseconds; the core's monotonic clock
        when omitted.  Tests pass a fake one.

    Examples
    --------
    >>> t = [0]
    >>> b = TokenBucket(2.0, 3, clock=lambda: t[0])
    >>> [b.try_acquire() for _ in range(4)]
    [True, True, True, False]
    >>> b.try_acquire_ns()
    500000000
    >>> t[0] = 500_000_000
    >>> b.try_acquire(), b.available
    (True, 0)
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: "Callable[[], int] | None" = None,
    ) -> None:
        # Typeshed does not register float as a numbers.Real; without the
        # cast mypy would take the rest of __init__ for unreachable.
        if not isinstance(typing.cast(object, rate), numbers.Real):
            raise TypeError(f"rate must be a real number, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self._clock = clock
        self._rate = float(rate)
        self._burst = _ints.as_int64(burst)
        self._lock = threading.Lock()

        rate = self._rate
        if not (math.isfinite(rate) and rate > 0.0):
            interval = None
        else:
            interval = math.ceil(_UNITS_PER_SECOND / rate)
        if interval is None or interval > _TOLERANCE_MAX // self._burst:
            raise ValueError(
                f"rate must be finite and > 0, and burst / rate at most "
                f"about 9 years; got rate={rate!r}, burst={burst!r}"
            )
        self._interval = interval
        self._tolerance = interval * self._burst
        self._origin = self._now()
        self._tat = 0

    @property
    def rate(self) -> float:
        """Tokens added per second."""
        return self._rate

    @property
    def burst(self) -> int:
        """The capacity of the bucket."""
        return self._burst

    def _now(self) -> int:
        if self._clock is None:
            return time.monotonic_ns()
        return _ints.as_int64(self._clock())

    def _check(self, n: int) -> int:
        n = _ints.as_int64(n)
        if n < 1 or n > self._burst:
            raise ValueError(
                f"n must be between 1 and the burst ({self._burst}), "
                f"got {n}: a request above the burst can never be met"
            )
        return n

    def _take(
        self, n: int, now: int, max_wait: int | None = None
    ) -> tuple[int, int]:
        at = (now - self._origin) << FRAC_BITS
        with self._lock:
            tat = self._tat
            if tat == _ints.INT64_MAX:
                return CLOSED, 0
            new = max(tat, at) + n * self._interval
            delay = 0
            if new - at > self._tolerance:
                delay = _to_ns_up(new - self._tolerance - at)
            if max_wait is None:
                if delay:
                    return delay, 0
            elif delay > max_wait:
                return TOO_LATE, 0
            self._tat = new
            return delay, new

    def now(self) -> int:
        """The bucket's clock now, in nanoseconds."""
        return self._now()

    def try_acquire(self, n: int = 1) -> bool:
        """Take ``n`` tokens if they are there; never blocks.

        Returns True when taken, False otherwise (and always once closed).
        Raises ValueError when ``n`` is not between 1 and the burst.
        """
        n = self._check(n)
        return self._take(n, self._now())[0] == 0

    def try_acquire_ns(self, n: int = 1) -> int:
        """Take ``n`` tokens, or say how long until they would be there.

        Returns 0 when taken, otherwise the delay in nanoseconds after which
        the same call would succeed (if nothing else takes them first), or
        ``CLOSED`` (-1) once the bucket is closed.
        """
        n = self._check(n)
        return self._take(n, self._now())[0]

    def reserve(
        self, n: int = 1, max_wait_ns: int = _ints.INT64_MAX
    ) -> tuple[int, int]:
        """Reserve ``n`` tokens now for use after a delay.

        Returns ``(delay_ns, ticket)``.  ``delay_ns >= 0`` is how long the
        caller must wait before using the tokens; ``TOO_LATE`` (-2) means
        the delay would exceed ``max_wait_ns`` and nothing was reserved;
        ``CLOSED`` (-1) means the bucket is closed.  Pass the ticket to
        ``cancel`` to give the tokens back.

        Examples
        --------
        >>> b = TokenBucket(0.2, 2, clock=lambda: 0)
        >>> [b.reserve()[0] // 10**9 for _ in range(4)]
        [0, 0, 5, 10]
        >>> b.reserve(1, 10**9)
        (-2, 0)
        """
        n = self._check(n)
        return self._take(n, self._now(), _ints.as_int64(max_wait_ns))

    def cancel(self, n: int, ticket: int) -> bool:
        """Give back a reservation's tokens unless later ones depend on it.

        Returns whether the tokens went back.
        """
        n = self._check(n)
        ticket = _ints.as_int64(ticket)
        with self._lock:
            if self._tat != ticket:
                return False
            self._tat = ticket - n * self._interval
            return True

    def close(self) -> None:
        """Admit nothing from now on."""
        with self._lock:
            self._tat = _ints.INT64_MAX

    @property
    def closed(self) -> bool:
        """True once ``close`` was called."""
        return self._tat == _ints.INT64_MAX

    @property
    def available(self) -> int:
        """Whole tokens available now."""
        at = (self._now() - self._origin) << FRAC_BITS
        tat = self._tat
        if tat == _ints.INT64_MAX:
            return 0
        owed = max(tat - at, 0)
        if owed >= self._tolerance:
            return 0
        return (self._tolerance - owed) // self._interval


__all__ = [
    "CLOSED",
    "FRAC_BITS",
    "TOO_LATE",
    "TokenBucket",
    "monotonic_ns",
]
