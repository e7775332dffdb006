# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, auto_pickle=False
"""The lock-free token bucket behind the rate limiter.

Design note.  The bucket is the generic cell rate algorithm (GCRA): the
whole mutable state is one int64, the theoretical arrival time ``tat``,
the moment at which the bucket would be full again if nothing more were
taken.  Taking ``n`` tokens at time ``now`` moves it to
``max(tat, now) + n * interval`` and is allowed when that is no more than
``now + tolerance``, where ``interval = 1 / rate`` and
``tolerance = burst * interval``.  One compare-and-swap commits a take.

Times are fixed point, ``2**KP_FRAC_BITS`` units a nanosecond, counted
from the clock reading at creation, which leaves 2**59 ns (18 years) of
range.  ``interval`` is rounded up, never down, so the bucket never admits
more than ``burst + rate * T`` tokens in any window of length ``T``; at
10**7 tokens a second the rounding costs less than 0.07 % of the rate.
A delay reported to a caller is rounded up to the next nanosecond, so
waking at it is never early.

Invariants: ``interval >= 1``; ``0 < tolerance <= 2**62``; ``tat`` only
grows, except that a cancelled reservation gives its tokens back when no
later take depends on them, and ``close`` sets it to INT64_MAX for good.

Cost: a take is one atomic load, a little integer arithmetic and one
compare-and-swap, retried only under contention.  No lock, no allocation,
no GIL.
"""

from libc.math cimport ceil, isfinite
from libc.stdint cimport INT64_MAX, int64_t

from kando_parallel._core.atomics cimport (
    kp_atomic_cas,
    kp_atomic_load,
    kp_atomic_store,
)
from kando_parallel._core.clock cimport kp_monotonic_ns
from kando_parallel._core.ints cimport as_int64

FRAC_BITS = KP_FRAC_BITS
CLOSED = KP_BUCKET_CLOSED
TOO_LATE = KP_BUCKET_TOO_LATE

cdef int64_t TOLERANCE_MAX = <int64_t>1 << 62
cdef double UNITS_PER_SECOND = 1e9 * (1 << KP_FRAC_BITS)


cdef inline int64_t to_ns_up(int64_t fixed) noexcept nogil:
    return (fixed + (1 << KP_FRAC_BITS) - 1) >> KP_FRAC_BITS


cdef int kp_bucket_init(kp_bucket *b, double rate, int64_t burst,
                        int64_t now) noexcept nogil:
    cdef double interval

    if not (isfinite(rate) and rate > 0.0) or burst < 1:
        return -1
    interval = ceil(UNITS_PER_SECOND / rate)
    if interval > <double>(TOLERANCE_MAX // burst):
        return -1

    b.interval = <int64_t>interval
    b.tolerance = b.interval * burst
    b.origin = now
    kp_atomic_store(&b.tat, 0)
    return 0


cdef int64_t kp_bucket_take(kp_bucket *b, int64_t n,
                            int64_t now) noexcept nogil:
    cdef int64_t at = (now - b.origin) << KP_FRAC_BITS
    cdef int64_t tat = kp_atomic_load(&b.tat)
    cdef int64_t new

    while True:
        if tat == INT64_MAX:
            return KP_BUCKET_CLOSED
        new = (tat if tat > at else at) + n * b.interval
        if new - at > b.tolerance:
            return to_ns_up(new - b.tolerance - at)
        if kp_atomic_cas(&b.tat, &tat, new):
            return 0


cdef int64_t kp_bucket_reserve(kp_bucket *b, int64_t n, int64_t now,
                               int64_t max_wait,
                               int64_t *ticket) noexcept nogil:
    cdef int64_t at = (now - b.origin) << KP_FRAC_BITS
    cdef int64_t tat = kp_atomic_load(&b.tat)
    cdef int64_t new
    cdef int64_t delay

    while True:
        if tat == INT64_MAX:
            return KP_BUCKET_CLOSED
        new = (tat if tat > at else at) + n * b.interval
        delay = 0
        if new - at > b.tolerance:
            delay = to_ns_up(new - b.tolerance - at)
        if delay > max_wait:
            return KP_BUCKET_TOO_LATE
        if kp_atomic_cas(&b.tat, &tat, new):
            ticket[0] = new
            return delay


cdef bint kp_bucket_cancel(kp_bucket *b, int64_t n,
                           int64_t ticket) noexcept nogil:
    cdef int64_t expected = ticket

    return kp_atomic_cas(&b.tat, &expected, ticket - n * b.interval)


cdef int64_t kp_bucket_available(kp_bucket *b, int64_t now) noexcept nogil:
    cdef int64_t at = (now - b.origin) << KP_FRAC_BITS
    cdef int64_t tat = kp_atomic_load(&b.tat)
    cdef int64_t owed

    if tat == INT64_MAX:
        return 0
    owed = tat - at if tat > at else 0
    if owed >= b.tolerance:
        return 0
    return (b.tolerance - owed) // b.interval


cdef void kp_bucket_close(kp_bucket *b) noexcept nogil:
    kp_atomic_store(&b.tat, INT64_MAX)


def monotonic_ns():
    """The core's monotonic clock, in integer nanoseconds."""
    return kp_monotonic_ns()


cdef inline int64_t now_of(TokenBucket self) except? -1:
    if self.clock is None:
        return kp_monotonic_ns()
    return self.clock()


cdef inline int64_t check_n(TokenBucket self, object n) except? -1:
    cdef int64_t k = as_int64(n)

    if k < 1 or k > self.burst:
        raise ValueError(
            f"n must be between 1 and the burst ({self.burst}), "
            f"got {k}: a request above the burst can never be met"
        )
    return k


cdef class TokenBucket:
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

    def __init__(self, double rate, burst=1, clock=None):
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.clock = clock
        self.rate = rate
        self.burst = burst
        if kp_bucket_init(&self.b, rate, self.burst, now_of(self)) != 0:
            raise ValueError(
                f"rate must be finite and > 0, and burst / rate at most "
                f"about 9 years; got rate={rate!r}, burst={burst!r}"
            )

    def now(self):
        """The bucket's clock now, in nanoseconds."""
        return now_of(self)

    def try_acquire(self, n=1):
        """Take ``n`` tokens if they are there; never blocks.

        Returns True when taken, False otherwise (and always once closed).
        Raises ValueError when ``n`` is not between 1 and the burst.
        """
        cdef int64_t k = check_n(self, n)

        return kp_bucket_take(&self.b, k, now_of(self)) == 0

    def try_acquire_ns(self, n=1):
        """Take ``n`` tokens, or say how long until they would be there.

        Returns 0 when taken, otherwise the delay in nanoseconds after which
        the same call would succeed (if nothing else takes them first), or
        ``CLOSED`` (-1) once the bucket is closed.
        """
        cdef int64_t k = check_n(self, n)

        return kp_bucket_take(&self.b, k, now_of(self))

    def reserve(self, n=1, int64_t max_wait_ns=INT64_MAX):
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
        cdef int64_t k = check_n(self, n)
        cdef int64_t ticket = 0
        cdef int64_t delay

        delay = kp_bucket_reserve(&self.b, k, now_of(self), max_wait_ns,
                                  &ticket)
        return delay, ticket

    def cancel(self, n, int64_t ticket):
        """Give back a reservation's tokens unless later ones depend on it.

        Returns whether the tokens went back.
        """
        return kp_bucket_cancel(&self.b, check_n(self, n), ticket)

    def close(self):
        """Admit nothing from now on."""
        kp_bucket_close(&self.b)

    @property
    def closed(self):
        """True once ``close`` was called."""
        return kp_atomic_load(&self.b.tat) == INT64_MAX

    @property
    def available(self):
        """Whole tokens available now."""
        return kp_bucket_available(&self.b, now_of(self))


__all__ = [
    "CLOSED",
    "FRAC_BITS",
    "TOO_LATE",
    "TokenBucket",
    "monotonic_ns",
]
